// A request as the pool tracks it, from submission to completion. Owned by
// the loop; shared between the queue, the deadline timer and the worker
// running it, and completed exactly once.
#pragma once

#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <list>
#include <memory>
#include <optional>
#include <string>

#include "pool/stream_channel.h"
#include "snakepit/snakepit.h"

namespace snakepit::internal {

struct Request;
using RequestPtr = std::shared_ptr<Request>;

// Called with the outcome and the request (null when the request never
// reached the pool).
using RequestCallback = std::function<void(Result<Json>, const Request*)>;

// A completion callback that fires exactly once: a callback destroyed
// without having fired (its request was dropped at shutdown) reports
// Unavailable instead of leaving its caller waiting forever.
class OnceCallback {
 public:
  OnceCallback() = default;
  explicit OnceCallback(RequestCallback fn) : fn_(std::move(fn)) {}
  OnceCallback(OnceCallback&& other) noexcept : fn_(std::exchange(other.fn_, nullptr)) {}
  OnceCallback& operator=(OnceCallback&& other) noexcept {
    if (this != &other) fn_ = std::exchange(other.fn_, nullptr);
    return *this;
  }
  ~OnceCallback() {
    if (fn_) {
      fn_(unavailable("the pool stopped before handling the request", Json{{"reason", "pool_stopping"}}), nullptr);
    }
  }
  void operator()(Result<Json> result, const Request* request) {
    if (auto fn = std::exchange(fn_, nullptr)) fn(std::move(result), request);
  }

 private:
  RequestCallback fn_;
};

struct Request {
  Request(boost::asio::io_context& io) : timer(io) {}

  std::uint64_t id = 0;
  std::size_t pool_index = 0;  // which of the Snakepit's pools runs it (cancels are routed by it)
  std::string command;
  Json args;
  bool idempotent = false;
  int attempts = 0;
  std::chrono::steady_clock::time_point deadline;
  std::chrono::steady_clock::time_point submitted_at;
  std::chrono::steady_clock::time_point queued_at;
  std::chrono::steady_clock::time_point started_at;  // last sent to a worker; epoch: never
  OnceCallback done;

  // Session requests (execute_in_session) only.
  std::string session_id;
  std::optional<Affinity> affinity;  // unset: the pool's
  std::string bound_worker;          // the session's worker when the request arrived
  bool session_created = false;
  std::string previous_worker;       // set when this request moved the session

  // Streamed requests only: where chunks go, and the longest gap between them.
  std::shared_ptr<StreamChannel> stream;
  std::chrono::milliseconds chunk_timeout{0};
  std::unique_ptr<boost::asio::steady_timer> gap_timer;

  bool finished = false;
  boost::asio::steady_timer timer;  // queue timeout, then the deadline
  std::optional<std::list<RequestPtr>::iterator> queue_position;
  int pinned_slot = -1;  // queued for one worker only (strict_queue)
  int worker_slot = -1;  // while running
  std::string worker_id;  // the last worker it ran on
  int worker_pid = 0;
};

}  // namespace snakepit::internal
