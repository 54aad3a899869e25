// Dispatch with real workers: the bounded queue, queue timeouts, FIFO order,
// deadlines (per request, absolute, pool default), and what shutdown does to
// queued and running requests. A pool of one worker made busy by a `sleep`
// makes the queue observable; whether a request ran is checked on the
// worker's side (the generic ping reports how many requests it completed).
#include <atomic>
#include <future>
#include <limits>
#include <mutex>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "snakepit/snakepit.h"
#include "tests/integration/test_support.h"

namespace snakepit::testing {
namespace {

// Each test ends with no child, no zombie and no leaked descriptor (checked
// by the fixture once the test body has returned).
class DispatchTest : public HygieneCheckedTest {};

// How many requests the single worker of `pit` completed, asked through a
// ping once it is idle (the ping itself is not counted yet).
std::int64_t worker_side_count(Snakepit& pit) {
  EXPECT_TRUE(wait_until([&] { return pit.stats().busy == 0; }));
  auto ping = call(pit, "ping");
  EXPECT_TRUE(ping.ok()) << ping.status();
  return ping.ok() ? (*ping)["requests"].get<std::int64_t>() : -1;
}

// A request that keeps the only worker busy for `budget`: a long sleep that
// the deadline cancels (the generic sleep honours cancel).
std::future<Result<Json>> occupy(Snakepit& pit, std::chrono::milliseconds budget) {
  return pit.execute_future("sleep", {{"ms", 600000}}, with_timeout(budget));
}

TEST_F(DispatchTest, FullQueueIsResourceExhausted) {
  Options options = generic_options(1);
  options.pool.max_queue = 1;
  Snakepit pit = start_or_die(options);
  auto running = occupy(pit, 1000ms);
  auto queued = pit.execute_future("echo", {{"token", "queued"}});
  auto rejected = pit.execute_future("echo", {{"token", "rejected"}});
  auto r = wait_result(rejected);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kResourceExhausted) << r.status();
  EXPECT_EQ(r.status().details()["reason"], "queue_full");
  EXPECT_EQ(r.status().details()["max_queue"], 1);
  PoolStats stats = pit.stats();
  EXPECT_EQ(stats.saturations, 1u);
  EXPECT_EQ(stats.queue_depth, 1u);
  EXPECT_EQ(stats.busy, 1u);

  EXPECT_EQ(wait_result(running).status().code(), Code::kDeadlineExceeded);
  auto q = wait_result(queued);
  ASSERT_TRUE(q.ok()) << q.status();
  EXPECT_EQ(*q, Json({{"token", "queued"}}));
  // Worker side: the sleep, the queued echo; never the rejected one.
  EXPECT_EQ(worker_side_count(pit), 2);
  stats = pit.stats();
  EXPECT_EQ(stats.errors.at("ResourceExhausted"), 1u);
  EXPECT_EQ(stats.queue_peak, 1u);
  pit.shutdown();
}

TEST_F(DispatchTest, ZeroLengthQueueRejectsWhenEveryWorkerIsBusy) {
  Options options = generic_options(1);
  options.pool.max_queue = 0;
  Snakepit pit = start_or_die(options);
  auto running = occupy(pit, 500ms);
  auto rejected = pit.execute_future("ping");
  auto r = wait_result(rejected);
  EXPECT_EQ(r.status().code(), Code::kResourceExhausted) << r.status();
  EXPECT_EQ(r.status().details()["reason"], "queue_full");
  EXPECT_EQ(wait_result(running).status().code(), Code::kDeadlineExceeded);
  EXPECT_EQ(worker_side_count(pit), 1);
  pit.shutdown();
}

TEST_F(DispatchTest, QueueTimeoutIsDeadlineExceededAndTheRequestNeverRuns) {
  Options options = generic_options(1);
  options.pool.queue_timeout = 100ms;
  Snakepit pit = start_or_die(options);
  auto running = occupy(pit, 500ms);
  auto r = call(pit, "echo", {{"token", "must-not-run"}});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kDeadlineExceeded) << r.status();
  EXPECT_EQ(r.status().details()["reason"], "queue_timeout");
  EXPECT_EQ(pit.stats().queue_timeouts, 1u);
  EXPECT_EQ(pit.stats().queue_depth, 0u);

  EXPECT_EQ(wait_result(running).status().code(), Code::kDeadlineExceeded);
  EXPECT_EQ(worker_side_count(pit), 1);  // only the sleep ran
  const PoolStats stats = pit.stats();
  EXPECT_EQ(stats.workers[0].requests, 2u);  // the sleep and the ping
  EXPECT_EQ(stats.errors.at("DeadlineExceeded"), 2u);
  pit.shutdown();
}

