// Restart pacing for one worker slot: exponential backoff with jitter and an
// intensity limit (at most max_restarts restarts within a sliding window).
// Pure logic over a caller-supplied clock reading, so it is tested without time.
#pragma once

#include <chrono>
#include <deque>
#include <optional>
#include <random>

#include "snakepit/options.h"

namespace snakepit::internal {

class RestartTracker {
 public:
  using TimePoint = std::chrono::steady_clock::time_point;

  explicit RestartTracker(RestartPolicy policy, std::uint64_t seed = std::random_device{}());

  // Records a crash at `now`. Returns the delay before the restart, or
  // nullopt when the slot exceeded its intensity limit and must stay down.
  std::optional<Millis> on_crash(TimePoint now);

  // Whether a slot that exceeded the limit may try again at `now`: enough
  // of its crashes have left the window.
  bool may_retry(TimePoint now);

  // Restarts counted in the current window (after the last on_crash).
  int recent_restarts() const { return static_cast<int>(crashes_.size()); }

  // Un-jittered delay for the n-th restart in a window (n >= 1).
  static Millis base_delay(const RestartPolicy& policy, int n);

 private:
  void forget_before(TimePoint now);

  RestartPolicy policy_;
  std::deque<TimePoint> crashes_;
  std::mt19937_64 rng_;
};

}  // namespace snakepit::internal
