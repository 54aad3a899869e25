#include "base/backoff.h"

#include <gtest/gtest.h>

namespace snakepit::internal {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

RestartPolicy policy(double jitter = 0.0) {
  RestartPolicy p;
  p.backoff_initial = milliseconds(100);
  p.backoff_max = milliseconds(1000);
  p.jitter = jitter;
  p.max_restarts = 3;
  p.window = seconds(10);
  return p;
}

TEST(BackoffTest, BaseDelayDoublesUpToTheMaximum) {
  EXPECT_EQ(RestartTracker::base_delay(policy(), 1), milliseconds(100));
  EXPECT_EQ(RestartTracker::base_delay(policy(), 2), milliseconds(200));
  EXPECT_EQ(RestartTracker::base_delay(policy(), 4), milliseconds(800));
  EXPECT_EQ(RestartTracker::base_delay(policy(), 5), milliseconds(1000));
  EXPECT_EQ(RestartTracker::base_delay(policy(), 60), milliseconds(1000));
}

TEST(BackoffTest, IntensityLimitWithinTheWindow) {
  RestartTracker tracker(policy(), 1);
  const auto t0 = std::chrono::steady_clock::time_point{} + seconds(100);
  EXPECT_EQ(tracker.on_crash(t0), milliseconds(100));
  EXPECT_EQ(tracker.on_crash(t0 + seconds(1)), milliseconds(200));
  EXPECT_EQ(tracker.on_crash(t0 + seconds(2)), milliseconds(400));
  EXPECT_EQ(tracker.on_crash(t0 + seconds(3)), std::nullopt);  // 4th in 10 s
}

TEST(BackoffTest, OldCrashesLeaveTheWindow) {
  RestartTracker tracker(policy(), 1);
  const auto t0 = std::chrono::steady_clock::time_point{} + seconds(100);
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(tracker.on_crash(t0 + milliseconds(i)));
  // Ten seconds later the window is empty again: first-restart delay.
  EXPECT_EQ(tracker.on_crash(t0 + seconds(11)), milliseconds(100));
  EXPECT_EQ(tracker.recent_restarts(), 1);
}

TEST(BackoffTest, AFailedSlotMayRetryOnceCrashesLeaveTheWindow) {
  RestartTracker tracker(policy(), 1);
  const auto t0 = RestartTracker::TimePoint{};
  for (int i = 0; i < 4; ++i) (void)tracker.on_crash(t0 + seconds(i));
  EXPECT_FALSE(tracker.may_retry(t0 + seconds(5)));
  EXPECT_FALSE(tracker.may_retry(t0 + seconds(10)));  // 3 crashes still within the window
  EXPECT_TRUE(tracker.may_retry(t0 + seconds(11)));
  EXPECT_TRUE(tracker.on_crash(t0 + seconds(11)).has_value());
}

TEST(BackoffTest, JitterStaysWithinItsFraction) {
  RestartTracker tracker(policy(0.5), 42);
  auto t = std::chrono::steady_clock::time_point{} + seconds(100);
  bool varied = false;
  std::optional<milliseconds> first;
  for (int i = 0; i < 50; ++i) {
    RestartTracker fresh(policy(0.5), static_cast<std::uint64_t>(i));
    const auto delay = fresh.on_crash(t);
    ASSERT_TRUE(delay);
    EXPECT_GE(*delay, milliseconds(50));
    EXPECT_LE(*delay, milliseconds(150));
    if (first && *first != *delay) varied = true;
    first = delay;
  }
  EXPECT_TRUE(varied);
  (void)tracker;
}

}  // namespace
}  // namespace snakepit::internal
