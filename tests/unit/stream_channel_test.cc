#include "pool/stream_channel.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>

namespace snakepit::internal {
namespace {

TEST(StreamChannelTest, PushSaysWhenTheWindowIsFullAndResumesAtHalf) {
  int resumes = 0;
  StreamChannel channel(4, nullptr);
  channel.set_resume([&] { ++resumes; });
  EXPECT_TRUE(channel.push(1));
  EXPECT_TRUE(channel.push(2));
  EXPECT_TRUE(channel.push(3));
  EXPECT_FALSE(channel.push(4)) << "the fourth chunk fills the window";
  EXPECT_EQ(channel.try_pop()->chunk, Json(1));
  EXPECT_EQ(resumes, 0) << "3 still wait: above half the window";
  EXPECT_EQ(channel.try_pop()->chunk, Json(2));
  EXPECT_EQ(resumes, 1);
  EXPECT_EQ(channel.try_pop()->chunk, Json(3));
  EXPECT_EQ(resumes, 1) << "resumed once per pause";
}

TEST(StreamChannelTest, ChunksThenTheFinalStatusThenNothing) {
  StreamChannel channel(8, nullptr);
  channel.push("a");
  channel.finish(Json("done"));
  channel.push("late");  // after the end: dropped
  channel.finish(internal_error("second final"));
  auto first = channel.try_pop();
  ASSERT_TRUE(first && first->chunk);
  EXPECT_EQ(*first->chunk, "a");
  auto last = channel.try_pop();
  ASSERT_TRUE(last && last->final);
  EXPECT_EQ(**last->final, "done");
  EXPECT_FALSE(channel.try_pop());
}

TEST(StreamChannelTest, WakesAnIdleConsumerOncePerBatch) {
  int wakes = 0;
  StreamChannel channel(8, [&] { ++wakes; });
  channel.push(1);
  channel.push(2);
  EXPECT_EQ(wakes, 1) << "the consumer was already woken";
  while (channel.try_pop()) {
  }
  channel.push(3);
  EXPECT_EQ(wakes, 2) << "it had found the channel empty";
}

TEST(StreamChannelTest, DiscardDropsWaitingAndLaterChunksAndResumesTheProducer) {
  int resumes = 0;
  StreamChannel channel(2, nullptr);
  channel.set_resume([&] { ++resumes; });
  channel.push(1);
  EXPECT_FALSE(channel.push(2));
  channel.discard_chunks();
  EXPECT_EQ(resumes, 1);
  EXPECT_TRUE(channel.push(3));
  channel.finish(Json("end"));
  auto item = channel.try_pop();
  ASSERT_TRUE(item && item->final);
  EXPECT_EQ(**item->final, "end");
}

TEST(StreamChannelTest, ABlockingConsumerGetsEverythingInOrderFromAnotherThread) {
  StreamChannel channel(16, nullptr);
  std::atomic<bool> paused{false};
  channel.set_resume([&] { paused = false; });
  constexpr int kChunks = 20000;
  std::thread producer([&] {
    for (int i = 0; i < kChunks; ++i) {
      while (paused.load()) std::this_thread::yield();
      paused = true;  // before push: a resume may come as soon as push has paused
      if (channel.push(i)) paused = false;
    }
    channel.finish(Json(kChunks));
  });
  int expected = 0;
  bool in_order = true;
  while (true) {
    auto item = channel.pop();
    if (item.final) {
      EXPECT_EQ(**item.final, kChunks);
      break;
    }
    in_order = in_order && *item.chunk == expected++;
  }
  producer.join();
  EXPECT_TRUE(in_order);
  EXPECT_EQ(expected, kChunks);
}

}  // namespace
}  // namespace snakepit::internal
