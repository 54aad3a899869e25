#include "doctor_checks.h"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cctype>
#include <filesystem>
#include <system_error>
#include <tuple>

#include "program_probe.h"
#include "signal_watcher.h"
#include "snakepit/snakepit.h"

namespace snakepit::cli {
namespace {

using namespace std::chrono_literals;

constexpr auto kProbeTimeout = 10s;   // `--version`, module lookups
constexpr auto kStartupLimit = 10s;   // the trial worker's start-up
constexpr auto kRequestTimeout = 5s;  // the trial requests

enum class Kind { kPython, kNode, kExec };

// Adapter names start with their kind (adapters::python() → "python:...").
Kind kind_of(const Adapter& adapter) {
  if (adapter.name.starts_with("python:")) return Kind::kPython;
  if (adapter.name.starts_with("node:")) return Kind::kNode;
  return Kind::kExec;
}

DoctorCheck passed(std::string name, std::string detail) { return {std::move(name), true, std::move(detail), {}}; }
DoctorCheck failed(std::string name, std::string detail, std::string fix) {
  return {std::move(name), false, std::move(detail), std::move(fix)};
}

std::string install_hint(Kind kind) {
  switch (kind) {
    case Kind::kPython:
      return "install Python 3.8 or later: apt-get install python3 (or set the pool's interpreter)";
    case Kind::kNode:
      return "install Node.js 18 or later: apt-get install nodejs (or set the pool's interpreter)";
    case Kind::kExec:
      break;
  }
  return "check the worker command (--exec, or `command` in the config): a name without '/' is looked up in "
         "PATH; a relative path in a config file is taken from the file's directory";
}

std::string env_value(const Adapter& adapter, const std::string& key) {
  for (const auto& [name, value] : adapter.env) {
    if (name == key) return value;
  }
  return {};
}

bool exists(const std::string& path) {
  std::error_code error;
  return std::filesystem::exists(path, error);
}

// The first "X.Y" in `text`, e.g. 3 and 11 from "Python 3.11.2" or "v20.1.0".
bool parse_version(const std::string& text, int& major, int& minor) {
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (!std::isdigit(static_cast<unsigned char>(text[i]))) continue;
    std::size_t end = 0;
    major = std::stoi(text.substr(i, 6), &end);
    if (i + end + 1 < text.size() && text[i + end] == '.' &&
        std::isdigit(static_cast<unsigned char>(text[i + end + 1]))) {
      minor = std::stoi(text.substr(i + end + 1, 6));
      return true;
    }
    return false;
  }
  return false;
}

std::string first_line(std::string text) {
  text = text.substr(0, text.find('\n'));
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) text.pop_back();
  return text;
}

DoctorCheck check_executable(Kind kind, const Adapter& adapter, std::string& resolved) {
  auto found = find_program(adapter.executable);
  if (!found) return failed("executable", found.status().message(), install_hint(kind));
  resolved = *found;
  return passed("executable", resolved);
}

DoctorCheck check_version(Kind kind, const std::string& program) {
  const bool python = kind == Kind::kPython;
  const int need_major = python ? 3 : 18;
  const int need_minor = python ? 8 : 0;
  const std::string needed = python ? "Python 3.8 or later" : "Node.js 18 or later";
  auto run = run_program({program, "--version"}, {}, kProbeTimeout);
  if (!run)
    return failed("version", fmt::format("{} --version: {}", program, run.status().message()), install_hint(kind));
  const std::string text = first_line(run->output);
  int major = 0;
  int minor = 0;
  if (run->exit_code != 0 || !parse_version(text, major, minor)) {
    return failed("version", fmt::format("{} --version said \"{}\" (exit code {})", program, text, run->exit_code),
                  install_hint(kind));
  }
  if (std::tie(major, minor) < std::tie(need_major, need_minor)) {
    return failed("version", fmt::format("{} is too old; {} is needed", text, needed), install_hint(kind));
  }
  return passed("version", fmt::format("{} ({} needed)", text, needed));
}

