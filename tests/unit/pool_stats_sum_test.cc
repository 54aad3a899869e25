// A pool split across event loops reports one PoolStats: the parts added up.
#include "snakepit/pool_stats_sum.h"

#include <gtest/gtest.h>

namespace snakepit::internal {
namespace {

PoolStats part(std::size_t size, std::uint64_t requests, std::size_t peak, int slot) {
  PoolStats stats;
  stats.size = size;
  stats.ready = size;
  stats.requests = requests;
  stats.succeeded = requests - 1;
  stats.errors["DeadlineExceeded"] = 1;
  stats.queue_depth = 2;
  stats.queue_peak = peak;
  stats.restart_reasons["crash"] = 1;
  stats.startup_duration = std::chrono::milliseconds(10 * slot + 10);
  stats.affinity_hits = 3;
  WorkerInfo worker;
  worker.slot = slot;
  stats.workers.push_back(worker);
  return stats;
}

TEST(PoolStatsSumTest, CountsAndMapsAddUpPeaksKeepTheLargest) {
  PoolStats total;
  add_pool_stats(total, part(2, 10, 7, 0));
  add_pool_stats(total, part(1, 5, 4, 2));
  EXPECT_EQ(total.size, 3u);
  EXPECT_EQ(total.ready, 3u);
  EXPECT_EQ(total.requests, 15u);
  EXPECT_EQ(total.succeeded, 13u);
  EXPECT_EQ(total.errors.at("DeadlineExceeded"), 2u);
  EXPECT_EQ(total.restart_reasons.at("crash"), 2u);
  EXPECT_EQ(total.queue_depth, 4u);
  EXPECT_EQ(total.queue_peak, 7u);
  EXPECT_EQ(total.startup_duration, std::chrono::milliseconds(30));
  EXPECT_EQ(total.affinity_hits, 6u);
  ASSERT_EQ(total.workers.size(), 2u);
  EXPECT_EQ(total.workers[1].slot, 2);
}

}  // namespace
}  // namespace snakepit::internal
