// Starting a worker process, done once and carefully (reproc/folly style):
// every descriptor O_CLOEXEC, exec errors reported through an error pipe,
// signal mask and dispositions reset in the child, every other fd closed,
// the child leads its own process group and gets SIGKILL if the spawning
// thread dies (PR_SET_PDEATHSIG). Blocking (fork + exec): call it off the
// event loop (Launcher does).
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

#include "process/unique_fd.h"
#include "snakepit/status.h"

namespace snakepit::internal {

struct SpawnSpec {
  std::string executable;          // absolute path (see resolve_executable)
  std::vector<std::string> argv;   // argv[0] included
  std::vector<std::string> env;    // "KEY=VALUE", the whole environment
  std::string working_dir;         // empty: inherit
  bool protocol_on_stdio = false;  // snakepit-v0: protocol on stdin/stdout
  int pipe_size = 1 << 20;         // F_SETPIPE_SZ for the protocol pipes (best effort)
  int cpu = -1;                    // >= 0: the child runs on this CPU only (sched_setaffinity)
};

// Descriptors the host keeps. Protocol pipes are non-blocking on the host side.
struct ChildProcess {
  pid_t pid = -1;          // also the process group id
  UniqueFd pidfd;          // readable when the child exits; invalid if the kernel lacks pidfd
  UniqueFd to_child;       // protocol, host writes
  UniqueFd from_child;     // protocol, host reads
  UniqueFd stdout_fd;      // the child's stdout (invalid when protocol_on_stdio)
  UniqueFd stderr_fd;      // the child's stderr
};

// Errors: NotFound (no such program), FailedPrecondition (not executable),
// ResourceExhausted (fds, processes), Internal.
Result<ChildProcess> spawn_process(const SpawnSpec& spec);

// Resolves a program name against PATH (names with '/' are checked as is).
// Errors: NotFound, FailedPrecondition (exists but not executable).
Result<std::string> resolve_executable(const std::string& name);

// The current environment as "KEY=VALUE" strings, with `overrides` applied.
std::vector<std::string> build_environment(const std::vector<std::pair<std::string, std::string>>& overrides);

}  // namespace snakepit::internal
