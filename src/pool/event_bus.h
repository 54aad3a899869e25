// The subscribers of one event loop's telemetry events. Loop-only: subscribe,
// unsubscribe and emit all run on the loop thread, so no lock is needed and a
// handler may unsubscribe itself. With one loop per CPU each loop has its
// own bus; the facade gives a subscriber the same id on all of them.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "base/log.h"
#include "snakepit/events.h"

namespace snakepit::internal {

class EventBus {
 public:
  explicit EventBus(LoggerPtr logger) : logger_(std::move(logger)) {}

  // REQUIRES: `id` not subscribed yet.
  void subscribe(std::uint64_t id, std::shared_ptr<const EventHandler> handler) {
    handlers_.emplace_back(id, std::move(handler));
  }
  void unsubscribe(std::uint64_t id) { std::erase_if(handlers_, [id](const auto& h) { return h.first == id; }); }

  // Callers test this before building an event: no subscriber, no cost.
  bool active() const { return !handlers_.empty(); }
  // Stamps the time and delivers to every handler; a throwing handler is logged.
  void emit(Event& event);

 private:
  LoggerPtr logger_;
  // Shared, so a handler that unsubscribes itself stays alive through its call.
  std::vector<std::pair<std::uint64_t, std::shared_ptr<const EventHandler>>> handlers_;
};

}  // namespace snakepit::internal
