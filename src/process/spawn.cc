#include "process/spawn.h"

#include <fcntl.h>
#include <linux/close_range.h>
#include <sched.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <map>

#include <fmt/format.h>

#include "base/errno_status.h"

extern char** environ;

namespace snakepit::internal {
namespace {

struct PipePair {
  UniqueFd read;
  UniqueFd write;
};

Result<PipePair> make_pipe() {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) return errno_status("pipe2", errno);
  return PipePair{UniqueFd(fds[0]), UniqueFd(fds[1])};
}

void set_nonblocking(int fd) { ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK); }

// Child side, between fork and exec: async-signal-safe calls only.
[[noreturn]] void child_fail(int error_fd, int err) {
  while (::write(error_fd, &err, sizeof err) < 0 && errno == EINTR) {
  }
  ::_exit(127);
}

struct ChildPlan {
  int targets[5];  // source fd for child fds 0..4, -1: none
  int error_fd;
  pid_t parent;
  const char* path;
  char* const* argv;
  char* const* envp;
  const char* working_dir;
  const cpu_set_t* cpus;  // null: inherit the host's
};

[[noreturn]] void run_child(const ChildPlan& plan) {
  // The error pipe goes above the fds being set up so nothing clobbers it.
  int error_fd = ::fcntl(plan.error_fd, F_DUPFD_CLOEXEC, 10);
  if (error_fd < 0) child_fail(plan.error_fd, errno);
  // A fresh signal state: default dispositions, then nothing blocked (in
  // that order: signals arrive blocked, and a handler of the host must never
  // run here).
  struct sigaction dfl {};
  dfl.sa_handler = SIG_DFL;
  for (int sig = 1; sig < NSIG; ++sig) {
    if (sig != SIGKILL && sig != SIGSTOP) ::sigaction(sig, &dfl, nullptr);
  }
  sigset_t none;
  ::sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
  if (::setpgid(0, 0) != 0) child_fail(error_fd, errno);
  if (::prctl(PR_SET_PDEATHSIG, SIGKILL) != 0) child_fail(error_fd, errno);
  if (::getppid() != plan.parent) ::_exit(126);  // the host died before prctl took effect

  // Move sources above the target range first so dup2 never clobbers one.
  int moved[5];
  for (int i = 0; i < 5; ++i) {
    moved[i] = -1;
    if (plan.targets[i] < 0) continue;
    moved[i] = ::fcntl(plan.targets[i], F_DUPFD_CLOEXEC, 10);
    if (moved[i] < 0) child_fail(error_fd, errno);
  }
  for (int i = 0; i < 5; ++i) {
    if (moved[i] >= 0 && ::dup2(moved[i], i) < 0) child_fail(error_fd, errno);
  }
  // Everything else closes at exec: fds below 10 now, the rest by flag.
  const int first_free = plan.targets[3] >= 0 ? 5 : 3;
  for (int fd = first_free; fd < 10; ++fd) ::close(fd);
  if (::syscall(SYS_close_range, 10u, ~0u, CLOSE_RANGE_CLOEXEC) != 0) {
    for (int fd = 10; fd < 4096; ++fd) ::fcntl(fd, F_SETFD, FD_CLOEXEC);
  }
  if (plan.working_dir != nullptr && ::chdir(plan.working_dir) != 0) child_fail(error_fd, errno);
  if (plan.cpus != nullptr && ::sched_setaffinity(0, sizeof(cpu_set_t), plan.cpus) != 0) child_fail(error_fd, errno);
  ::execve(plan.path, plan.argv, plan.envp);
  child_fail(error_fd, errno);
}

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define SNAKEPIT_SPAWN_WITH_FORK 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define SNAKEPIT_SPAWN_WITH_FORK 1
#endif
#endif

// Starts the child running run_child(plan); returns its pid, or -1 (errno).
// The child shares the host's memory on a stack of its own until it execs,
// and the calling thread waits until then (CLONE_VM | CLONE_VFORK, as
// posix_spawn does, which cannot set PR_SET_PDEATHSIG). A fork() of a busy,
// multi-threaded host copies its page tables, and every later write to a
// shared page is a copy-on-write fault with TLB shootdowns on every CPU:
// milliseconds of host CPU per worker. Sanitizer builds fork, because the
// child would run instrumented code on a stack their runtimes do not know.
pid_t start_child(const ChildPlan& plan) {
  // Every signal stays blocked across the clone; the child resets the
  // handlers before it unblocks them.
  sigset_t all;
  sigset_t previous;
  ::sigfillset(&all);
  ::pthread_sigmask(SIG_SETMASK, &all, &previous);
#ifdef SNAKEPIT_SPAWN_WITH_FORK
  const pid_t pid = ::fork();
  if (pid == 0) run_child(plan);
#else
  constexpr std::size_t kChildStack = 64 * 1024;
  void* stack = ::mmap(nullptr, kChildStack, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
  pid_t pid = -1;
  if (stack != MAP_FAILED) {
    auto entry = [](void* arg) -> int { run_child(*static_cast<const ChildPlan*>(arg)); };
    pid = ::clone(entry, static_cast<char*>(stack) + kChildStack, CLONE_VM | CLONE_VFORK | SIGCHLD,
                  const_cast<ChildPlan*>(&plan));
  }
#endif
  const int error = errno;
#ifndef SNAKEPIT_SPAWN_WITH_FORK
  if (stack != MAP_FAILED) ::munmap(stack, kChildStack);  // the child has exec'd or exited
#endif
  ::pthread_sigmask(SIG_SETMASK, &previous, nullptr);
  errno = error;
  return pid;
}

std::vector<char*> c_strings(const std::vector<std::string>& strings) {
  std::vector<char*> out;
  out.reserve(strings.size() + 1);
  for (const auto& s : strings) out.push_back(const_cast<char*>(s.c_str()));
  out.push_back(nullptr);
  return out;
}

}  // namespace

