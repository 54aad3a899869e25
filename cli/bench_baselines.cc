#include "bench_baselines.h"

#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <sstream>

#include "program_probe.h"

namespace snakepit::cli::bench {
namespace {

using Env = std::vector<std::pair<std::string, std::string>>;

// Long enough for 1,000 workers on a loaded machine; a hung tool is killed.
constexpr std::chrono::minutes kToolTimeout{10};

// The tool's JSON lines. A tool that failed after printing marks its last
// line with the failure, so the error is counted, not lost.
Result<std::vector<Record>> run_tool(const std::vector<std::string>& argv, const Env& env) {
  auto program = find_program(argv[0]);
  if (!program) return program.status();
  std::vector<std::string> resolved = argv;
  resolved[0] = *program;
  // stderr passes through: tools explain their failures there.
  auto run = run_program(resolved, env, kToolTimeout, {}, Stderr::kPassThrough);
  if (!run) return run.status();
  const int exit_code = run->exit_code;
  std::vector<Record> records;
  std::istringstream lines(run->output);
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
