// Streams with real Python workers: chunks in order and as they are produced,
// a consumer that stops, a slow consumer (the worker is paused, not
// buffered), a worker dying mid-stream, long streams, deadlines on the gap
// between chunks, the async form and its handle, and cancellation of plain
// requests (queued and running).
#include <atomic>
#include <future>
#include <mutex>
#include <thread>

#include <gtest/gtest.h>

#include "snakepit/snakepit.h"
#include "tests/integration/test_support.h"

namespace snakepit::testing {
namespace {

class StreamTest : public HygieneCheckedTest {};

StreamControl keep(std::vector<Json>& into, const Json& chunk) {
  into.push_back(chunk);
  return StreamControl::kContinue;
}

TEST_F(StreamTest, ChunksArriveInOrderWhileTheCommandStillRuns) {
  Snakepit pit = start_or_die(generic_options(1));
  // The command calls `gate` before each chunk; the gate for chunk 1 opens
  // only once the consumer has seen chunk 0. Chunks delivered in one burst
  // at the end would leave it closed.
  std::promise<void> saw_first;
  auto first_seen = saw_first.get_future().share();
  std::atomic<bool> gate_timed_out{false};
  ASSERT_TRUE(pit.register_function({"gate", "waits for the consumer", [&](Json args, const CallContext&) -> Result<Json> {
                                       if (args["i"] == 1 && first_seen.wait_for(kHangBound) != std::future_status::ready) {
                                         gate_timed_out = true;
                                       }
                                       return Json(true);
                                     }})
                  .ok());
  std::vector<Json> chunks;
  auto result = pit.execute_stream("stream_calls", {{"n", 3}, {"function", "gate"}}, [&](Json chunk) {
    if (chunks.empty()) saw_first.set_value();
    return keep(chunks, chunk);
  });
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_FALSE(gate_timed_out) << "chunk 0 reached the consumer only after the command ended";
  ASSERT_EQ(chunks.size(), 3u);
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(chunks[i]["i"], i);
    EXPECT_EQ(chunks[i]["result"], true);
  }
}

TEST_F(StreamTest, FinalValueAndTenThousandChunksInOrder) {
  Snakepit pit = start_or_die(generic_options(1));
  int expected = 0;
  bool in_order = true;
  auto result = pit.execute_stream("count", {{"n", 10000}}, [&](Json chunk) {
    in_order = in_order && chunk["i"] == expected;
    ++expected;
    return StreamControl::kContinue;
  });
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(*result, (Json{{"count", 10000}}));
  EXPECT_EQ(expected, 10000);
  EXPECT_TRUE(in_order);
}

TEST_F(StreamTest, StopAfterNChunksReturnsTheWorkerToThePool) {
  Options options = generic_options(1);
  options.pool.cancel_grace = 20s;  // a worker that ignored the cancel would be killed only after this
  Snakepit pit = start_or_die(options);
  const pid_t pid = worker_pid(pit, 0);
  int seen = 0;
  auto result = pit.execute_stream("count", {{"n", 10'000'000}}, [&](Json) {
    return ++seen == 3 ? StreamControl::kStop : StreamControl::kContinue;
  });
  EXPECT_EQ(result.status().code(), Code::kCancelled);
  EXPECT_EQ(result.status().details()["reason"], "stopped_by_consumer");
  EXPECT_EQ(seen, 3) << "no chunk after kStop";
  // The same worker, not a replacement, serves the next request.
  auto next = call(pit, "ping");
  ASSERT_TRUE(next.ok()) << next.status();
  EXPECT_EQ(worker_pid(pit, 0), pid);
  EXPECT_EQ(pit.stats().workers[0].restarts, 0);
}

TEST_F(StreamTest, ASlowConsumerPausesTheWorkerInsteadOfBuffering) {
  Options options = misbehaving_options(1);
  options.pool.stream_window = 4;
  Snakepit pit = start_or_die(options);
  std::atomic<int> produced{-1};
  ASSERT_TRUE(pit.register_function({"progress", "", [&](Json args, const CallContext&) -> Result<Json> {
                                       produced = args["i"].get<int>();
                                       return Json(nullptr);
                                     }})
                  .ok());
  constexpr int kChunks = 60;
  constexpr int kSize = 256 << 10;  // the 1 MiB pipe holds 4
  int consumed = 0;
  int max_ahead = 0;
  bool content_ok = true;
  auto result = pit.execute_stream("paced_stream", {{"n", kChunks}, {"size", kSize}, {"function", "progress"}},
                                   [&](Json chunk) {
                                     const std::string_view data = bytes_view(chunk);
                                     content_ok = content_ok && data.size() == kSize &&
                                                  static_cast<unsigned char>(data[0]) == consumed % 256;
                                     max_ahead = std::max(max_ahead, produced.load() - consumed);
                                     ++consumed;
                                     std::this_thread::sleep_for(3ms);  // a slow consumer, not a synchronisation
                                     return StreamControl::kContinue;
                                   });
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(consumed, kChunks);
  EXPECT_TRUE(content_ok);
  // Window (4) + pipe (4) + one frame being read + one being written, with slack:
  // an unbounded host would let the producer finish long before the consumer.
  EXPECT_LE(max_ahead, 14) << "the producer ran ahead of a slow consumer";
}

TEST_F(StreamTest, AStreamPausedForItsConsumerStillEndsCleanlyAtItsDeadline) {
  Options options = generic_options(1);
  options.pool.stream_window = 2;
  options.pool.cancel_grace = 20s;  // a worker nobody listened to would be killed only after this
  std::promise<void> timed_out;
  std::atomic<bool> once{true};
  options.on_event = [&](const Event& event) {
    if (event.type == EventType::kRequestTimedOut && once.exchange(false)) timed_out.set_value();
  };
  Snakepit pit = start_or_die(options);
  const pid_t pid = worker_pid(pit, 0);
  auto deadline_passed = timed_out.get_future();
  int seen = 0;
  auto result = pit.execute_stream(
      "stream_bytes", {{"n", 1000}, {"size", 256 << 10}},
      [&](Json) {
        // A consumer stalled on its first chunk until the deadline has passed (the worker is paused meanwhile).
        if (seen++ == 0) {
          EXPECT_EQ(deadline_passed.wait_for(kHangBound), std::future_status::ready);
        }
        return StreamControl::kContinue;
      },
      with_timeout(300ms));
  EXPECT_EQ(result.status().code(), Code::kDeadlineExceeded) << result.status();
  EXPECT_LT(seen, 10);
  // The paused worker heard the cancel, ended the stream and serves again.
  auto next = call(pit, "ping");
  ASSERT_TRUE(next.ok()) << next.status();
  EXPECT_EQ(worker_pid(pit, 0), pid);
}

TEST_F(StreamTest, AWorkerDyingMidStreamEndsItUnavailableAfterItsChunks) {
  Snakepit pit = start_or_die(generic_options(1));
  std::vector<Json> chunks;
  auto result = pit.execute_stream("count", {{"n", 10}, {"crash_after", 3}},
                                   [&](Json chunk) { return keep(chunks, chunk); });
  EXPECT_EQ(result.status().code(), Code::kUnavailable) << result.status();
  ASSERT_EQ(chunks.size(), 3u);
  EXPECT_EQ(chunks[2]["i"], 2);
}

TEST_F(StreamTest, NonStreamingCommandsStreamTheirResultAsTheFinalValue) {
  Snakepit pit = start_or_die(generic_options(1));
  std::vector<Json> chunks;
  auto result = pit.execute_stream("echo", {{"x", 1}}, [&](Json chunk) { return keep(chunks, chunk); });
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_TRUE(chunks.empty());
  EXPECT_EQ((*result)["x"], 1);
  // And a streaming command run without streaming returns its chunks as a list.
  auto listed = call(pit, "count", {{"n", 3}});
  ASSERT_TRUE(listed.ok()) << listed.status();
  EXPECT_EQ(*listed, (Json{{{"i", 0}}, {{"i", 1}}, {{"i", 2}}}));
}

TEST_F(StreamTest, TheGapBetweenChunksHasItsOwnDeadline) {
  Snakepit pit = start_or_die(generic_options(1));
  ExecuteOptions options;
  options.chunk_timeout = 300ms;
  std::vector<Json> chunks;
  auto result = pit.execute_stream("count", {{"n", 3}, {"delay_ms", 1500}},
                                   [&](Json chunk) { return keep(chunks, chunk); }, options);
  EXPECT_EQ(result.status().code(), Code::kDeadlineExceeded);
  EXPECT_EQ(result.status().details()["reason"], "chunk_timeout");
  EXPECT_TRUE(chunks.empty());
  EXPECT_TRUE(call(pit, "ping").ok());  // the cancelled worker serves again
}

TEST_F(StreamTest, AStreamInASessionSeesTheSession) {
  Snakepit pit = start_or_die(generic_options(1));
  ASSERT_TRUE(pit.register_session_function("s-1", {"whoami", "", [](Json, const CallContext& c) -> Result<Json> {
                                                      return Json(c.session_id);
                                                    }})
                  .ok());
  std::vector<Json> chunks;
  auto result = pit.execute_stream_in_session("s-1", "stream_calls", {{"n", 2}, {"function", "whoami"}},
                                              [&](Json chunk) { return keep(chunks, chunk); });
  ASSERT_TRUE(result.ok()) << result.status();
  ASSERT_EQ(chunks.size(), 2u);
  EXPECT_EQ(chunks[1]["result"], "s-1");
  // Outside the session the function does not exist.
  auto outside = pit.execute_stream("stream_calls", {{"n", 1}, {"function", "whoami"}}, [](Json) {
    return StreamControl::kContinue;
  });
  EXPECT_EQ(outside.status().code(), Code::kNotFound) << outside.status();
}

TEST_F(StreamTest, AsyncStreamsDeliverOffTheLoopAndDroppingTheHandleCancels) {
  Snakepit pit = start_or_die(generic_options(1));
  std::promise<Result<Json>> done;
  std::vector<Json> chunks;
  StreamHandle handle = pit.execute_stream_async(
      "count", {{"n", 5}}, [&](Json chunk) { return keep(chunks, chunk); },
      [&](Result<Json> r) { done.set_value(std::move(r)); });
  auto finished = done.get_future();
  auto result = wait_result(finished);
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(chunks.size(), 5u);

  std::promise<Result<Json>> cancelled;
  std::promise<void> first;
  std::atomic<int> seen{0};
  {
    StreamHandle endless = pit.execute_stream_async(
        "count", {{"n", 10'000'000}, {"delay_ms", 1}},
        [&](Json) {
          if (seen++ == 0) first.set_value();
          return StreamControl::kContinue;
        },
        [&](Result<Json> r) { cancelled.set_value(std::move(r)); });
    ASSERT_EQ(first.get_future().wait_for(kHangBound), std::future_status::ready);
  }  // the caller went away
  auto gone = cancelled.get_future();
  EXPECT_EQ(wait_result(gone).status().code(), Code::kCancelled);
  EXPECT_TRUE(call(pit, "ping").ok());
}

TEST_F(StreamTest, ShutdownFromAnAsyncStreamCallbackDoesNotDeadlock) {
  Snakepit pit = start_or_die(generic_options(1));
  std::promise<Code> stopped;
  StreamHandle handle = pit.execute_stream_async(
      "count", {{"n", 2}}, [](Json) { return StreamControl::kContinue; },
      [&](Result<Json> r) {
        pit.shutdown();  // on a callback thread
        stopped.set_value(r.status().code());
      });
  auto code = stopped.get_future();
  ASSERT_EQ(code.wait_for(kHangBound), std::future_status::ready);
  EXPECT_EQ(code.get(), Code::kOk);
  EXPECT_EQ(call(pit, "ping").status().code(), Code::kUnavailable);
}

TEST_F(StreamTest, ChunkForARequestThatIsNotAStreamIsAProtocolError) {
  Snakepit pit = start_or_die(misbehaving_options(1));
  auto result = call(pit, "chunk_without_stream");
  EXPECT_EQ(result.status().code(), Code::kUnavailable);
  EXPECT_EQ(result.status().details()["protocol_error"], "unexpected_chunk") << result.status();
}

class CancelTest : public HygieneCheckedTest {};

TEST_F(CancelTest, AQueuedRequestIsRemovedAndNeverRuns) {
  Snakepit pit = start_or_die(generic_options(1));
  std::promise<Result<Json>> busy_done, queued_done;
  RequestHandle busy = pit.execute_async("sleep", {{"ms", 20000}}, [&](Result<Json> r) { busy_done.set_value(r); });
  RequestHandle queued = pit.execute_in_session_async(
      "c-1", "session_put", {{"key", "ran"}, {"value", true}},
      [&](Result<SessionReply> r) { queued_done.set_value(r.ok() ? Result<Json>(r->value) : r.status()); });
  ASSERT_TRUE(wait_until([&] { return pit.stats().queue_depth == 1; }));
  queued.cancel();
  auto queued_future = queued_done.get_future();
  auto queued_result = wait_result(queued_future);
  EXPECT_EQ(queued_result.status().code(), Code::kCancelled);
  EXPECT_EQ(queued_result.status().details()["reason"], "cancelled");
  EXPECT_EQ(pit.stats().queue_depth, 0u);

  // Running: Cancelled at once; the worker hears `cancel`, stops and serves again.
  busy.cancel();
  auto busy_future = busy_done.get_future();
  EXPECT_EQ(wait_result(busy_future).status().code(), Code::kCancelled);
  EXPECT_TRUE(call(pit, "ping").ok());
  EXPECT_EQ(pit.stats().workers[0].restarts, 0);
  auto data = pit.sessions()->read("c-1", {});
  EXPECT_TRUE(!data.ok() || !data->values.contains("ran")) << "the cancelled request ran";
  busy.cancel();  // after the end: no effect
  RequestHandle().cancel();
}

}  // namespace
}  // namespace snakepit::testing
