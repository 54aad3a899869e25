#include "pool/pool_counters.h"

#include <gtest/gtest.h>

namespace snakepit::internal {
namespace {

TEST(PoolCountersTest, CountsOutcomesByCode) {
  PoolCounters counters;
  counters.request_finished(Status{});
  counters.request_finished(Status{});
  counters.request_finished(unavailable("lost"));
  counters.request_finished(deadline_exceeded("late"));
  counters.request_finished(deadline_exceeded("late"));
  counters.queue_timeout();
  counters.saturated();
  counters.restarted("exit_code:3");
  counters.restarted("exit_code:3");
  counters.restarted("signal:SIGKILL");
  counters.set_startup_duration(std::chrono::milliseconds(42));

  PoolStats stats;
  counters.fill(stats);
  EXPECT_EQ(stats.requests, 5u);
  EXPECT_EQ(stats.succeeded, 2u);
  EXPECT_EQ(stats.errors.at("Unavailable"), 1u);
  EXPECT_EQ(stats.errors.at("DeadlineExceeded"), 2u);
  EXPECT_EQ(stats.queue_timeouts, 1u);
  EXPECT_EQ(stats.saturations, 1u);
  EXPECT_EQ(stats.restarts, 3u);
  EXPECT_EQ(stats.restart_reasons.at("exit_code:3"), 2u);
  EXPECT_EQ(stats.startup_duration, std::chrono::milliseconds(42));

  const Json json = to_json(stats);
  EXPECT_EQ(json["errors"]["DeadlineExceeded"], 2);
  EXPECT_EQ(json["startup_ms"], 42);
}

}  // namespace
}  // namespace snakepit::internal
