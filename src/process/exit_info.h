// How a process ended, for errors, stats and logs.
#pragma once

#include <sys/types.h>

#include <string>

#include "snakepit/json.h"

namespace snakepit::internal {

struct ExitInfo {
  bool signaled = false;
  int code = 0;    // exit code when !signaled
  int signal = 0;  // terminating signal when signaled

  static ExitInfo from_wait_status(int status);
  bool clean() const { return !signaled && code == 0; }
  // "exited with code 3", "killed by SIGKILL"
  std::string describe() const;
  // Short key for restart-reason counters: "exit_code:3", "signal:SIGKILL".
  std::string reason() const;
  Json to_json() const;  // {"exit_code": 3} or {"signal": 9, "signal_name": "SIGKILL"}
};

// Reaps `pid` if it has exited; nullopt-like: returns false while it runs.
bool try_reap(pid_t pid, ExitInfo& info);

// kill(-pgid, sig), ignoring a group that is already gone.
void signal_group(pid_t pgid, int sig);

}  // namespace snakepit::internal
