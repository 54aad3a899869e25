// The TOML configuration loader: text → snakepit::Options. Every key is
// checked where it is read, so each error names its key ("pools.py.size")
// and its place in the file. The format is documented in
// docs/configuration.md; keep the two in step.
#include "snakepit/config.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <exception>
#include <filesystem>
#include <limits>
#include <tuple>
#include <vector>

#include <fmt/format.h>
#include <toml++/toml.h>

#include "base/errno_status.h"
#include "config/toml_section.h"

namespace snakepit {
namespace {

constexpr std::size_t kMaxFileBytes = 1u << 20;  // a configuration, not a data file
constexpr std::size_t kMaxPools = 64;
constexpr std::size_t kMaxPoolName = 64;
constexpr std::size_t kMaxCommandName = 256;  // as the worker's hello allows
constexpr std::int64_t kHour = 3'600'000;
constexpr std::int64_t kDay = 24 * kHour;
constexpr std::int64_t kYear = 365 * kDay;
constexpr std::int64_t kInt64Max = std::numeric_limits<std::int64_t>::max();
constexpr std::int64_t kUint32Max = std::numeric_limits<std::uint32_t>::max();

using internal::contains;
using internal::joined;
using internal::key_error;
using internal::key_list;
using internal::Keys;
using internal::Origin;
using internal::resolve_path;
using internal::Section;
using internal::type_phrase;

// Keys of each table. Pool keys are split by the adapters they apply to, so
// a key of another adapter gets its own message.
constexpr std::string_view kTopKeys[] = {"data_dir", "default_pool", "placement", "pools", "sessions"};
constexpr std::string_view kSessionKeys[] = {"default_ttl_s",  "max_bytes",       "max_id_length",
                                             "max_key_length", "max_keys",        "max_sessions",
                                             "max_ttl_s",      "sweep_budget_us", "sweep_interval_ms"};
// clang-format off
constexpr std::string_view kPoolKeys[] = {
    "adapter", "affinity", "cancel_grace_ms", "command_timeouts_ms", "commands", "env", "heartbeat",
    "kill_grace_ms", "max_calls_in_flight", "max_frame_bytes", "max_log_line", "max_queue", "queue_timeout_ms",
    "recycle", "request_timeout_ms", "restart", "size", "stack_dump_grace_ms", "startup_timeout_ms",
    "stop_grace_ms", "stream_window", "worker_threads", "working_dir"};
// clang-format on
constexpr std::string_view kPythonKeys[] = {"bridge_path", "interpreter", "module", "python_path"};
constexpr std::string_view kNodeKeys[] = {"bridge_path", "interpreter", "module"};
constexpr std::string_view kExecKeys[] = {"command", "protocol"};
constexpr std::string_view kRestartKeys[] = {"backoff_initial_ms", "backoff_max_ms", "jitter", "max_restarts",
                                             "window_ms"};
constexpr std::string_view kHeartbeatKeys[] = {"interval_ms", "max_missed", "timeout_ms"};
constexpr std::string_view kRecycleKeys[] = {"check_interval_ms", "max_idle_ms",         "max_lifetime_ms",
                                             "max_requests",      "max_requests_jitter", "max_rss_bytes"};
constexpr std::string_view kAdapterKinds[] = {"python", "node", "exec"};
constexpr std::string_view kProtocols[] = {"native", "snakepit-v0"};
constexpr std::string_view kAffinities[] = {"hint", "strict_queue", "strict_fail_fast"};
constexpr std::string_view kPlacements[] = {"shared", "per_core"};

// [sessions]: SessionOptions and its SessionLimits. Ranges as the memory
// store's own checks (src/session/memory_session_store.cc).
Status read_sessions(const Origin& origin, const toml::table& table, SessionOptions& sessions) {
  Section s(origin, table, "sessions");
  s.check_keys(kSessionKeys);
  SessionLimits& limits = sessions.limits;
  s.integer("max_sessions", 1, kInt64Max, limits.max_sessions);
  s.integer("max_id_length", 1, 1 << 20, limits.max_id_length);
  s.integer("max_keys", 1, kInt64Max, limits.max_keys);
  s.integer("max_key_length", 1, 1 << 20, limits.max_key_length);
  s.integer("max_bytes", 1, kUint32Max, limits.max_bytes);
  std::int64_t default_ttl = limits.default_ttl.count();
  std::int64_t max_ttl = limits.max_ttl.count();
  s.integer("default_ttl_s", 1, kUint32Max, default_ttl);
  s.integer("max_ttl_s", 1, kUint32Max, max_ttl);
  limits.default_ttl = std::chrono::seconds(default_ttl);
  limits.max_ttl = std::chrono::seconds(max_ttl);
  if (s.ok() && default_ttl > max_ttl) {
    const toml::node* node = table.get("default_ttl_s");
    s.fail(s.key(node != nullptr ? "default_ttl_s" : "max_ttl_s"),
           (node != nullptr ? node : table.get("max_ttl_s"))->source(),
           fmt::format("makes default_ttl_s ({}) exceed max_ttl_s ({})", default_ttl, max_ttl));
  }
  s.millis("sweep_interval_ms", 1, kHour, sessions.sweep_interval);
  std::int64_t budget = sessions.sweep_budget.count();
  s.integer("sweep_budget_us", 1, 1'000'000, budget);
  sessions.sweep_budget = std::chrono::microseconds(budget);
  return s.status();
}

// [pools.NAME.restart], [pools.NAME.heartbeat], [pools.NAME.recycle]: the
// ranges of src/snakepit/options_validation.cc.
void read_restart(const Origin& origin, Section& pool, RestartPolicy& restart) {
  const toml::table* table = pool.table("restart");
  if (table == nullptr) return;
  Section s(origin, *table, pool.key("restart"));
  s.check_keys(kRestartKeys);
  s.millis("backoff_initial_ms", 0, kHour, restart.backoff_initial);
  s.millis("backoff_max_ms", 0, kHour, restart.backoff_max);
  if (s.ok() && restart.backoff_max < restart.backoff_initial) {
    const bool max_given = table->get("backoff_max_ms") != nullptr;
    const toml::node* node = table->get(max_given ? "backoff_max_ms" : "backoff_initial_ms");
    s.fail(s.key(max_given ? "backoff_max_ms" : "backoff_initial_ms"), node->source(),
           fmt::format("makes backoff_max_ms ({}) smaller than backoff_initial_ms ({})", restart.backoff_max.count(),
                       restart.backoff_initial.count()));
  }
  s.fraction("jitter", restart.jitter);
  s.integer("max_restarts", 0, 1'000'000, restart.max_restarts);
  s.millis("window_ms", 1, kDay, restart.window);
  pool.fail(s.status());
}

void read_heartbeat(const Origin& origin, Section& pool, HeartbeatPolicy& heartbeat) {
  const toml::table* table = pool.table("heartbeat");
  if (table == nullptr) return;
  Section s(origin, *table, pool.key("heartbeat"));
  s.check_keys(kHeartbeatKeys);
  s.millis("interval_ms", 0, kDay, heartbeat.interval);
  s.millis("timeout_ms", 1, kHour, heartbeat.timeout);
  s.integer("max_missed", 1, 1000, heartbeat.max_missed);
  pool.fail(s.status());
}

void read_recycle(const Origin& origin, Section& pool, RecyclePolicy& recycle) {
  const toml::table* table = pool.table("recycle");
  if (table == nullptr) return;
  Section s(origin, *table, pool.key("recycle"));
  s.check_keys(kRecycleKeys);
  s.integer("max_requests", 0, kInt64Max, recycle.max_requests);
  s.fraction("max_requests_jitter", recycle.max_requests_jitter);
  s.millis("max_lifetime_ms", 0, kYear, recycle.max_lifetime);
  s.millis("max_idle_ms", 0, kYear, recycle.max_idle);
  s.integer("max_rss_bytes", 0, kInt64Max, recycle.max_rss_bytes);
  s.millis("check_interval_ms", 1, kHour, recycle.check_interval);
  pool.fail(s.status());
}

// A program name: a path (it has a '/') is anchored to the configuration's
// directory; a bare name is left for the PATH lookup at start.
std::string resolve_program(const Origin& origin, const std::string& program) {
  return program.find('/') == std::string::npos ? program : resolve_path(origin, program);
}

// As the Node bridge tells a file from a module name (bridges/node/lib/registry.js).
bool node_module_is_file(std::string_view module) {
  return module.find('/') != std::string_view::npos || module.starts_with('.') || module.ends_with(".js") ||
         module.ends_with(".mjs") || module.ends_with(".cjs");
}

bool valid_command_name(std::string_view name) { return !name.empty() && name.size() <= kMaxCommandName; }

// env = { KEY = "value" }: added to the adapter's, replacing a key it sets.
void read_env(const Origin& origin, Section& pool, Adapter& adapter) {
  const toml::table* table = pool.table("env");
  if (table == nullptr) return;
  Section s(origin, *table, pool.key("env"));
  for (const auto& [name, node] : *table) {
    const std::string key = std::string(name.str());
    auto value = node.as_string();
    if (key.empty() || key.find('=') != std::string::npos || key.find('\0') != std::string::npos) {
      s.fail(s.key(key), name.source(), "is not a valid environment variable name (empty, or has '=')");
    } else if (value == nullptr) {
      s.wrong_type(key, node, "a string");
    } else if (value->get().find('\0') != std::string::npos) {
      s.fail(s.key(key), node.source(), "must not contain a NUL byte");
    }
    if (!s.ok()) break;
    auto existing =
        std::find_if(adapter.env.begin(), adapter.env.end(), [&](const auto& entry) { return entry.first == key; });
    if (existing != adapter.env.end()) {
      existing->second = value->get();
    } else {
      adapter.env.emplace_back(key, value->get());
    }
  }
  pool.fail(s.status());
}

// commands = [...] and command_timeouts_ms = { name = ms }.
void read_commands(const Origin& origin, Section& pool, Adapter& adapter) {
  std::vector<std::string> commands;
  if (pool.strings("commands", commands, kMaxCommandName)) {
    std::vector<std::string> sorted = commands;
    std::sort(sorted.begin(), sorted.end());
    if (auto twice = std::adjacent_find(sorted.begin(), sorted.end()); twice != sorted.end()) {
      pool.fail(pool.key("commands"), pool.find("commands")->source(), fmt::format("lists \"{}\" twice", *twice));
    }
    adapter.commands = std::move(commands);
  }
  const toml::table* table = pool.table("command_timeouts_ms");
  if (table == nullptr) return;
  Section s(origin, *table, pool.key("command_timeouts_ms"));
  for (const auto& [name, node] : *table) {
    const std::string command = std::string(name.str());
    if (!valid_command_name(command)) {
      s.fail(s.key(command), name.source(), fmt::format("is not a command name (1 to {} bytes)", kMaxCommandName));
    } else if (!adapter.commands.empty() &&
               std::find(adapter.commands.begin(), adapter.commands.end(), command) == adapter.commands.end()) {
      s.fail(s.key(command), name.source(), "names a command that is not in commands",
             Json{{"allowed", adapter.commands}});
    }
    Millis timeout{0};
    s.millis(command, 1, kDay, timeout);
    if (!s.ok()) break;
    adapter.command_timeouts[command] = timeout;
  }
  pool.fail(s.status());
}

// adapter = "python" | "node" | "exec" and the keys of that adapter, built
// with snakepit::adapters, then the keys every adapter has.
Adapter read_adapter(const Origin& origin, Section& s, const std::string& kind) {
  Adapter adapter;
  if (kind == "python") {
    std::string module = "snakepit_bridge.generic";
    adapters::PythonOptions python;
    s.string("module", module);
    if (s.string("interpreter", python.interpreter)) python.interpreter = resolve_program(origin, python.interpreter);
    if (s.string("bridge_path", python.bridge_path)) python.bridge_path = resolve_path(origin, python.bridge_path);
    if (s.strings("python_path", python.python_path)) {
      for (auto& dir : python.python_path) dir = resolve_path(origin, dir);
    }
    if (!s.ok()) return adapter;  // adapters::python() runs the interpreter: not for a bad table
    adapter = adapters::python(std::move(module), std::move(python));
  } else if (kind == "node") {
    std::string module = "generic";
    adapters::NodeOptions node;
    if (s.string("module", module) && node_module_is_file(module)) module = resolve_path(origin, module);
    if (s.string("interpreter", node.interpreter)) node.interpreter = resolve_program(origin, node.interpreter);
    if (s.string("bridge_path", node.bridge_path)) node.bridge_path = resolve_path(origin, node.bridge_path);
    if (!s.ok()) return adapter;
    adapter = adapters::node(std::move(module), std::move(node));
  } else {
    std::vector<std::string> argv;
    if (s.ok() && s.find("command") == nullptr) {
      s.fail(s.key("command"), s.table().source(),
             "is required with adapter \"exec\": the worker's argv, e.g. [\"./worker\", \"--fast\"]");
    }
    s.strings("command", argv);
    if (s.ok() && argv.empty()) s.fail(s.key("command"), s.find("command")->source(), "must not be empty");
    std::string protocol = "native";
    s.choice("protocol", kProtocols, protocol);
    if (!s.ok()) return adapter;
    argv.front() = resolve_program(origin, argv.front());
    adapter = adapters::exec(std::move(argv), protocol == "native" ? Protocol::kNative : Protocol::kSnakepitV0);
  }
  read_env(origin, s, adapter);
  if (std::string dir; s.string("working_dir", dir)) adapter.working_dir = resolve_path(origin, dir);
  read_commands(origin, s, adapter);
  return adapter;
}

// "does not apply to adapter "python" (only to exec)" for a key of another adapter.
std::string other_adapter_key(std::string_view kind, std::string_view key) {
  std::vector<std::string_view> owners;
  if (contains(kPythonKeys, key)) owners.push_back("python");
  if (contains(kNodeKeys, key)) owners.push_back("node");
  if (contains(kExecKeys, key)) owners.push_back("exec");
  if (owners.empty()) return {};
  return fmt::format("does not apply to adapter \"{}\" (only to {})", kind, joined(owners));
}

bool valid_pool_name(std::string_view name) {
  if (name.empty() || name.size() > kMaxPoolName) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
  });
}

