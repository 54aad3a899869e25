#include "tests/integration/test_support.h"

#include <dirent.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <thread>

#include <gtest/gtest.h>
#include <spdlog/logger.h>
#include <spdlog/sinks/null_sink.h>
#include <spdlog/sinks/stdout_sinks.h>

namespace snakepit::testing {
namespace {

std::shared_ptr<spdlog::logger> test_logger() {
  const char* env = std::getenv("SNAKEPIT_TEST_LOG");
  if (env != nullptr && *env != '\0' && std::string(env) != "0") {
    auto logger = std::make_shared<spdlog::logger>("test", std::make_shared<spdlog::sinks::stderr_sink_mt>());
    logger->set_level(spdlog::level::debug);
    return logger;
  }
  return std::make_shared<spdlog::logger>("test", std::make_shared<spdlog::sinks::null_sink_mt>());
}

// Fields of /proc/<pid>/stat after the command name: state, ppid, ...
bool read_stat(pid_t pid, char& state, pid_t& ppid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string text;
  if (!in || !std::getline(in, text)) return false;
  const auto close = text.rfind(')');  // the command name may hold spaces and parentheses
  if (close == std::string::npos) return false;
  std::istringstream rest(text.substr(close + 1));
  long parent = 0;
  if (!(rest >> state >> parent)) return false;
  ppid = static_cast<pid_t>(parent);
  return true;
}

}  // namespace

std::string fixture_path(const std::string& relative) {
  std::string path = SNAKEPIT_SOURCE_DIR;
  path.append("/tests/fixtures/");
  path.append(relative);
  return path;
}

const std::string& python_executable() {
  static const std::string path = adapters::python().executable;
  return path;
}

Options base_options(std::size_t size, const std::string& name) {
  Options options;
  options.logger = test_logger();
  PoolOptions& pool = options.pool;
  pool.name = name;
  pool.size = size;
  pool.startup_timeout = 10s;
  pool.request_timeout = 10s;
  pool.queue_timeout = 10s;
  // Long enough that a command honouring cancel (the generic sleep) always
  // answers in time on a loaded machine; tests of the kill set it short.
  pool.cancel_grace = 5s;
  pool.stop_grace = 200ms;
  pool.kill_grace = 200ms;
  pool.restart.backoff_initial = 10ms;
  pool.restart.backoff_max = 50ms;
  pool.restart.max_restarts = 100;
  pool.restart.window = 60s;
  return options;
}

Options generic_options(std::size_t size, const std::string& name) {
  Options options = base_options(size, name);
  options.pool.adapter = adapters::python("snakepit_bridge.generic");
  return options;
}

Options misbehaving_options(std::size_t size, const std::string& name) {
  Options options = base_options(size, name);
  adapters::PythonOptions python;
  python.python_path = {fixture_path("adapters")};
  options.pool.adapter = adapters::python("misbehaving", python);
  return options;
}

Options script_options(const std::string& script, std::size_t size, Protocol protocol, const std::string& name) {
  Options options = base_options(size, name);
  options.pool.adapter = adapters::exec({python_executable(), fixture_path("workers/" + script)}, protocol);
  return options;
}

Snakepit start_or_die(Options options) {
  auto pit = Snakepit::start(std::move(options));
  if (!pit.ok()) {
    ADD_FAILURE() << "start failed: " << pit.status();
    std::abort();
  }
  return std::move(pit).value();
}

ExecuteOptions with_timeout(std::chrono::milliseconds timeout) {
  ExecuteOptions options;
  options.timeout = timeout;
  return options;
}

ExecuteOptions with_deadline(std::chrono::steady_clock::time_point deadline,
                             std::optional<std::chrono::milliseconds> timeout) {
  ExecuteOptions options;
  options.deadline = deadline;
  options.timeout = timeout;
  return options;
}

ExecuteOptions idempotent() {
  ExecuteOptions options;
  options.idempotent = true;
  return options;
}

Result<Json> call(Snakepit& pit, const std::string& command, Json args, const ExecuteOptions& options,
                  std::chrono::milliseconds pool_timeout) {
  auto future = pit.execute_future(command, std::move(args), options);
  const auto budget = options.timeout.value_or(pool_timeout) + kHangBound;
  if (future.wait_for(budget) != std::future_status::ready) {
    ADD_FAILURE() << "request '" << command << "' did not complete within " << budget.count() << " ms";
    return internal_error("test: request hung");
  }
  return future.get();
}

int count_open_fds() {
  DIR* dir = ::opendir("/proc/self/fd");
  if (dir == nullptr) return -1;
  int count = 0;
  while (const dirent* entry = ::readdir(dir)) {
    if (entry->d_name[0] != '.') ++count;
  }
  ::closedir(dir);
  return count;
}

std::vector<ChildProc> child_processes() {
  std::vector<ChildProc> children;
  const pid_t self = ::getpid();
  DIR* dir = ::opendir("/proc");
  if (dir == nullptr) return children;
  while (const dirent* entry = ::readdir(dir)) {
    char* end = nullptr;
    const long pid = std::strtol(entry->d_name, &end, 10);
    if (end == entry->d_name || *end != '\0' || pid <= 0) continue;
    char state = 0;
    pid_t ppid = 0;
    if (read_stat(static_cast<pid_t>(pid), state, ppid) && ppid == self) {
      children.push_back({static_cast<pid_t>(pid), state});
    }
  }
  ::closedir(dir);
  return children;
}

std::vector<pid_t> zombie_children() {
  std::vector<pid_t> zombies;
  for (const auto& child : child_processes()) {
    if (child.state == 'Z') zombies.push_back(child.pid);
  }
  return zombies;
}

bool process_alive(pid_t pid) {
  if (pid <= 0) return false;
  if (::kill(pid, 0) != 0 && errno == ESRCH) return false;
  char state = 0;
  pid_t ppid = 0;
  if (!read_stat(pid, state, ppid)) return false;
  return state != 'Z' && state != 'X';
}

bool wait_until(const std::function<bool()>& pred, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (true) {
    if (pred()) return true;
    if (std::chrono::steady_clock::now() >= deadline) return pred();
    // The poll interval of a bounded poll, not a synchronisation sleep:
    // it only keeps the loop from starving the workers of CPU.
    std::this_thread::sleep_for(1ms);
  }
}

bool wait_gone(pid_t pid, std::chrono::milliseconds timeout) {
  return wait_until([pid] { return !process_alive(pid); }, timeout);
}

long vm_size_kib() {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmSize:", 0) == 0) return std::strtol(line.c_str() + 7, nullptr, 10);
  }
  return -1;
}

pid_t worker_pid(const Snakepit& pit, int slot) {
  for (const auto& worker : pit.list_workers()) {
    if (worker.slot == slot) return worker.pid;
  }
  return 0;
}

bool wait_for_replacement(const Snakepit& pit, int slot, pid_t old_pid, std::chrono::milliseconds timeout) {
  return wait_until(
      [&] {
        for (const auto& worker : pit.list_workers()) {
          if (worker.slot == slot) {
            return worker.pid != 0 && worker.pid != old_pid && worker.state == WorkerState::kReady;
          }
        }
        return false;
      },
      timeout);
}

Hygiene::Hygiene() {
  (void)python_executable();  // resolves (and caches) the interpreter before counting
  fds_before_ = count_open_fds();
}

void Hygiene::check() const {
  EXPECT_TRUE(zombie_children().empty()) << "zombie children left behind";
  std::string alive;
  for (const auto& child : child_processes()) alive += std::to_string(child.pid) + child.state + " ";
  EXPECT_TRUE(child_processes().empty()) << "child processes left behind: " << alive;
  EXPECT_EQ(count_open_fds(), fds_before_) << "descriptor count changed";
}

}  // namespace snakepit::testing