// The bridge the adapter will load: the first PYTHONPATH entry of a Python
// adapter, the script of a Node one (what adapters::python()/node() chose
// from bridge_path, $SNAKEPIT_BRIDGE_PATH / $SNAKEPIT_NODE_BRIDGE_PATH or
// the build's own).
DoctorCheck check_bridge(Kind kind, const Adapter& adapter) {
  if (kind == Kind::kPython) {
    const std::string python_path = env_value(adapter, "PYTHONPATH");
    const std::string package = python_path.substr(0, python_path.find(':')) + "/snakepit_bridge";
    if (exists(package + "/__init__.py")) return passed("bridge", package);
    return failed("bridge", fmt::format("no snakepit_bridge package at {}", package),
                  "set SNAKEPIT_BRIDGE_PATH (or the pool's bridge_path) to the directory holding snakepit_bridge "
                  "(bridges/python in the source tree)");
  }
  const std::string main = adapter.args.empty() ? std::string() : adapter.args.front();
  if (exists(main)) return passed("bridge", main);
  return failed("bridge", fmt::format("no Node.js bridge at {}", main),
                "set SNAKEPIT_NODE_BRIDGE_PATH (or the pool's bridge_path) to the directory holding main.js "
                "(bridges/node in the source tree)");
}

// Finds the module the way the worker will (same environment and working
// directory) without importing it: importing is the trial start's job.
DoctorCheck check_python_module(const std::string& python, const Adapter& adapter) {
  const std::string module = adapter.args.empty() ? std::string() : adapter.args.back();
  const char* script =
      "import importlib.util, sys\n"
      "try:\n"
      "    spec = importlib.util.find_spec(sys.argv[1])\n"
      "except Exception as e:\n"
      "    print('%s: %s' % (type(e).__name__, e)); sys.exit(2)\n"
      "if spec is None: sys.exit(3)\n"
      "print(spec.origin or 'a namespace package')\n";
  auto run = run_program({python, "-c", script, module}, adapter.env, kProbeTimeout, adapter.working_dir);
  const std::string fix = fmt::format(
      "put {} on the workers' PYTHONPATH: --python-path DIR (config: python_path = [\"DIR\"]) with the "
      "directory holding it",
      module);
  if (!run) return failed("module", fmt::format("looking for {}: {}", module, run.status().message()), fix);
  if (run->exit_code == 0) return passed("module", fmt::format("{} found: {}", module, first_line(run->output)));
  if (run->exit_code == 3) {
    return failed(
        "module",
        fmt::format("no module named '{}' on the workers' PYTHONPATH ({})", module, env_value(adapter, "PYTHONPATH")),
        fix);
  }
  return failed("module", fmt::format("looking for {}: {}", module, first_line(run->output)), fix);
}

DoctorCheck check_node_module(const std::string& node, const Adapter& adapter) {
  const std::string module = adapter.args.empty() ? std::string() : adapter.args.back();
  if (module == "generic") return passed("module", "generic (the bridge's own adapter)");
  const char* script =
      "const path = require('path');\n"
      "const spec = process.argv[1];\n"
      "const file = spec.includes('/') || spec.startsWith('.') || /\\.(c|m)?js$/.test(spec);\n"
      "console.log(require.resolve(file ? path.resolve(spec) : spec, { paths: [process.cwd()] }));\n";
  auto run = run_program({node, "-e", script, module}, adapter.env, kProbeTimeout, adapter.working_dir);
  const std::string fix =
      "give the adapter's path (--module FILE.js, config: module = \"FILE.js\"), or install "
      "the package where the workers run";
  if (!run) return failed("module", fmt::format("looking for {}: {}", module, run.status().message()), fix);
  if (run->exit_code == 0) return passed("module", fmt::format("{} found: {}", module, first_line(run->output)));
  return failed("module", fmt::format("cannot find adapter module '{}'", module), fix);
}

std::string start_fix(Kind kind, const Status& status) {
  switch (status.code()) {
    case Code::kNotFound:
    case Code::kFailedPrecondition:
      return install_hint(kind);
    case Code::kDeadlineExceeded:
      return kind == Kind::kExec ? "the worker never said hello: check that it speaks the protocol "
                                   "(docs/protocol.md; --protocol / protocol for snakepit-v0 workers)"
                                 : "the worker started too slowly or hung: run it by hand, or raise the "
                                   "start-up timeout";
    default:
      break;
  }
  return "the worker exited during start-up (its last stderr line is above): run it by hand with the same "
         "command, or use --log-level warn, to see all of its output";
}

