#include "program_probe.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fmt/format.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>

extern char** environ;

namespace snakepit::cli {
namespace {

constexpr std::size_t kMaxOutput = 1 << 20;

// Ok for an executable regular file; the Status says what is wrong otherwise.
Status check_executable(const std::string& path) {
  struct stat info {};
  if (::stat(path.c_str(), &info) != 0) {
    const int err = errno;
    return Status(err == ENOENT || err == ENOTDIR ? Code::kNotFound : Code::kFailedPrecondition,
                  fmt::format("{}: {}", path, std::strerror(err)));
  }
  if (!S_ISREG(info.st_mode)) return failed_precondition(fmt::format("{}: not a regular file", path));
  if (::access(path.c_str(), X_OK) != 0) return failed_precondition(fmt::format("{}: not executable", path));
  return {};
}

// The environment with `env` applied, as "KEY=VALUE" strings.
std::vector<std::string> environment_with(const std::vector<std::pair<std::string, std::string>>& env) {
  std::vector<std::string> entries;
  for (char** entry = environ; entry != nullptr && *entry != nullptr; ++entry) {
    const std::string text = *entry;
    const std::string key = text.substr(0, text.find('='));
    bool replaced = false;
    for (const auto& [name, value] : env) replaced = replaced || name == key;
    if (!replaced) entries.push_back(text);
  }
  for (const auto& [name, value] : env) entries.push_back(name + "=" + value);
  return entries;
}

}  // namespace

Result<std::string> find_program(const std::string& name) {
  if (name.empty()) return not_found("empty program name");
  if (name.find('/') != std::string::npos) {
    Status status = check_executable(name);
    if (!status.ok()) return status;
    return name;
  }
  const char* path_env = std::getenv("PATH");
  const std::string path = path_env != nullptr ? path_env : "/usr/local/bin:/usr/bin:/bin";
  Status first_problem;  // a match that is not executable, reported if nothing better turns up
  for (std::size_t begin = 0; begin <= path.size();) {
    std::size_t end = path.find(':', begin);
    if (end == std::string::npos) end = path.size();
    const std::string dir = end > begin ? path.substr(begin, end - begin) : ".";
    const std::string candidate = dir + "/" + name;
    Status status = check_executable(candidate);
    if (status.ok()) return candidate;
    if (status.code() != Code::kNotFound && first_problem.ok()) first_problem = status;
    begin = end + 1;
  }
  if (!first_problem.ok()) return first_problem;
  return not_found(fmt::format("{}: not found in PATH", name), Json{{"path", path}});
}

Result<ProgramRun> run_program(const std::vector<std::string>& argv,
                               const std::vector<std::pair<std::string, std::string>>& env,
                               std::chrono::milliseconds timeout, const std::string& working_dir,
                               Stderr stderr_mode) {
  if (argv.empty()) return not_found("no program to run");
  Status executable = check_executable(argv.front());
  if (!executable.ok()) return executable;
  int out[2];
  if (::pipe2(out, O_CLOEXEC) != 0) return failed_precondition(fmt::format("pipe: {}", std::strerror(errno)));

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, out[1], 1);
  if (stderr_mode == Stderr::kCapture) posix_spawn_file_actions_adddup2(&actions, out[1], 2);
  if (!working_dir.empty()) posix_spawn_file_actions_addchdir_np(&actions, working_dir.c_str());
  // The CLI blocks SIGINT/SIGTERM for its signal thread; the child must not inherit that.
  posix_spawnattr_t attributes;
  posix_spawnattr_init(&attributes);
  sigset_t none;
  sigemptyset(&none);
  posix_spawnattr_setsigmask(&attributes, &none);
  sigset_t defaults;
  sigemptyset(&defaults);
  sigaddset(&defaults, SIGPIPE);
  sigaddset(&defaults, SIGINT);
  sigaddset(&defaults, SIGTERM);
  posix_spawnattr_setsigdefault(&attributes, &defaults);
  posix_spawnattr_setflags(&attributes, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);

  std::vector<std::string> env_entries = environment_with(env);
  std::vector<char*> envp;
  for (auto& entry : env_entries) envp.push_back(entry.data());
  envp.push_back(nullptr);
  std::vector<std::string> args = argv;
  std::vector<char*> argp;
  for (auto& arg : args) argp.push_back(arg.data());
  argp.push_back(nullptr);

  pid_t pid = -1;
  const int spawned = ::posix_spawn(&pid, args.front().c_str(), &actions, &attributes, argp.data(), envp.data());
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attributes);
  ::close(out[1]);
  if (spawned != 0) {
    ::close(out[0]);
    return failed_precondition(fmt::format("{}: {}", argv.front(), std::strerror(spawned)));
  }

  ProgramRun run;
  bool timed_out = false;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (true) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      timed_out = true;
      break;
    }
    pollfd ready{out[0], POLLIN, 0};
    const int polled = ::poll(&ready, 1, static_cast<int>(left.count()));
    if (polled < 0 && errno == EINTR) continue;
    if (polled <= 0) continue;
    char buffer[4096];
    const ssize_t n = ::read(out[0], buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;  // end of output: the program (and anything it started) closed it
    if (run.output.size() < kMaxOutput) {
      run.output.append(buffer, std::min(static_cast<std::size_t>(n), kMaxOutput - run.output.size()));
    }
  }
  ::close(out[0]);
  if (timed_out) ::kill(pid, SIGKILL);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (timed_out) {
    return deadline_exceeded(fmt::format("{} did not finish within {} ms", argv.front(), timeout.count()));
  }
  run.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return run;
}

}  // namespace snakepit::cli
