#include "process/run_capture.h"

#include <poll.h>
#include <signal.h>
#include <sys/wait.h>

#include <cerrno>

#include <fmt/format.h>

#include "process/exit_info.h"
#include "process/spawn.h"

namespace snakepit::internal {

Result<std::string> run_capture(const std::vector<std::string>& argv, std::chrono::milliseconds timeout,
                                std::size_t max_output) {
  auto path = resolve_executable(argv.at(0));
  if (!path.ok()) return path.status();
  SpawnSpec spec;
  spec.executable = *path;
  spec.argv = argv;
  spec.env = build_environment({});
  spec.protocol_on_stdio = true;  // stdout comes back on from_child
  auto child = spawn_process(spec);
  if (!child.ok()) return child.status();
  child->to_child.reset();  // stdin: immediate EOF

  std::string output;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  Status error;
  while (true) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      error = deadline_exceeded(fmt::format("'{}' did not finish within {} ms", argv[0], timeout.count()));
      break;
    }
    pollfd pfd{child->from_child.get(), POLLIN, 0};
    const int ready = ::poll(&pfd, 1, static_cast<int>(left.count()));
    if (ready < 0 && errno == EINTR) continue;
    if (ready <= 0) continue;
    char buf[4096];
    const ssize_t n = ::read(child->from_child.get(), buf, sizeof buf);
    if (n > 0) {
      output.append(buf, static_cast<std::size_t>(n));
      if (output.size() > max_output) {
        error = resource_exhausted(fmt::format("'{}' printed more than {} bytes", argv[0], max_output));
        break;
      }
    } else if (n == 0 || errno != EAGAIN) {
      break;
    }
  }
  if (!error.ok()) signal_group(child->pid, SIGKILL);
  int status = 0;
  while (::waitpid(child->pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (!error.ok()) return error;
  const ExitInfo exit = ExitInfo::from_wait_status(status);
  if (!exit.clean()) return unavailable(fmt::format("'{}' {}", argv[0], exit.describe()));
  return output;
}

}  // namespace snakepit::internal