// The stderr line that best says why a worker died: the bridges' own
// "snakepit_bridge: ..." line (a Node stack follows it), else the last one
// (a Python traceback ends with the exception).
std::string telling_stderr_line(const Json& details) {
  const Json* tail = details.is_object() && details.contains("stderr_tail") ? &details["stderr_tail"] : nullptr;
  if (tail == nullptr || !tail->is_array() || tail->empty()) return {};
  for (auto line = tail->rbegin(); line != tail->rend(); ++line) {
    if (line->is_string() && line->get<std::string>().starts_with("snakepit_bridge:")) return line->get<std::string>();
  }
  return tail->back().is_string() ? tail->back().get<std::string>() : std::string();
}

DoctorCheck check_start(Kind kind, const Status& status, const Snakepit* pit) {
  if (pit == nullptr) {
    std::string detail = status.message();
    if (std::string line = telling_stderr_line(status.details()); !line.empty()) detail += "; stderr: " + line;
    return failed("worker", detail, start_fix(kind, status));
  }
  const PoolStats stats = pit->stats();
  std::string where;
  if (!stats.workers.empty()) where = fmt::format(" (worker {}, pid {})", stats.workers[0].id, stats.workers[0].pid);
  return passed("worker", fmt::format("started in {} ms{}", stats.startup_duration.count(), where));
}

// The commands the pool serves, as its worker announced them.
DoctorCheck check_commands(Snakepit& pit, const std::string& pool, std::vector<std::string>& commands) {
  auto offered = pit.commands(pool);
  if (!offered.ok()) return failed("commands", offered.status().to_string(), "");
  commands = std::move(*offered);
  if (commands.empty()) return passed("commands", "the worker does not list its commands");
  return passed("commands", fmt::format("{}", fmt::join(commands, ", ")));
}

DoctorCheck check_ping(Snakepit& pit, const std::string& pool) {
  ExecuteOptions options;
  options.pool = pool;
  options.timeout = kRequestTimeout;
  const auto start = std::chrono::steady_clock::now();
  auto result = pit.execute("ping", Json::object(), options);
  const auto took = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start);
  if (!result) return failed("ping", result.status().to_string(), "the adapter's ping command fails: run it by hand");
  return passed("ping", fmt::format("answered in {} ms", took.count()));
}

}  // namespace

bool PoolReport::ok() const {
  return std::all_of(checks.begin(), checks.end(), [](const DoctorCheck& check) { return check.ok; });
}

PoolReport check_pool(const PoolOptions& pool, const Options& base, SignalWatcher& watcher) {
  PoolReport report{pool.name, pool.adapter.name, {}};
  const Adapter& adapter = pool.adapter;
  const Kind kind = kind_of(adapter);
  std::string program;
  report.checks.push_back(check_executable(kind, adapter, program));
  if (kind != Kind::kExec) {
    if (!program.empty()) report.checks.push_back(check_version(kind, program));
    report.checks.push_back(check_bridge(kind, adapter));
    if (!program.empty()) {
      report.checks.push_back(kind == Kind::kPython ? check_python_module(program, adapter)
                                                    : check_node_module(program, adapter));
    }
  }
  if (watcher.signal() != 0) return report;

  // The trial start: one worker of exactly this pool.
  Options options;
  options.pool = pool;
  options.pool.size = 1;
  options.pool.startup_timeout = std::min<Millis>(pool.startup_timeout, kStartupLimit);
  options.data_dir = base.data_dir;
  options.logger = base.logger;
  auto pit = Snakepit::start(std::move(options));
  report.checks.push_back(check_start(kind, pit.status(), pit.ok() ? &*pit : nullptr));
  if (!pit) return report;
  PoolGuard guard(watcher, *pit);
  // The only pool of the trial Snakepit is its default: name none.
  std::vector<std::string> commands;
  report.checks.push_back(check_commands(*pit, {}, commands));
  if (std::find(commands.begin(), commands.end(), "ping") != commands.end()) {
    report.checks.push_back(check_ping(*pit, {}));
  }
  pit->shutdown(1s);
  return report;
}

Json to_json(const PoolReport& report) {
  Json checks = Json::array();
  for (const auto& check : report.checks) {
    checks.push_back({{"name", check.name}, {"ok", check.ok}, {"detail", check.detail}, {"fix", check.fix}});
  }
  return {{"pool", report.pool}, {"adapter", report.adapter}, {"checks", std::move(checks)}};
}

}  // namespace snakepit::cli
