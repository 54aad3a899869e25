#include "snakepit/pool_stats_sum.h"

#include <algorithm>

namespace snakepit::internal {
namespace {

void add_counts(std::map<std::string, std::uint64_t>& total, const std::map<std::string, std::uint64_t>& part) {
  for (const auto& [key, count] : part) total[key] += count;
}

}  // namespace

void add_pool_stats(PoolStats& total, const PoolStats& part) {
  total.size += part.size;
  total.ready += part.ready;
  total.busy += part.busy;
  total.starting += part.starting;
  total.failed_slots += part.failed_slots;
  total.requests += part.requests;
  total.succeeded += part.succeeded;
  add_counts(total.errors, part.errors);
  total.queue_depth += part.queue_depth;
  total.queue_peak = std::max(total.queue_peak, part.queue_peak);
  total.queue_timeouts += part.queue_timeouts;
  total.saturations += part.saturations;
  total.retries += part.retries;
  total.restarts += part.restarts;
  add_counts(total.restart_reasons, part.restart_reasons);
  total.recycles += part.recycles;
  add_counts(total.recycle_reasons, part.recycle_reasons);
  total.heartbeats_missed += part.heartbeats_missed;
  total.startup_duration = std::max(total.startup_duration, part.startup_duration);
  total.affinity_hits += part.affinity_hits;
  total.affinity_misses += part.affinity_misses;
  total.affinity_rebinds += part.affinity_rebinds;
  total.affinity_worker_lost += part.affinity_worker_lost;
  total.workers.insert(total.workers.end(), part.workers.begin(), part.workers.end());
}

}  // namespace snakepit::internal