TEST_F(DispatchTest, QueuedRequestsRunInFifoOrder) {
  Snakepit pit = start_or_die(generic_options(1));
  auto running = occupy(pit, 1000ms);
  constexpr int kQueued = 10;
  std::mutex mutex;
  std::vector<int> order;
  std::vector<Json> results;
  std::promise<void> all_done;
  for (int i = 0; i < kQueued; ++i) {
    pit.execute_async("echo", {{"i", i}}, [&, i](Result<Json> r) {
      std::lock_guard lock(mutex);
      order.push_back(i);
      results.push_back(r.ok() ? *r : Json(r.status().to_string()));
      if (static_cast<int>(order.size()) == kQueued) all_done.set_value();
    });
  }
  ASSERT_EQ(all_done.get_future().wait_for(kHangBound), std::future_status::ready);
  EXPECT_EQ(wait_result(running).status().code(), Code::kDeadlineExceeded);
  std::lock_guard lock(mutex);
  std::vector<int> expected(kQueued);
  for (int i = 0; i < kQueued; ++i) expected[i] = i;
  EXPECT_EQ(order, expected);
  for (int i = 0; i < kQueued; ++i) EXPECT_EQ(results[i], Json({{"i", i}}));
  EXPECT_EQ(pit.stats().queue_peak, static_cast<std::size_t>(kQueued));
  pit.shutdown();
}

TEST_F(DispatchTest, RequestWhoseDeadlineAlreadyPassedNeverRuns) {
  Snakepit pit = start_or_die(generic_options(1));
  const auto past = std::chrono::steady_clock::now() - 1ms;
  auto r = call(pit, "echo", {{"token", "late"}}, with_deadline(past));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kDeadlineExceeded) << r.status();
  EXPECT_EQ(r.status().details()["reason"], "deadline");
  EXPECT_EQ(worker_side_count(pit), 0);
  EXPECT_EQ(pit.stats().workers[0].requests, 1u);  // the ping only
  pit.shutdown();
}

TEST_F(DispatchTest, RequestWhoseDeadlinePassesInTheQueueNeverRuns) {
  Snakepit pit = start_or_die(generic_options(1));
  auto running = occupy(pit, 500ms);
  auto r = call(pit, "echo", {{"token", "late"}}, with_timeout(50ms));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kDeadlineExceeded) << r.status();
  EXPECT_EQ(r.status().details()["reason"], "deadline");
  EXPECT_EQ(pit.stats().queue_timeouts, 0u);  // its own deadline, not the queue's
  EXPECT_EQ(wait_result(running).status().code(), Code::kDeadlineExceeded);
  EXPECT_EQ(worker_side_count(pit), 1);
  pit.shutdown();
}

TEST_F(DispatchTest, PerRequestTimeoutOverridesThePoolDefault) {
  Options options = generic_options(1);
  options.pool.request_timeout = 200ms;
  Snakepit pit = start_or_die(options);
  // Longer than the pool default, within its own budget.
  auto slow = call(pit, "sleep", {{"ms", 400}}, with_timeout(10s));
  ASSERT_TRUE(slow.ok()) << slow.status();
  EXPECT_EQ(*slow, Json({{"slept_ms", 400}}));
  // The pool default applies when no timeout is given.
  auto r = call(pit, "sleep", {{"ms", 600000}}, {}, 200ms);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kDeadlineExceeded) << r.status();
  EXPECT_EQ(r.status().details()["reason"], "deadline");
  EXPECT_EQ(r.status().details()["worker_id"], "test-0.1");
  // An absolute deadline earlier than the timeout wins.
  const auto soon = std::chrono::steady_clock::now() + 100ms;
  auto early = call(pit, "sleep", {{"ms", 600000}}, with_deadline(soon, 10s));
  EXPECT_EQ(early.status().code(), Code::kDeadlineExceeded) << early.status();
  EXPECT_GE(std::chrono::steady_clock::now(), soon);
  // The cancelled sleeps stopped in time: the same worker serves on.
  EXPECT_EQ(pit.stats().restarts, 0u);
  pit.shutdown();
}

TEST_F(DispatchTest, QueuedRequestSurvivesTheCrashOfTheRunningOne) {
  // A worker's death fails only its in-flight request: the queued one runs
  // on the replacement.
  Snakepit pit = start_or_die(generic_options(1));
  auto crash = pit.execute_future("crash", {{"code", 11}});
  auto queued = pit.execute_future("echo", {{"token", "after-crash"}});
  auto c = wait_result(crash);
  EXPECT_EQ(c.status().code(), Code::kUnavailable) << c.status();
  EXPECT_EQ(c.status().details()["exit_code"], 11);
  auto q = wait_result(queued);
  ASSERT_TRUE(q.ok()) << q.status();
  EXPECT_EQ(*q, Json({{"token", "after-crash"}}));
  EXPECT_EQ(pit.stats().restarts, 1u);
  pit.shutdown();
}

