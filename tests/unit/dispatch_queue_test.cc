#include "pool/dispatch_queue.h"

#include <gtest/gtest.h>

namespace snakepit::internal {
namespace {

TEST(DispatchQueueTest, FifoOrder) {
  DispatchQueue<int> queue(10);
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(queue.push_back(i));
  for (int i = 0; i < 5; ++i) EXPECT_EQ(queue.pop_front(), i);
  EXPECT_EQ(queue.pop_front(), std::nullopt);
}

TEST(DispatchQueueTest, BoundedByMaxLength) {
  DispatchQueue<int> queue(2);
  EXPECT_TRUE(queue.push_back(1));
  EXPECT_TRUE(queue.push_back(2));
  EXPECT_FALSE(queue.push_back(3));
  EXPECT_EQ(queue.size(), 2u);
  queue.pop_front();
  EXPECT_TRUE(queue.push_back(3));
}

TEST(DispatchQueueTest, ZeroLengthQueueRejectsEverything) {
  DispatchQueue<int> queue(0);
  EXPECT_FALSE(queue.push_back(1));
  EXPECT_TRUE(queue.empty());
}

TEST(DispatchQueueTest, RemovedItemNeverComesOut) {
  DispatchQueue<int> queue(10);
  queue.push_back(1);
  auto middle = queue.push_back(2);
  queue.push_back(3);
  queue.remove(*middle);
  EXPECT_EQ(queue.pop_front(), 1);
  EXPECT_EQ(queue.pop_front(), 3);
  EXPECT_TRUE(queue.empty());
}

TEST(DispatchQueueTest, RetriesGoFirstAndPeakIsTracked) {
  DispatchQueue<int> queue(2);
  queue.push_back(1);
  queue.push_back(2);
  queue.push_front(0);  // admitted earlier: allowed past the bound
  EXPECT_EQ(queue.size(), 3u);
  EXPECT_EQ(queue.peak(), 3u);
  EXPECT_EQ(queue.pop_front(), 0);
}

}  // namespace
}  // namespace snakepit::internal
