#include "pool/pool_counters.h"

namespace snakepit::internal {

void PoolCounters::request_finished(const Status& status) {
  ++requests_;
  if (status.ok()) {
    ++succeeded_;
  } else {
    ++errors_[std::string(code_name(status.code()))];
  }
}

void PoolCounters::restarted(const std::string& reason) {
  ++restarts_;
  ++restart_reasons_[reason];
}

void PoolCounters::fill(PoolStats& stats) const {
  stats.requests = requests_;
  stats.succeeded = succeeded_;
  stats.errors = errors_;
  stats.queue_timeouts = queue_timeouts_;
  stats.saturations = saturations_;
  stats.retries = retries_;
  stats.restarts = restarts_;
  stats.restart_reasons = restart_reasons_;
  stats.startup_duration = startup_duration_;
  stats.recycles = recycles_;
  stats.recycle_reasons = recycle_reasons_;
  stats.heartbeats_missed = heartbeats_missed_;
  stats.affinity_hits = affinity_hits_;
  stats.affinity_misses = affinity_misses_;
  stats.affinity_rebinds = affinity_rebinds_;
  stats.affinity_worker_lost = affinity_worker_lost_;
}

}  // namespace snakepit::internal
