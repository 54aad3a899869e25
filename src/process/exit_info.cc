#include "process/exit_info.h"

#include <signal.h>
#include <sys/wait.h>

#include <cerrno>
#include <cstring>

#include <fmt/format.h>

namespace snakepit::internal {
namespace {

std::string signal_name(int sig) {
  if (const char* abbrev = ::sigabbrev_np(sig)) return fmt::format("SIG{}", abbrev);
  return fmt::format("signal {}", sig);
}

}  // namespace

ExitInfo ExitInfo::from_wait_status(int status) {
  ExitInfo info;
  if (WIFSIGNALED(status)) {
    info.signaled = true;
    info.signal = WTERMSIG(status);
  } else if (WIFEXITED(status)) {
    info.code = WEXITSTATUS(status);
  }
  return info;
}

void ExitInfo::classify_oom(std::optional<std::uint64_t> oom_before, std::optional<std::uint64_t> oom_after) {
  if (!signaled || signal != SIGKILL || !oom_before || !oom_after || *oom_after <= *oom_before) return;
  oom_killed = true;
  oom_kills_before = *oom_before;
  oom_kills_after = *oom_after;
}

std::string ExitInfo::describe() const {
  if (oom_killed) {
    return fmt::format(
        "was killed by the kernel's OOM killer ({}; cgroup memory.events oom_kill went from {} to {})",
        signal_name(signal), oom_kills_before, oom_kills_after);
  }
  return signaled ? fmt::format("killed by {}", signal_name(signal)) : fmt::format("exited with code {}", code);
}

std::string ExitInfo::reason() const {
  if (oom_killed) return "oom_killed";
  return signaled ? fmt::format("signal:{}", signal_name(signal)) : fmt::format("exit_code:{}", code);
}

Json ExitInfo::to_json() const {
  if (signaled) {
    Json json{{"signal", signal}, {"signal_name", signal_name(signal)}};
    if (oom_killed) json["oom_killed"] = true;
    return json;
  }
  return {{"exit_code", code}};
}

bool try_reap(pid_t pid, ExitInfo& info) {
  int status = 0;
  pid_t r;
  do {
    r = ::waitpid(pid, &status, WNOHANG);
  } while (r < 0 && errno == EINTR);
  if (r == pid) {
    info = ExitInfo::from_wait_status(status);
    return true;
  }
  if (r < 0 && errno == ECHILD) {  // reaped elsewhere: nothing more to learn
    info = ExitInfo{};
    return true;
  }
  return false;
}

void signal_group(pid_t pgid, int sig) {
  if (pgid > 0) ::kill(-pgid, sig);
}

}  // namespace snakepit::internal
