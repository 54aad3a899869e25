// Small, shell-free probes of programs for `snakepit doctor`: where PATH
// finds a program, and what it prints when run briefly (`python3 --version`).
#pragma once

#include <chrono>
#include <string>
#include <utility>
#include <vector>

#include "snakepit/status.h"

namespace snakepit::cli {

// The path of an executable regular file: `name` itself when it has a '/',
// else the first match in $PATH (as execvp would search it, but without
// running anything). Errors: NotFound, FailedPrecondition (exists but is
// not an executable file).
Result<std::string> find_program(const std::string& name);

struct ProgramRun {
  int exit_code = 0;   // -1 when killed by a signal
  std::string output;  // stdout and stderr together, cut at 64 KiB
};

// Runs argv (argv[0] a path) with `env` added to this process's
// environment, in `working_dir` (empty: this process's), stdin empty, and
// waits at most `timeout` (then SIGKILL). Errors: NotFound /
// FailedPrecondition (cannot be started), DeadlineExceeded.
Result<ProgramRun> run_program(const std::vector<std::string>& argv,
                               const std::vector<std::pair<std::string, std::string>>& env,
                               std::chrono::milliseconds timeout, const std::string& working_dir = {});

}  // namespace snakepit::cli
