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

std::string ExitInfo::describe() const {
  return signaled ? fmt::format("killed by {}", signal_name(signal)) : fmt::format("exited with code {}", code);
}

std::string ExitInfo::reason() const {
  return signaled ? fmt::format("signal:{}", signal_name(signal)) : fmt::format("exit_code:{}", code);
}

Json ExitInfo::to_json() const {
  if (signaled) return {{"signal", signal}, {"signal_name", signal_name(signal)}};
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
