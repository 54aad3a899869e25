// The counters behind PoolStats, kept in one place. Loop-only.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <string>

#include "snakepit/stats.h"
#include "snakepit/status.h"

namespace snakepit::internal {

class PoolCounters {
 public:
  void request_finished(const Status& status);
  void queue_timeout() { ++queue_timeouts_; }
  void saturated() { ++saturations_; }
  void retried() { ++retries_; }
  void restarted(const std::string& reason);
  void set_startup_duration(std::chrono::milliseconds d) { startup_duration_ = d; }
  void recycled(const std::string& reason) {
    ++recycles_;
    ++recycle_reasons_[reason];
  }
  void heartbeat_missed() { ++heartbeats_missed_; }
  void affinity_hit() { ++affinity_hits_; }
  void affinity_miss() { ++affinity_misses_; }
  void affinity_rebind() { ++affinity_rebinds_; }
  void affinity_worker_lost() { ++affinity_worker_lost_; }

  // Fills the counter fields of `stats` (not the worker or queue fields).
  void fill(PoolStats& stats) const;

 private:
  std::uint64_t requests_ = 0;
  std::uint64_t succeeded_ = 0;
  std::map<std::string, std::uint64_t> errors_;
  std::uint64_t queue_timeouts_ = 0;
  std::uint64_t saturations_ = 0;
  std::uint64_t retries_ = 0;
  std::uint64_t restarts_ = 0;
  std::map<std::string, std::uint64_t> restart_reasons_;
  std::chrono::milliseconds startup_duration_{0};
  std::uint64_t recycles_ = 0;
  std::map<std::string, std::uint64_t> recycle_reasons_;
  std::uint64_t heartbeats_missed_ = 0;
  std::uint64_t affinity_hits_ = 0;
  std::uint64_t affinity_misses_ = 0;
  std::uint64_t affinity_rebinds_ = 0;
  std::uint64_t affinity_worker_lost_ = 0;
};

}  // namespace snakepit::internal
