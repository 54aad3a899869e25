#include "pool_flags.h"

#include <fmt/format.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <cstdint>
#include <filesystem>
#include <system_error>

#include "snakepit/config.h"
#include "split_command_line.h"

namespace snakepit::cli {
namespace {

// Positive, and small enough for any steady_clock arithmetic (~24 days).
CLI::Range millis_range() { return CLI::Range(std::int64_t{1}, std::int64_t{INT32_MAX}); }

// --affinity: one of the library's mode names, listed in the error.
CLI::Validator affinity_validator() {
  return CLI::Validator(
      [](std::string& value) -> std::string {
        if (affinity_from_name(value)) return {};
        return fmt::format("unknown affinity \"{}\"; allowed: {}, {}, {}", value,
                           affinity_name(Affinity::kHint), affinity_name(Affinity::kStrictQueue),
                           affinity_name(Affinity::kStrictFailFast));
      },
      "hint|strict_queue|strict_fail_fast", "affinity");
}

// Rejects --exec values that split_command_line() would reject, at parse time.
CLI::Validator command_line_validator() {
  return CLI::Validator(
      [](std::string& value) -> std::string {
        auto words = split_command_line(value);
        return words ? std::string() : words.status().message();
      },
      "COMMAND LINE", "command_line");
}

std::string absolute_path(const std::string& path) {
  std::error_code error;
  auto absolute = std::filesystem::absolute(path, error);
  return error ? path : absolute.lexically_normal().string();
}

}  // namespace

std::shared_ptr<spdlog::logger> make_logger(const std::string& level) {
  // Not registered globally: a program may hold several pools and loggers.
  auto sink = std::make_shared<spdlog::sinks::stderr_color_sink_mt>();
  auto logger = std::make_shared<spdlog::logger>("snakepit", std::move(sink));
  logger->set_level(spdlog::level::from_str(level));
  return logger;
}

void add_pool_flags(CLI::App& command, PoolFlags& flags, const std::string& size_help) {
  command.add_option("--size", flags.size, "Number of workers (" + size_help + ")")
      ->check(CLI::Range(std::size_t{1}, std::size_t{4096}))
      ->group("POOL");
  command.add_option("--adapter", flags.adapter, "Worker kind: python, node, or exec (any program)")
      ->check(CLI::IsMember({"python", "node", "exec"}))
      ->capture_default_str()
      ->group("POOL");
  auto* module =
      command.add_option("--module", flags.module,
                         "Adapter module the workers load (--adapter node: a .js path or \"generic\")")
          ->capture_default_str()
          ->group("POOL");
  auto* python_path = command
                          .add_option("--python-path", flags.python_path,
                                      "Extra PYTHONPATH entry for the adapter module (repeatable)")
                          ->allow_extra_args(false)
                          ->type_name("DIR")
                          ->group("POOL");
  command
      .add_option("--exec", flags.exec_line,
                  "Run any program as the worker, e.g. --exec \"node worker.js --fast\"; "
                  "split into words without a shell (quotes and \\ escapes work); "
                  "implies --adapter exec")
      ->check(command_line_validator())
      ->type_name("\"PROGRAM ARGS...\"")
      ->excludes(module)
      ->excludes(python_path)
      ->group("POOL");
  command
      .add_option("--protocol", flags.protocol,
                  "Worker protocol: native (default) or snakepit-v0 (original Snakepit bridges)")
      ->check(CLI::IsMember({"native", "snakepit-v0"}))
      ->group("POOL");
  command.add_option("--timeout-ms", flags.timeout_ms, "Default request deadline (queue + run)")
      ->check(millis_range())
      ->capture_default_str()
      ->group("POOL");
  command.add_option("--queue-timeout-ms", flags.queue_timeout_ms, "Longest wait in the queue")
      ->check(millis_range())
      ->capture_default_str()
      ->group("POOL");
  command.add_option("--max-queue", flags.max_queue, "Queued requests beyond this are rejected")
      ->check(CLI::Range(std::size_t{0}, std::size_t{100'000'000}))
      ->capture_default_str()
      ->group("POOL");
  command
      .add_option("--startup-timeout-ms", flags.startup_timeout_ms,
                  "Longest wait for a worker to start")
      ->check(millis_range())
      ->capture_default_str()
      ->group("POOL");
  command
      .add_option("--affinity", flags.affinity,
                  "Where session requests run: hint (default: the session's worker if idle, else "
                  "any), strict_queue (wait for it) or strict_fail_fast (fail if it is busy)")
      ->check(affinity_validator())
      ->group("POOL");
  command
      .add_option("--placement", flags.placement,
                  "Where the event loops and workers run: shared (one loop, any CPU) or per_core "
                  "(a loop per CPU, pinned with its workers; docs/performance.md)")
      ->check(CLI::IsMember({"shared", "per_core"}))
      ->capture_default_str()
      ->group("POOL");
  command.add_option("--log-level", flags.log_level, "Log level on stderr")
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error", "off"}))
      ->capture_default_str()
      ->group("POOL");
  // The file defines every pool completely: a flag beside it would leave
  // unclear which pool it changes, so only --log-level may join it.
  auto* config = command
                     .add_option("--config", flags.config,
                                 "Take the pools from this TOML file (docs/configuration.md); "
                                 "excludes the other POOL flags except --log-level")
                     ->type_name("FILE")
                     ->group("POOL");
  for (const char* name : {"--size", "--adapter", "--module", "--python-path", "--exec", "--protocol",
                           "--timeout-ms", "--queue-timeout-ms", "--max-queue", "--startup-timeout-ms",
                           "--affinity", "--placement"}) {
    config->excludes(command.get_option(name));
  }
}

void check_pool_flags(const CLI::App& command, const PoolFlags& flags) {
  const bool adapter_given = command.count("--adapter") > 0;
  if (!flags.exec_line.empty() && adapter_given && flags.adapter != "exec") {
    throw CLI::ValidationError("--exec",
                               "implies --adapter exec; it cannot be combined with "
                               "--adapter " +
                                   flags.adapter);
  }
  if (flags.adapter == "exec" && flags.exec_line.empty()) {
    throw CLI::ValidationError("--adapter", "exec needs --exec \"PROGRAM ARGS...\"");
  }
}

Result<Options> make_options(const PoolFlags& flags, std::size_t default_size) {
  if (!flags.config.empty()) {
    auto loaded = load_config_file(flags.config);
    if (!loaded) return loaded.status();
    for (auto& pool : loaded->pools) {
      if (pool.size == 0 && default_size > 0) pool.size = default_size;
    }
    loaded->logger = make_logger(flags.log_level);
    return loaded;
  }
  Options options;
  PoolOptions& pool = options.pool;
  pool.size = flags.size > 0 ? flags.size : default_size;
  if (!flags.exec_line.empty()) {
    auto argv = split_command_line(flags.exec_line);
    if (!argv) return Status(Code::kInvalidArgument, "--exec: " + argv.status().message());
    pool.adapter = adapters::exec(std::move(*argv));
  } else if (flags.adapter == "node") {
    // A file is made absolute (workers may run elsewhere); a module name is left for require().
    const std::string& module = flags.module;
    const bool is_file = module.find('/') != std::string::npos || module.ends_with(".js");
    pool.adapter = adapters::node(module == PoolFlags{}.module ? "generic" : is_file ? absolute_path(module) : module);
  } else {
    adapters::PythonOptions python;
    for (const auto& dir : flags.python_path) python.python_path.push_back(absolute_path(dir));
    pool.adapter = adapters::python(flags.module, std::move(python));
  }
  if (flags.protocol == "snakepit-v0") {
    pool.adapter.protocol = Protocol::kSnakepitV0;
  } else if (flags.protocol == "native") {
    pool.adapter.protocol = Protocol::kNative;
  } else if (!flags.protocol.empty()) {
    return Status(Code::kInvalidArgument, "--protocol: unknown protocol " + flags.protocol);
  }
  pool.request_timeout = Millis(flags.timeout_ms);
  pool.queue_timeout = Millis(flags.queue_timeout_ms);
  pool.startup_timeout = Millis(flags.startup_timeout_ms);
  pool.max_queue = flags.max_queue;
  if (!flags.affinity.empty()) {
    auto affinity = affinity_from_name(flags.affinity);
    if (!affinity)
      return Status(Code::kInvalidArgument, "--affinity: unknown mode " + flags.affinity);
    pool.affinity = *affinity;
  }
  // CLI11 admits only shared and per_core.
  options.placement = flags.placement == "per_core" ? Placement::kPerCore : Placement::kShared;
  options.logger = make_logger(flags.log_level);
  return options;
}

Result<Snakepit> start_pool(const PoolFlags& flags, std::size_t default_size) {
  auto options = make_options(flags, default_size);
  if (!options) {
    fmt::print(stderr, "{}\n", options.status().to_json().dump());
    return options.status();
  }
  auto pit = Snakepit::start(std::move(*options));
  if (!pit) fmt::print(stderr, "{}\n", pit.status().to_json().dump());
  return pit;
}

}  // namespace snakepit::cli
