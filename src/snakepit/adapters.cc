#include <cstdlib>
#include <mutex>

#include "process/run_capture.h"
#include "snakepit/options.h"

namespace snakepit {
namespace {

// version-manager shims (pyenv) cost tens of milliseconds per start; ask the
// interpreter once for its real path. Cached: the answer cannot change.
std::string real_python(const std::string& interpreter) {
  static std::mutex mutex;
  static std::string cached_for;
  static std::string cached;
  std::lock_guard lock(mutex);
  if (cached_for == interpreter && !cached.empty()) return cached;
  auto path = internal::run_capture({interpreter, "-c", "import sys; sys.stdout.write(sys.executable)"},
                                    std::chrono::seconds(10));
  cached_for = interpreter;
  cached = path.ok() && !path->empty() ? *path : interpreter;
  return cached;
}

std::string default_bridge_path() {
  if (const char* env = std::getenv("SNAKEPIT_BRIDGE_PATH"); env != nullptr && *env != '\0') return env;
  return SNAKEPIT_BRIDGE_DIR;
}

}  // namespace

std::string_view protocol_name(Protocol protocol) {
  return protocol == Protocol::kSnakepitV0 ? "snakepit-v0" : "native";
}

namespace adapters {

Adapter python(std::string module, PythonOptions options) {
  Adapter adapter;
  adapter.name = "python:" + module;
  adapter.executable = real_python(options.interpreter.empty() ? "python3" : options.interpreter);
  // Same as `-m snakepit_bridge`, without runpy's import cost (~5 ms per worker).
  adapter.args = {"-c", "import sys; from snakepit_bridge.__main__ import main; sys.exit(main())", "--adapter",
                  module};
  std::string python_path = options.bridge_path.empty() ? default_bridge_path() : options.bridge_path;
  for (const auto& dir : options.python_path) python_path += ":" + dir;
  if (const char* existing = std::getenv("PYTHONPATH"); existing != nullptr && *existing != '\0') {
    python_path += std::string(":") + existing;
  }
  // Bytecode of the bridge is compiled at build time (CMake) and read, not written, by workers.
  adapter.env = {{"PYTHONPATH", python_path}, {"PYTHONUNBUFFERED", "1"}, {"PYTHONDONTWRITEBYTECODE", "1"}};
  return adapter;
}

Adapter node(std::string module, NodeOptions options) {
  std::string bridge = options.bridge_path;
  if (bridge.empty()) {
    const char* env = std::getenv("SNAKEPIT_NODE_BRIDGE_PATH");
    bridge = env != nullptr && *env != '\0' ? env : SNAKEPIT_NODE_BRIDGE_DIR;
  }
  Adapter adapter;
  adapter.name = "node:" + module;
  adapter.executable = options.interpreter.empty() ? "node" : options.interpreter;
  adapter.args = {bridge + "/main.js", "--adapter", std::move(module)};
  return adapter;
}

Adapter exec(std::vector<std::string> argv, Protocol protocol) {
  Adapter adapter;
  if (!argv.empty()) {
    adapter.name = "exec:" + argv.front();
    adapter.executable = argv.front();
    adapter.args.assign(argv.begin() + 1, argv.end());
  }
  adapter.protocol = protocol;
  return adapter;
}

}  // namespace adapters
}  // namespace snakepit