// [pools.NAME]: one PoolOptions.
Status read_pool(const Origin& origin, const toml::key& name, const toml::node& node, PoolOptions& pool) {
  const std::string path = fmt::format("pools.{}", name.str());
  if (!valid_pool_name(name.str())) {
    return key_error(origin, path, name.source(),
                     fmt::format("has a bad pool name: 1 to {} characters of A-Z a-z 0-9 _ -", kMaxPoolName));
  }
  const toml::table* table = node.as_table();
  if (table == nullptr) {
    return key_error(origin, path, node.source(), fmt::format("must be a table, got {}", type_phrase(node)));
  }
  pool.name = std::string(name.str());
  Section s(origin, *table, path);
  std::string kind;
  if (table->get("adapter") == nullptr) {
    return key_error(origin, s.key("adapter"), table->source(),
                     fmt::format("is required; one of {}", joined(kAdapterKinds)),
                     Json{{"allowed", key_list(kAdapterKinds)}});
  }
  if (!s.choice("adapter", kAdapterKinds, kind)) return s.status();

  std::vector<std::string_view> allowed(std::begin(kPoolKeys), std::end(kPoolKeys));
  const Keys own = kind == "python" ? Keys(kPythonKeys) : kind == "node" ? Keys(kNodeKeys) : Keys(kExecKeys);
  allowed.insert(allowed.end(), own.begin(), own.end());
  s.check_keys(allowed, [&](std::string_view key) { return other_adapter_key(kind, key); });

  pool.adapter = read_adapter(origin, s, kind);
  s.integer("size", 1, 4096, pool.size);
  s.millis("startup_timeout_ms", 1, kHour, pool.startup_timeout);
  s.millis("request_timeout_ms", 1, kDay, pool.request_timeout);
  s.millis("queue_timeout_ms", 1, kDay, pool.queue_timeout);
  s.integer("max_queue", 0, 10'000'000, pool.max_queue);
  s.millis("cancel_grace_ms", 0, kHour, pool.cancel_grace);
  s.millis("stack_dump_grace_ms", 0, kHour, pool.stack_dump_grace);
  s.millis("stop_grace_ms", 0, kHour, pool.stop_grace);
  s.millis("kill_grace_ms", 0, kHour, pool.kill_grace);
  s.integer("max_frame_bytes", 1024, 1 << 30, pool.max_frame_bytes);
  s.integer("max_log_line", 64, 1 << 20, pool.max_log_line);
  if (std::string affinity; s.choice("affinity", kAffinities, affinity)) pool.affinity = *affinity_from_name(affinity);
  s.integer("stream_window", 1, 1'000'000, pool.stream_window);
  s.integer("max_calls_in_flight", 1, 10'000, pool.max_calls_in_flight);
  s.integer("worker_threads", 0, 4096, pool.worker_threads);
  read_restart(origin, s, pool.restart);
  read_heartbeat(origin, s, pool.heartbeat);
  read_recycle(origin, s, pool.recycle);
  return s.status();
}

// Where a node first appears in the text: a table may be opened by one of
// its sub-tables ([pools.py.restart] before [pools.py]).
toml::source_position first_position(const toml::node& node) {
  toml::source_position first = node.source().begin;
  auto earlier = [](const toml::source_position& a, const toml::source_position& b) {
    if (b.line == 0) return false;
    return a.line == 0 || std::tie(b.line, b.column) < std::tie(a.line, a.column);
  };
  if (const toml::table* table = node.as_table()) {
    for (const auto& [name, child] : *table) {
      if (earlier(first, name.source().begin)) first = name.source().begin;
      if (child.is_table()) {
        const toml::source_position inner = first_position(child);
        if (earlier(first, inner)) first = inner;
      }
    }
  }
  return first;
}

// [pools]: every pool, in the order of the file (toml::table is sorted by
// key, so the order comes from each pool's position in the text).
Status read_pools(const Origin& origin, Section& top, Options& options) {
  const toml::node* node = top.find("pools");
  const toml::table* pools = top.table("pools");
  if (!top.ok()) return top.status();
  if (pools == nullptr || pools->empty()) {
    return key_error(origin, "pools", node != nullptr ? node->source() : toml::source_region{},
                     "must define at least one pool, e.g. [pools.py] with adapter = \"python\"");
  }
  if (pools->size() > kMaxPools) {
    return key_error(origin, "pools", node->source(),
                     fmt::format("has {} pools; at most {}", pools->size(), kMaxPools));
  }
  std::vector<std::tuple<toml::source_position, const toml::key*, const toml::node*>> ordered;
  for (const auto& [name, pool] : *pools) ordered.emplace_back(first_position(pool), &name, &pool);
  std::stable_sort(ordered.begin(), ordered.end(), [](const auto& a, const auto& b) {
    const toml::source_position& pa = std::get<0>(a);
    const toml::source_position& pb = std::get<0>(b);
    return std::tie(pa.line, pa.column) < std::tie(pb.line, pb.column);
  });
  for (const auto& entry : ordered) {
    PoolOptions pool;
    if (Status status = read_pool(origin, *std::get<1>(entry), *std::get<2>(entry), pool); !status.ok()) return status;
    options.pools.push_back(std::move(pool));
  }
  return {};
}

Status read_top(const Origin& origin, const toml::table& root, Options& options) {
  Section top(origin, root, "");
  top.check_keys(kTopKeys);
  if (!top.ok()) return top.status();
  if (Status status = read_pools(origin, top, options); !status.ok()) return status;
  std::vector<std::string> names;
  for (const auto& pool : options.pools) names.push_back(pool.name);
  options.default_pool = names.front();
  if (std::string wanted; top.string("default_pool", wanted)) {
    if (std::find(names.begin(), names.end(), wanted) == names.end()) {
      top.fail("default_pool", top.find("default_pool")->source(),
               fmt::format("names no pool: \"{}\"; the pools are {}", wanted,
                           joined(std::vector<std::string_view>(names.begin(), names.end()))),
               Json{{"allowed", names}});
    } else {
      options.default_pool = wanted;
    }
  }
  if (top.string("data_dir", options.data_dir)) options.data_dir = resolve_path(origin, options.data_dir);
  if (std::string placement; top.choice("placement", kPlacements, placement)) {
    options.placement = placement == "per_core" ? Placement::kPerCore : Placement::kShared;
  }
  if (const toml::table* sessions = top.table("sessions")) {
    if (Status status = read_sessions(origin, *sessions, options.sessions); !status.ok()) return status;
  }
  return top.status();
}

Result<Options> parse_text(std::string_view text, const std::string& base_dir, std::string_view source) {
  Origin origin{std::string(source), {}};
  std::error_code error;
  origin.base_dir =
      base_dir.empty() ? std::filesystem::current_path(error) : std::filesystem::absolute(base_dir, error);
  if (error)
    return failed_precondition(fmt::format("{}: cannot resolve the base directory: {}", source, error.message()));
  if (text.size() > kMaxFileBytes) {
    return invalid_argument(fmt::format("{}: larger than {} bytes", source, kMaxFileBytes),
                            Json{{"bytes", text.size()}, {"max_bytes", kMaxFileBytes}});
  }
  toml::table root;
  try {
    root = toml::parse(text, source);
  } catch (const toml::parse_error& e) {
    const auto& at = e.source().begin;
    return invalid_argument(fmt::format("{}:{}:{}: TOML syntax error: {}", source, at.line, at.column, e.description()),
                            Json{{"reason", "syntax"}, {"line", at.line}, {"column", at.column}});
  }
  Options options;
  if (Status status = read_top(origin, root, options); !status.ok()) return status;
  return options;
}

}  // namespace

