#include "snakepit/options_validation.h"

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

}  // namespace

Status normalize_options(Options& options) {
  PoolOptions& pool = options.pool;
  if (pool.size == 0) pool.size = 2 * std::max(1u, std::thread::hardware_concurrency());
  if (pool.adapter.executable.empty()) pool.adapter = adapters::python();
  if (pool.name.empty() || pool.name.size() > 64) {
    return invalid_argument("pool.name must be 1 to 64 characters", Json{{"field", "pool.name"}});
  }
  constexpr long long kHour = 3'600'000;
  const Status checks[] = {
      check_range("pool.size", static_cast<long long>(pool.size), 1, 4096),
      check_range("pool.startup_timeout_ms", pool.startup_timeout.count(), 1, kHour),
      check_range("pool.request_timeout_ms", pool.request_timeout.count(), 1, 24 * kHour),
      check_range("pool.queue_timeout_ms", pool.queue_timeout.count(), 1, 24 * kHour),
      check_range("pool.max_queue", static_cast<long long>(pool.max_queue), 0, 10'000'000),
      check_range("pool.cancel_grace_ms", pool.cancel_grace.count(), 0, kHour),
      check_range("pool.stop_grace_ms", pool.stop_grace.count(), 0, kHour),
      check_range("pool.kill_grace_ms", pool.kill_grace.count(), 0, kHour),
      check_range("pool.max_frame_bytes", pool.max_frame_bytes, 1024, 1LL << 30),
      check_range("pool.max_log_line", static_cast<long long>(pool.max_log_line), 64, 1 << 20),
      check_range("pool.restart.backoff_initial_ms", pool.restart.backoff_initial.count(), 0, kHour),
      check_range("pool.restart.backoff_max_ms", pool.restart.backoff_max.count(),
                  pool.restart.backoff_initial.count(), kHour),
      check_range("pool.restart.max_restarts", pool.restart.max_restarts, 0, 1'000'000),
      check_range("pool.restart.window_ms", pool.restart.window.count(), 1, 24 * kHour),
      check_range("pool.stack_dump_grace_ms", pool.stack_dump_grace.count(), 0, kHour),
      check_range("pool.heartbeat.interval_ms", pool.heartbeat.interval.count(), 0, 24 * kHour),
      check_range("pool.heartbeat.timeout_ms", pool.heartbeat.timeout.count(), 1, kHour),
      check_range("pool.heartbeat.max_missed", pool.heartbeat.max_missed, 1, 1000),
      check_range("pool.stream_window", static_cast<long long>(pool.stream_window), 1, 1'000'000),
      check_range("pool.max_calls_in_flight", pool.max_calls_in_flight, 1, 10'000),
      check_range("pool.worker_threads", pool.worker_threads, 0, 4096),
      check_range("pool.recycle.max_lifetime_ms", pool.recycle.max_lifetime.count(), 0, 365 * 24 * kHour),
      check_range("pool.recycle.max_idle_ms", pool.recycle.max_idle.count(), 0, 365 * 24 * kHour),
      check_range("pool.recycle.check_interval_ms", pool.recycle.check_interval.count(), 1, kHour),
      check_range("sessions.sweep_interval_ms", options.sessions.sweep_interval.count(), 1, kHour),
      check_range("sessions.sweep_budget_us", options.sessions.sweep_budget.count(), 1, 1'000'000),
  };
  for (const auto& status : checks) {
    if (!status.ok()) return status;
  }
  if (!(pool.recycle.max_requests_jitter >= 0.0 && pool.recycle.max_requests_jitter < 1.0)) {
    return invalid_argument(
        fmt::format("pool.recycle.max_requests_jitter must be in [0, 1), got {}", pool.recycle.max_requests_jitter),
        Json{{"field", "pool.recycle.max_requests_jitter"}});
  }
  if (!(pool.restart.jitter >= 0.0 && pool.restart.jitter < 1.0)) {
    return invalid_argument(fmt::format("pool.restart.jitter must be in [0, 1), got {}", pool.restart.jitter),
                            Json{{"field", "pool.restart.jitter"}});
  }
  return {};
}

}  // namespace snakepit::internal
