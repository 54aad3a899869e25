#include "pool/event_bus.h"

#include <array>

#include <spdlog/logger.h>

namespace snakepit {

std::string_view event_type_name(EventType type) {
  static constexpr std::array<std::string_view, 13> kNames = {
      "worker_starting", "worker_ready",   "worker_exited",     "worker_restart_scheduled", "worker_recycled",
      "worker_killed",   "slot_failed",    "heartbeat_missed",  "request_queued",           "request_started",
      "request_finished", "request_timed_out", "request_cancelled"};
  return kNames.at(static_cast<std::size_t>(type));
}

Json to_json(const Event& event) {
  Json out = {{"type", event_type_name(event.type)},
              {"time_ms", std::chrono::duration_cast<std::chrono::milliseconds>(event.time.time_since_epoch()).count()},
              {"pool", event.pool}};
  if (!event.worker_id.empty()) {
    out["worker_id"] = event.worker_id;
    out["pid"] = event.pid;
    out["slot"] = event.slot;
  }
  if (event.request_id != 0) {
    out["request_id"] = event.request_id;
    out["command"] = event.command;
    if (!event.session_id.empty()) out["session_id"] = event.session_id;
    out["queue_wait_us"] = event.queue_wait.count();
    out["run_time_us"] = event.run_time.count();
  }
  if (event.type == EventType::kRequestFinished) out["code"] = code_name(event.code);
  if (!event.reason.empty()) out["reason"] = event.reason;
  if (event.type == EventType::kWorkerRestartScheduled) out["delay_ms"] = event.delay.count();
  if (event.type == EventType::kHeartbeatMissed) out["missed"] = event.missed;
  if (event.details != nullptr) out["details"] = *event.details;
  return out;
}

}  // namespace snakepit

namespace snakepit::internal {

void EventBus::emit(Event& event) {
  event.time = std::chrono::system_clock::now();
  // By index: a handler may subscribe or unsubscribe while we iterate.
  for (std::size_t i = 0; i < handlers_.size(); ++i) {
    try {
      const auto handler = handlers_[i].second;
      (*handler)(event);
    } catch (const std::exception& e) {
      logger_->error("an event handler threw (handlers must not throw): {}", e.what());
    } catch (...) {
      logger_->error("an event handler threw (handlers must not throw)");
    }
  }
}

}  // namespace snakepit::internal