Result<Options> parse_config(std::string_view toml_text, const std::string& base_dir, std::string_view source) {
  try {
    return parse_text(toml_text, base_dir, source);
  } catch (const std::exception& e) {  // bad_alloc, filesystem errors: never across the API
    return internal_error(fmt::format("{}: {}", source, e.what()));
  }
}

Result<Options> load_config_file(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    const int err = errno;
    Status status = internal::errno_status(fmt::format("config file {}", path), err);
    if (status.code() == Code::kNotFound) return status;
    return Status(Code::kFailedPrecondition, status.message(), status.details());
  }
  std::string text;
  Status status;
  struct stat info {};
  if (::fstat(fd, &info) != 0 || !S_ISREG(info.st_mode)) {
    status = failed_precondition(fmt::format("config file {}: not a regular file", path));
  } else {
    // One byte past the cap tells a file that is too large (even if it grew).
    char buffer[16384];
    while (text.size() <= kMaxFileBytes) {
      const ssize_t n = ::read(fd, buffer, sizeof buffer);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) {
        const int err = errno;
        status = failed_precondition(internal::errno_status(fmt::format("config file {}", path), err).message());
        break;
      }
      if (n == 0) break;
      text.append(buffer, static_cast<std::size_t>(n));
    }
  }
  ::close(fd);
  if (!status.ok()) return status;
  std::error_code error;
  const auto absolute = std::filesystem::absolute(path, error);
  const std::string base_dir = error ? std::string() : absolute.parent_path().string();
  return parse_config(text, base_dir, path);
}

}  // namespace snakepit