TEST_F(DispatchTest, ShutdownFailsQueuedRequestsAndBoundsRunningOnes) {
  Snakepit pit = start_or_die(generic_options(1));
  auto running = pit.execute_future("sleep", {{"ms", 600000}});
  ASSERT_TRUE(wait_until([&] { return pit.stats().busy == 1; }));
  std::vector<std::future<Result<Json>>> queued;
  for (int i = 0; i < 3; ++i) queued.push_back(pit.execute_future("echo", {{"i", i}}));
  ASSERT_TRUE(wait_until([&] { return pit.stats().queue_depth == 3; }));
  pit.shutdown(0ms);
  for (auto& future : queued) {
    auto r = wait_result(future);
    EXPECT_EQ(r.status().code(), Code::kUnavailable) << r.status();
    EXPECT_EQ(r.status().details()["reason"], "pool_stopping");
  }
  auto r = wait_result(running);
  EXPECT_EQ(r.status().code(), Code::kUnavailable) << r.status();
  EXPECT_EQ(r.status().details()["reason"], "pool_stopping");
}

TEST_F(DispatchTest, ShutdownLetsRunningRequestsFinishWithinGrace) {
  Snakepit pit = start_or_die(generic_options(2));
  auto a = pit.execute_future("sleep", {{"ms", 600}});
  auto b = pit.execute_future("sleep", {{"ms", 600}});
  ASSERT_TRUE(wait_until([&] { return pit.stats().busy == 2; }));
  pit.shutdown(10s);
  for (auto* future : {&a, &b}) {
    auto r = wait_result(*future);
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_EQ(*r, Json({{"slept_ms", 600}}));
  }
  EXPECT_EQ(pit.stats().succeeded, 2u);
}

TEST_F(DispatchTest, IdleWorkersShareTheLoad) {
  Snakepit pit = start_or_die(generic_options(2));
  auto a = pit.execute_future("sleep", {{"ms", 600}});
  auto b = pit.execute_future("sleep", {{"ms", 600}});
  // Two workers, two requests: both run at once, nothing waits.
  ASSERT_TRUE(wait_until([&] { return pit.stats().busy == 2; }));
  EXPECT_EQ(pit.stats().queue_peak, 0u);
  EXPECT_TRUE(wait_result(a).ok());
  EXPECT_TRUE(wait_result(b).ok());
  const PoolStats stats = pit.stats();
  EXPECT_EQ(stats.workers[0].requests, 1u);
  EXPECT_EQ(stats.workers[1].requests, 1u);
  pit.shutdown();
}

// Requests each issued by the previous one's callback (on the loop thread)
// until `length` answers or the first error; `ended` gets how it ended.
struct CallbackChain {
  CallbackChain(Snakepit& on, int requests) : pit(on), length(requests) {}

  Snakepit& pit;
  const int length;
  std::atomic<int> answered{0};
  std::promise<Status> ended;

  void next() {
    pit.execute_async("echo", {{"i", answered.load()}}, [this](Result<Json> r) {
      if (!r.ok()) {
        ended.set_value(r.status());
      } else if (++answered == length) {
        ended.set_value(Status{});
      } else {
        next();
      }
    });
  }
};

TEST_F(DispatchTest, ARequestIssuedByACallbackGetsTheWorkerThatJustAnswered) {
  // No queue at all: each request of the chain must reach the pool once
  // the worker that answered the previous one is free again.
  Options options = generic_options(1);
  options.pool.max_queue = 0;
  Snakepit pit = start_or_die(options);
  CallbackChain chain(pit, 500);
  auto ended = chain.ended.get_future();
  chain.next();
  ASSERT_EQ(ended.wait_for(kHangBound), std::future_status::ready);
  const Status status = ended.get();
  EXPECT_TRUE(status.ok()) << status;
  EXPECT_EQ(chain.answered, 500);
  EXPECT_EQ(pit.stats().saturations, 0u);
  EXPECT_EQ(worker_side_count(pit), 500);
  pit.shutdown();
}

TEST_F(DispatchTest, ACallbackChainEndsUnavailableWhenThePoolShutsDown) {
  Snakepit pit = start_or_die(generic_options(1));
  CallbackChain chain(pit, std::numeric_limits<int>::max());
  auto ended = chain.ended.get_future();
  chain.next();
  ASSERT_TRUE(wait_until([&] { return chain.answered >= 50; }));
  pit.shutdown();
  ASSERT_EQ(ended.wait_for(kHangBound), std::future_status::ready);
  const Status status = ended.get();
  EXPECT_EQ(status.code(), Code::kUnavailable) << status;
}

}  // namespace
}  // namespace snakepit::testing
