// Time seam. The pool reads steady time through a Clock so tests of TTL and
// backoff logic can use FakeClock; asio timers still use real steady time.
#pragma once

#include <atomic>
#include <chrono>

namespace snakepit::internal {

using SteadyTime = std::chrono::steady_clock::time_point;

class Clock {
 public:
  virtual ~Clock() = default;
  virtual SteadyTime now() const = 0;
};

class RealClock final : public Clock {
 public:
  SteadyTime now() const override { return std::chrono::steady_clock::now(); }
};

// Thread-safe manual clock for tests.
class FakeClock final : public Clock {
 public:
  SteadyTime now() const override { return SteadyTime(std::chrono::nanoseconds(ns_.load())); }
  void advance(std::chrono::nanoseconds by) { ns_ += by.count(); }

 private:
  std::atomic<std::chrono::nanoseconds::rep> ns_{1'000'000'000};
};

}  // namespace snakepit::internal
