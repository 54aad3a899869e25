#include "base/backoff.h"

#include <algorithm>

namespace snakepit::internal {

RestartTracker::RestartTracker(RestartPolicy policy, std::uint64_t seed) : policy_(policy), rng_(seed) {}

Millis RestartTracker::base_delay(const RestartPolicy& policy, int n) {
  auto delay = policy.backoff_initial;
  for (int i = 1; i < n && delay < policy.backoff_max; ++i) delay *= 2;
  return std::min(delay, policy.backoff_max);
}

void RestartTracker::forget_before(TimePoint now) {
  while (!crashes_.empty() && now - crashes_.front() >= policy_.window) crashes_.pop_front();
}

bool RestartTracker::may_retry(TimePoint now) {
  forget_before(now);
  return recent_restarts() < policy_.max_restarts;
}

std::optional<Millis> RestartTracker::on_crash(TimePoint now) {
  forget_before(now);
  crashes_.push_back(now);
  const int n = recent_restarts();
  if (n > policy_.max_restarts) return std::nullopt;
  const auto base = base_delay(policy_, n);
  std::uniform_real_distribution<double> spread(1.0 - policy_.jitter, 1.0 + policy_.jitter);
  const auto jittered = static_cast<Millis::rep>(static_cast<double>(base.count()) * spread(rng_));
  return Millis(std::max<Millis::rep>(0, jittered));
}

}  // namespace snakepit::internal
