// How a process ended, for errors, stats and logs.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>

#include "snakepit/json.h"

namespace snakepit::internal {

struct ExitInfo {
  bool signaled = false;
  int code = 0;    // exit code when !signaled
  int signal = 0;  // terminating signal when signaled
  // Set by classify_oom: the SIGKILL came from the kernel's OOM killer, judged
  // by the cgroup's oom_kill count going from oom_kills_before to
  // oom_kills_after (both 0 unless oom_killed).
  bool oom_killed = false;
  std::uint64_t oom_kills_before = 0;
  std::uint64_t oom_kills_after = 0;

  static ExitInfo from_wait_status(int status);
  bool clean() const { return !signaled && code == 0; }

  // Marks a SIGKILL exit as an OOM kill when the cgroup's oom_kill count
  // (read_oom_kill_count(), process/oom_counter.h) grew from `oom_before`,
  // read before the process started, to `oom_after`, read after it exited.
  // Changes nothing when the exit was not SIGKILL, either count is nullopt
  // (counter unavailable) or the count did not grow. The count is the whole
  // cgroup's: a process SIGKILLed by someone else while another process of
  // the cgroup was OOM-killed is marked too.
  // REQUIRES: the caller did not send the SIGKILL itself (only it knows).
  void classify_oom(std::optional<std::uint64_t> oom_before, std::optional<std::uint64_t> oom_after);

  // "exited with code 3", "killed by SIGKILL", "was killed by the kernel's
  // OOM killer (SIGKILL; cgroup memory.events oom_kill went from 0 to 1)"
  std::string describe() const;
  // Short key for restart-reason counters: "exit_code:3", "signal:SIGKILL",
  // "oom_killed".
  std::string reason() const;
  // {"exit_code": 3}, {"signal": 9, "signal_name": "SIGKILL"}, the latter
  // with "oom_killed": true when oom_killed.
  Json to_json() const;
};

// Reaps `pid` if it has exited; nullopt-like: returns false while it runs.
bool try_reap(pid_t pid, ExitInfo& info);

// kill(-pgid, sig), ignoring a group that is already gone.
void signal_group(pid_t pgid, int sig);

}  // namespace snakepit::internal
