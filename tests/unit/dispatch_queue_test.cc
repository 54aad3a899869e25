#include "pool/dispatch_queue.h"

#include <gtest/gtest.h>

namespace snakepit::internal {
namespace {

TEST(DispatchQueueTest, FifoOrder) {
  DispatchQueue<int> queue;
  for (int i = 0; i < 5; ++i) queue.push_back(i);
  EXPECT_EQ(queue.size(), 5u);
  for (int i = 0; i < 5; ++i) EXPECT_EQ(queue.pop_front(), i);
  EXPECT_EQ(queue.pop_front(), std::nullopt);
  EXPECT_TRUE(queue.empty());
}

TEST(DispatchQueueTest, RemovedItemNeverComesOut) {
  DispatchQueue<int> queue;
  queue.push_back(1);
  auto middle = queue.push_back(2);
  queue.push_back(3);
  queue.remove(middle);
  EXPECT_EQ(queue.pop_front(), 1);
  EXPECT_EQ(queue.pop_front(), 3);
  EXPECT_TRUE(queue.empty());
}

TEST(DispatchQueueTest, RetriesGoFirst) {
  DispatchQueue<int> queue;
  queue.push_back(1);
  queue.push_back(2);
  queue.push_front(0);
  EXPECT_EQ(queue.size(), 3u);
  EXPECT_EQ(queue.pop_front(), 0);
  EXPECT_EQ(queue.pop_front(), 1);
}

}  // namespace
}  // namespace snakepit::internal
