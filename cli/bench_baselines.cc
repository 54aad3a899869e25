#include "bench_baselines.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <map>
#include <sstream>

extern char** environ;

namespace snakepit::cli::bench {
namespace {

using Env = std::vector<std::pair<std::string, std::string>>;

// Long enough for 1,000 workers on a loaded machine; a hung tool is killed.
constexpr int kToolTimeoutMs = 600'000;

// Runs argv to its end with `env` added to ours; stdout is returned,
// stderr passes through (tools explain their failures there).
Result<std::string> run_capture_stdout(const std::vector<std::string>& argv, const Env& env, int& exit_code) {
  std::map<std::string, std::string> merged;
  for (char** e = environ; *e != nullptr; ++e) {
    const std::string kv = *e;
    const auto eq = kv.find('=');
    if (eq != std::string::npos) merged[kv.substr(0, eq)] = kv.substr(eq + 1);
  }
  for (const auto& [key, value] : env) merged[key] = value;
  std::vector<std::string> env_store;
  for (const auto& [key, value] : merged) env_store.push_back(key + "=" + value);
  std::vector<char*> envp, args;
  for (auto& kv : env_store) envp.push_back(kv.data());
  envp.push_back(nullptr);
  std::vector<std::string> argv_store = argv;
  for (auto& a : argv_store) args.push_back(a.data());
  args.push_back(nullptr);

  int out[2];
  if (::pipe2(out, O_CLOEXEC) != 0) return unavailable(fmt::format("pipe: {}", std::strerror(errno)));
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, out[1], 1);
  pid_t pid = -1;
  const int rc = ::posix_spawnp(&pid, args[0], &actions, nullptr, args.data(), envp.data());
  posix_spawn_file_actions_destroy(&actions);
  ::close(out[1]);
  if (rc != 0) {
    ::close(out[0]);
    return not_found(fmt::format("cannot run {}: {}", argv[0], std::strerror(rc)));
  }
  std::string text;
  char buffer[16384];
  const auto deadline = Clock::now() + std::chrono::milliseconds(kToolTimeoutMs);
  bool timed_out = false;
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    if (left <= 0) {
      timed_out = true;
      ::kill(pid, SIGKILL);  // our own child
      break;
    }
    pollfd p{out[0], POLLIN, 0};
    const int ready = ::poll(&p, 1, static_cast<int>(left));
    if (ready < 0 && errno != EINTR) break;
    if (ready <= 0) continue;
    const ssize_t n = ::read(out[0], buffer, sizeof buffer);
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
    if (n <= 0) break;
    text.append(buffer, static_cast<std::size_t>(n));
  }
  ::close(out[0]);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  if (timed_out)
    return deadline_exceeded(fmt::format("{} ran over {} s and was killed", argv[0], kToolTimeoutMs / 1000));
  return text;
}

// The tool's JSON lines. A tool that failed after printing marks its last
// line with the failure, so the error is counted, not lost.
Result<std::vector<Record>> run_tool(const std::vector<std::string>& argv, const Env& env) {
  if (argv[0].find('/') != std::string::npos && ::access(argv[0].c_str(), X_OK) != 0) {
    return not_found(fmt::format("{} not found", argv[0]));
  }
  int exit_code = 0;
  auto text = run_capture_stdout(argv, env, exit_code);
  if (!text) return text.status();
  std::vector<Record> records;
  std::istringstream lines(*text);
  for (std::string line; std::getline(lines, line);) {
    auto record = Record::parse(line, nullptr, /*allow_exceptions=*/false);
    if (!record.is_discarded() && record.is_object()) records.push_back(std::move(record));
  }
  if (exit_code != 0) {
    if (records.empty()) return unavailable(fmt::format("{} exited with code {} and no result", argv[0], exit_code));
    auto& last = records.back();
    last["errors"] = std::max(1L, last.value("errors", 0L));
    last["tool_exit_code"] = exit_code;
  }
  return records;
}

}  // namespace

Tools find_tools(const std::string& tools_dir, Adapter python) {
  Tools tools;
  tools.pipe_floor = tools_dir + "/snakepit_pipe_floor";
  tools.tiny_worker = tools_dir + "/snakepit_tiny_worker";
  tools.mp_script = tools_dir + "/mp_baseline.py";
#ifdef SNAKEPIT_BENCH_BASELINES_DIR
  if (::access(tools.mp_script.c_str(), R_OK) != 0) tools.mp_script = SNAKEPIT_BENCH_BASELINES_DIR "/mp_baseline.py";
#endif
  tools.python = std::move(python);
  return tools;
}

Result<std::vector<Record>> run_pipe_floor(const Tools& tools, const std::vector<std::string>& flags,
                                           FloorWorker worker) {
  if (::access(tools.pipe_floor.c_str(), X_OK) != 0) {
    return not_found(tools.pipe_floor + " not found (build target snakepit_pipe_floor, or pass --tools-dir)");
  }
  std::vector<std::string> argv = {tools.pipe_floor};
  argv.insert(argv.end(), flags.begin(), flags.end());
  argv.emplace_back("--");
  Env env;
  switch (worker) {
    case FloorWorker::kBridge:
      // The pool's exact command line and environment (adapters.cc).
      argv.push_back(tools.python.executable);
      argv.insert(argv.end(), tools.python.args.begin(), tools.python.args.end());
      env = tools.python.env;
      break;
    case FloorWorker::kTiny:
      if (::access(tools.tiny_worker.c_str(), X_OK) != 0) return not_found(tools.tiny_worker + " not found");
      argv.push_back(tools.tiny_worker);
      break;
    case FloorWorker::kBare:
      argv.insert(argv.end(), {tools.python.executable, "-c", "pass"});
      break;
  }
  return run_tool(argv, env);
}

Result<std::vector<Record>> run_mp_baselines(const Tools& tools, const std::string& sizes, long requests) {
  if (::access(tools.mp_script.c_str(), R_OK) != 0) return not_found(tools.mp_script + " not found");
  return run_tool({tools.python.executable, tools.mp_script, "--sizes", sizes, "--requests", std::to_string(requests)},
                  {});
}

}  // namespace snakepit::cli::bench