Result<std::string> resolve_executable(const std::string& name) {
  if (name.empty()) return invalid_argument("empty executable name");
  auto check = [](const std::string& path) -> Status {
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0) return errno_status(fmt::format("executable '{}'", path), errno);
    if (!S_ISREG(st.st_mode) || ::access(path.c_str(), X_OK) != 0) {
      return failed_precondition(fmt::format("'{}' is not an executable file", path));
    }
    return {};
  };
  if (name.find('/') != std::string::npos) {
    if (auto status = check(name); !status.ok()) return status;
    return name;
  }
  const char* path_env = std::getenv("PATH");
  std::string_view dirs = path_env != nullptr ? path_env : "/usr/local/bin:/usr/bin:/bin";
  while (true) {
    const auto colon = dirs.find(':');
    std::string dir(dirs.substr(0, colon));
    if (!dir.empty()) {
      std::string candidate = dir + "/" + name;
      if (check(candidate).ok()) return candidate;
    }
    if (colon == std::string_view::npos) break;
    dirs.remove_prefix(colon + 1);
  }
  return not_found(fmt::format("executable '{}' not found in PATH", name), Json{{"executable", name}});
}

std::vector<std::string> build_environment(const std::vector<std::pair<std::string, std::string>>& overrides) {
  std::map<std::string, std::string> merged;
  for (char** entry = environ; entry != nullptr && *entry != nullptr; ++entry) {
    std::string_view kv(*entry);
    const auto eq = kv.find('=');
    if (eq == std::string_view::npos) continue;
    merged[std::string(kv.substr(0, eq))] = std::string(kv.substr(eq + 1));
  }
  for (const auto& [key, value] : overrides) merged[key] = value;
  std::vector<std::string> out;
  out.reserve(merged.size());
  for (const auto& [key, value] : merged) out.push_back(key + "=" + value);
  return out;
}

Result<ChildProcess> spawn_process(const SpawnSpec& spec) {
  auto to_child = make_pipe();
  auto from_child = make_pipe();
  auto err_out = make_pipe();
  auto error_pipe = make_pipe();
  if (!to_child.ok()) return to_child.status();
  if (!from_child.ok()) return from_child.status();
  if (!err_out.ok()) return err_out.status();
  if (!error_pipe.ok()) return error_pipe.status();
  Result<PipePair> std_out = PipePair{};
  if (!spec.protocol_on_stdio) std_out = make_pipe();
  if (!std_out.ok()) return std_out.status();
  UniqueFd dev_null(::open("/dev/null", O_RDONLY | O_CLOEXEC));
  if (!dev_null.valid()) return errno_status("open /dev/null", errno);

  for (int fd : {to_child->write.get(), from_child->read.get()}) {
    ::fcntl(fd, F_SETPIPE_SZ, spec.pipe_size);  // best effort: may exceed pipe-max-size
  }

  ChildPlan plan{};
  if (spec.protocol_on_stdio) {
    plan.targets[0] = to_child->read.get();
    plan.targets[1] = from_child->write.get();
    plan.targets[3] = -1;
    plan.targets[4] = -1;
  } else {
    plan.targets[0] = dev_null.get();
    plan.targets[1] = std_out->write.get();
    plan.targets[3] = to_child->read.get();
    plan.targets[4] = from_child->write.get();
  }
  plan.targets[2] = err_out->write.get();
  plan.error_fd = error_pipe->write.get();
  plan.parent = ::getpid();
  plan.path = spec.executable.c_str();
  auto argv = c_strings(spec.argv);
  auto envp = c_strings(spec.env);
  plan.argv = argv.data();
  plan.envp = envp.data();
  plan.working_dir = spec.working_dir.empty() ? nullptr : spec.working_dir.c_str();
  cpu_set_t cpus;
  CPU_ZERO(&cpus);
  if (spec.cpu >= 0 && spec.cpu < CPU_SETSIZE) CPU_SET(spec.cpu, &cpus);
  plan.cpus = spec.cpu >= 0 ? &cpus : nullptr;

  const pid_t pid = start_child(plan);
  if (pid < 0) return errno_status("clone", errno);

  ::setpgid(pid, pid);  // also from the parent: no window where signals miss the group
  error_pipe->write.reset();
  int child_errno = 0;
  ssize_t n;
  do {
    n = ::read(error_pipe->read.get(), &child_errno, sizeof child_errno);
  } while (n < 0 && errno == EINTR);
  if (n > 0) {
    int ignored;
    ::waitpid(pid, &ignored, 0);
    return errno_status(fmt::format("exec '{}'", spec.executable), child_errno);
  }

  ChildProcess child;
  child.pid = pid;
  child.pidfd = UniqueFd(static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)));
  child.to_child = std::move(to_child->write);
  child.from_child = std::move(from_child->read);
  child.stderr_fd = std::move(err_out->read);
  if (!spec.protocol_on_stdio) child.stdout_fd = std::move(std_out->read);
  for (int fd : {child.to_child.get(), child.from_child.get(), child.stdout_fd.get(), child.stderr_fd.get()}) {
    if (fd >= 0) set_nonblocking(fd);
  }
  return child;
}

}  // namespace snakepit::internal
