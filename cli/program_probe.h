// Shell-free runs of programs for `snakepit doctor` and `snakepit bench`:
// where PATH finds a program, and what it prints when run (`python3
// --version`, a benchmark tool's JSON lines).
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
  std::string output;  // stdout (and stderr, unless it passes through), cut at 1 MiB
};

// What the program's stderr does: joins stdout in ProgramRun::output, or
// goes to this process's stderr (a tool explaining its failure).
enum class Stderr { kCapture, kPassThrough };

// Runs argv (argv[0] a path) with `env` added to this process's
// environment, in `working_dir` (empty: this process's), stdin empty, and
// waits at most `timeout` (then SIGKILL). Errors: NotFound /
// FailedPrecondition (cannot be started), DeadlineExceeded.
Result<ProgramRun> run_program(const std::vector<std::string>& argv,
                               const std::vector<std::pair<std::string, std::string>>& env,
                               std::chrono::milliseconds timeout, const std::string& working_dir = {},
                               Stderr stderr_mode = Stderr::kCapture);

}  // namespace snakepit::cli
