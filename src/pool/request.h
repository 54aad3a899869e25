// A request as the pool tracks it, from submission to completion. Owned by
// the loop; shared between the queue, the deadline timer and the worker
// running it, and completed exactly once.
#pragma once

#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <cstdint>
#include <list>
#include <memory>
#include <optional>
#include <string>

#include "snakepit/snakepit.h"

namespace snakepit::internal {

struct Request;
using RequestPtr = std::shared_ptr<Request>;

// A completion callback that fires exactly once: a callback destroyed
// without having fired (its request was dropped at shutdown) reports
// Unavailable instead of leaving its caller waiting forever.
class OnceCallback {
 public:
  OnceCallback() = default;
  explicit OnceCallback(ExecuteCallback fn) : fn_(std::move(fn)) {}
  OnceCallback(OnceCallback&& other) noexcept : fn_(std::exchange(other.fn_, nullptr)) {}
  OnceCallback& operator=(OnceCallback&& other) noexcept {
    if (this != &other) fn_ = std::exchange(other.fn_, nullptr);
    return *this;
  }
  ~OnceCallback() {
    if (fn_) fn_(unavailable("the pool stopped before handling the request", Json{{"reason", "pool_stopping"}}));
  }
  void operator()(Result<Json> result) {
    if (auto fn = std::exchange(fn_, nullptr)) fn(std::move(result));
  }

 private:
  ExecuteCallback fn_;
};

struct Request {
  Request(boost::asio::io_context& io) : timer(io) {}

  std::uint64_t id = 0;
  std::string command;
  Json args;
  bool idempotent = false;
  int attempts = 0;
  std::chrono::steady_clock::time_point deadline;
  std::chrono::steady_clock::time_point queued_at;
  OnceCallback done;

  bool finished = false;
  boost::asio::steady_timer timer;  // queue timeout, then the deadline
  std::optional<std::list<RequestPtr>::iterator> queue_position;
  int worker_slot = -1;  // while running
};

}  // namespace snakepit::internal
