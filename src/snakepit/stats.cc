#include "snakepit/stats.h"

#include <array>

namespace snakepit {

std::string_view worker_state_name(WorkerState state) {
  static constexpr std::array<std::string_view, 6> kNames = {"starting", "ready",  "busy",
                                                             "stopping", "exited", "failed"};
  return kNames.at(static_cast<std::size_t>(state));
}

Json to_json(const WorkerInfo& info) {
  return {{"slot", info.slot},           {"id", info.id},
          {"pid", info.pid},             {"state", worker_state_name(info.state)},
          {"requests", info.requests},   {"restarts", info.restarts},
          {"last_exit", info.last_exit}};
}

Json to_json(const PoolStats& stats) {
  Json workers = Json::array();
  for (const auto& worker : stats.workers) workers.push_back(to_json(worker));
  Json out = {{"pool", stats.pool},
          {"size", stats.size},
          {"ready", stats.ready},
          {"busy", stats.busy},
          {"starting", stats.starting},
          {"failed_slots", stats.failed_slots},
          {"requests", stats.requests},
          {"succeeded", stats.succeeded},
          {"errors", stats.errors},
          {"queue_depth", stats.queue_depth},
          {"queue_peak", stats.queue_peak},
          {"queue_timeouts", stats.queue_timeouts},
          {"saturations", stats.saturations},
          {"retries", stats.retries},
          {"restarts", stats.restarts},
          {"restart_reasons", stats.restart_reasons},
          {"recycles", stats.recycles},
          {"recycle_reasons", stats.recycle_reasons},
          {"heartbeats_missed", stats.heartbeats_missed},
          {"startup_ms", stats.startup_duration.count()},
          {"affinity",
           {{"hits", stats.affinity_hits},
            {"misses", stats.affinity_misses},
            {"rebinds", stats.affinity_rebinds},
            {"worker_lost", stats.affinity_worker_lost}}},
          {"sessions", to_json(stats.sessions)},
          {"workers", std::move(workers)}};
  if (!stats.start_error.empty()) out["start_error"] = stats.start_error;
  return out;
}

}  // namespace snakepit
