#include "snakepit/options_validation.h"

#include <algorithm>
#include <thread>

#include <fmt/format.h>

namespace snakepit {

namespace {
constexpr std::pair<Affinity, std::string_view> kAffinityNames[] = {
    {Affinity::kHint, "hint"}, {Affinity::kStrictQueue, "strict_queue"}, {Affinity::kStrictFailFast, "strict_fail_fast"}};
}  // namespace

std::string_view affinity_name(Affinity affinity) {
  for (const auto& [value, name] : kAffinityNames) {
    if (value == affinity) return name;
  }
  return "unknown";
}

std::optional<Affinity> affinity_from_name(std::string_view name) {
  for (const auto& [value, known] : kAffinityNames) {
    if (known == name) return value;
  }
  return std::nullopt;
}

}  // namespace snakepit

namespace snakepit::internal {
namespace {

Status check_range(std::string_view field, long long value, long long min, long long max) {
  if (value >= min && value <= max) return {};
  return invalid_argument(fmt::format("{} must be between {} and {}, got {}", field, min, max, value),
                          Json{{"field", field}, {"value", value}, {"min", min}, {"max", max}});
}

// `prefix` names the pool in errors: "pool" alone, "pools.<name>" among several.
Status normalize_pool(PoolOptions& pool, const std::string& prefix) {
  if (pool.size == 0) pool.size = 2 * std::max(1u, std::thread::hardware_concurrency());
  if (pool.adapter.executable.empty()) {
    Adapter hooks = std::move(pool.adapter);
    pool.adapter = adapters::python();
    pool.adapter.commands = std::move(hooks.commands);
    pool.adapter.command_timeouts = std::move(hooks.command_timeouts);
    pool.adapter.validate_args = std::move(hooks.validate_args);
  }
  const auto field = [&prefix](std::string_view name) { return fmt::format("{}.{}", prefix, name); };
  if (pool.name.empty() || pool.name.size() > 64 ||
      pool.name.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-.") !=
          std::string::npos) {
    return invalid_argument(fmt::format("{} must be 1 to 64 characters of [A-Za-z0-9_.-]", field("name")),
                            Json{{"field", field("name")}});
  }
  constexpr long long kHour = 3'600'000;
  const Status checks[] = {
      check_range(field("size"), static_cast<long long>(pool.size), 1, 4096),
      check_range(field("startup_timeout_ms"), pool.startup_timeout.count(), 1, kHour),
      check_range(field("request_timeout_ms"), pool.request_timeout.count(), 1, 24 * kHour),
      check_range(field("queue_timeout_ms"), pool.queue_timeout.count(), 1, 24 * kHour),
      check_range(field("max_queue"), static_cast<long long>(pool.max_queue), 0, 10'000'000),
      check_range(field("cancel_grace_ms"), pool.cancel_grace.count(), 0, kHour),
      check_range(field("stop_grace_ms"), pool.stop_grace.count(), 0, kHour),
      check_range(field("kill_grace_ms"), pool.kill_grace.count(), 0, kHour),
      check_range(field("max_frame_bytes"), pool.max_frame_bytes, 1024, 1LL << 30),
      check_range(field("max_log_line"), static_cast<long long>(pool.max_log_line), 64, 1 << 20),
      check_range(field("restart.backoff_initial_ms"), pool.restart.backoff_initial.count(), 0, kHour),
      check_range(field("restart.backoff_max_ms"), pool.restart.backoff_max.count(),
                  pool.restart.backoff_initial.count(), kHour),
      check_range(field("restart.max_restarts"), pool.restart.max_restarts, 0, 1'000'000),
      check_range(field("restart.window_ms"), pool.restart.window.count(), 1, 24 * kHour),
      check_range(field("stack_dump_grace_ms"), pool.stack_dump_grace.count(), 0, kHour),
      check_range(field("heartbeat.interval_ms"), pool.heartbeat.interval.count(), 0, 24 * kHour),
      check_range(field("heartbeat.timeout_ms"), pool.heartbeat.timeout.count(), 1, kHour),
      check_range(field("heartbeat.max_missed"), pool.heartbeat.max_missed, 1, 1000),
      check_range(field("stream_window"), static_cast<long long>(pool.stream_window), 1, 1'000'000),
      check_range(field("max_calls_in_flight"), pool.max_calls_in_flight, 1, 10'000),
      check_range(field("worker_threads"), pool.worker_threads, 0, 4096),
      check_range(field("recycle.max_lifetime_ms"), pool.recycle.max_lifetime.count(), 0, 365 * 24 * kHour),
      check_range(field("recycle.max_idle_ms"), pool.recycle.max_idle.count(), 0, 365 * 24 * kHour),
      check_range(field("recycle.check_interval_ms"), pool.recycle.check_interval.count(), 1, kHour),
      check_range(field("adapter.commands"), static_cast<long long>(pool.adapter.commands.size()), 0, 10'000),
      check_range(field("adapter.command_timeouts"), static_cast<long long>(pool.adapter.command_timeouts.size()),
                  0, 10'000),
  };
  for (const auto& status : checks) {
    if (!status.ok()) return status;
  }
  if (!(pool.recycle.max_requests_jitter >= 0.0 && pool.recycle.max_requests_jitter < 1.0)) {
    return invalid_argument(fmt::format("{} must be in [0, 1), got {}", field("recycle.max_requests_jitter"),
                                        pool.recycle.max_requests_jitter),
                            Json{{"field", field("recycle.max_requests_jitter")}});
  }
  if (!(pool.restart.jitter >= 0.0 && pool.restart.jitter < 1.0)) {
    return invalid_argument(fmt::format("{} must be in [0, 1), got {}", field("restart.jitter"), pool.restart.jitter),
                            Json{{"field", field("restart.jitter")}});
  }
  for (const auto& command : pool.adapter.commands) {
    if (command.empty() || command.size() > 256) {
      return invalid_argument(fmt::format("{} entries must be 1 to 256 bytes", field("adapter.commands")),
                              Json{{"field", field("adapter.commands")}});
    }
  }
  for (const auto& [command, timeout] : pool.adapter.command_timeouts) {
    const std::string name = field(fmt::format("adapter.command_timeouts.{}", command.substr(0, 256)));
    if (command.empty() || command.size() > 256) {
      return invalid_argument(fmt::format("{} keys must be 1 to 256 bytes", field("adapter.command_timeouts")),
                              Json{{"field", field("adapter.command_timeouts")}});
    }
    if (auto status = check_range(name, timeout.count(), 1, 24 * kHour); !status.ok()) return status;
  }
  return {};
}

}  // namespace

Status normalize_options(Options& options) {
  const bool several = !options.pools.empty();
  if (!several) options.pools.push_back(options.pool);
  if (auto status = check_range("pools", static_cast<long long>(options.pools.size()), 1, 64); !status.ok()) {
    return status;
  }
  for (auto& pool : options.pools) {
    const std::string prefix = several ? fmt::format("pools.{}", pool.name.substr(0, 64)) : "pool";
    if (auto status = normalize_pool(pool, prefix); !status.ok()) return status;
  }
  for (std::size_t i = 0; i < options.pools.size(); ++i) {
    for (std::size_t j = 0; j < i; ++j) {
      if (options.pools[i].name == options.pools[j].name) {
        return invalid_argument(fmt::format("two pools are named {}; pool names must be unique", options.pools[i].name),
                                Json{{"field", "pools"}, {"name", options.pools[i].name}});
      }
    }
  }
  if (!options.default_pool.empty() &&
      std::none_of(options.pools.begin(), options.pools.end(),
                   [&](const PoolOptions& pool) { return pool.name == options.default_pool; })) {
    return invalid_argument(fmt::format("default_pool {} names no pool", options.default_pool.substr(0, 64)),
                            Json{{"field", "default_pool"}});
  }
  if (options.default_pool.empty()) options.default_pool = options.pools.front().name;
  if (!several) options.pool = options.pools.front();
  const Status checks[] = {
      check_range("sessions.sweep_interval_ms", options.sessions.sweep_interval.count(), 1, 3'600'000),
      check_range("sessions.sweep_budget_us", options.sessions.sweep_budget.count(), 1, 1'000'000),
  };
  for (const auto& status : checks) {
    if (!status.ok()) return status;
  }
  return {};
}

}  // namespace snakepit::internal
