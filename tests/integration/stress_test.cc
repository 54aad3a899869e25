// Stress: thousands of requests from many threads while workers are
// SIGKILLed underneath. Every request must end exactly once, in bounded time,
// with its own result or an allowed error; the pool must heal to full size
// and leave no zombie or descriptor behind.
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <future>
#include <mutex>
#include <random>
#include <set>
#include <thread>

#include <gtest/gtest.h>

#include "snakepit/snakepit.h"
#include "tests/integration/test_support.h"

namespace snakepit::testing {
namespace {

// Each test ends with no child, no zombie and no leaked descriptor (checked
// by the fixture once the test body has returned).
class StressTest : public HygieneCheckedTest {};

constexpr int kThreads = 8;
constexpr int kPerThread = 375;  // 3000 requests
constexpr int kTotal = kThreads * kPerThread;
constexpr int kBatch = 16;
constexpr int kKills = 30;
constexpr int kKillEvery = kTotal / (kKills + 5);  // completions between two kills
constexpr auto kRequestTimeout = 10s;

struct Outcome {
  std::atomic<int> calls{0};
  std::optional<Result<Json>> result;  // written once, by the first call
};

bool is_child(pid_t pid) {
  for (const auto& child : child_processes()) {
    if (child.pid == pid) return child.state != 'Z';
  }
  return false;
}

Json args_for(int index) { return {{"token", "req-" + std::to_string(index)}, {"index", index}}; }

TEST_F(StressTest, ManyRequestsWhileWorkersAreKilled) {
  Options options = generic_options(4, "stress");
  options.pool.request_timeout = kRequestTimeout;
  options.pool.restart.max_restarts = 1000;
  options.pool.restart.backoff_initial = 1ms;
  options.pool.restart.backoff_max = 10ms;
  auto started = Snakepit::start(options);
  ASSERT_TRUE(started.ok()) << started.status();
  Snakepit pit = std::move(started).value();

  std::vector<Outcome> outcomes(kTotal);
  std::mutex progress_mutex;
  std::condition_variable progress;
  int completed = 0;  // GUARDED_BY(progress_mutex)
  std::atomic<bool> hung{false};

  auto on_done = [&](int index, Result<Json> result) {
    Outcome& outcome = outcomes[index];
    if (outcome.calls.fetch_add(1) == 0) outcome.result = std::move(result);
    std::lock_guard lock(progress_mutex);
    ++completed;
    progress.notify_all();
  };

  // Submitters: even threads use execute_async, odd ones execute_future; a
  // third of the requests are idempotent.
  auto submitter = [&](int thread) {
    const bool use_async = thread % 2 == 0;
    for (int start = 0; start < kPerThread && !hung; start += kBatch) {
      const int end = std::min(kPerThread, start + kBatch);
      std::vector<std::future<Result<Json>>> futures;  // execute_future
      std::vector<std::future<void>> signals;          // execute_async
      for (int i = start; i < end; ++i) {
        const int index = thread * kPerThread + i;
        ExecuteOptions opts;
        opts.idempotent = index % 3 == 0;
        if (use_async) {
          auto signal = std::make_shared<std::promise<void>>();
          signals.push_back(signal->get_future());
          pit.execute_async(
              "echo", args_for(index),
              [&on_done, index, signal](Result<Json> r) {
                on_done(index, std::move(r));
                signal->set_value();
              },
              opts);
        } else {
          futures.push_back(pit.execute_future("echo", args_for(index), opts));
        }
      }
      const auto bound = std::chrono::steady_clock::now() + kRequestTimeout + kHangBound;
      for (int k = 0; k < end - start; ++k) {
        const int index = thread * kPerThread + start + k;
        const bool ready = use_async ? signals[k].wait_until(bound) == std::future_status::ready
                                     : futures[k].wait_until(bound) == std::future_status::ready;
        if (!ready) {
          hung = true;
          ADD_FAILURE() << "request " << index << " did not complete in time";
          return;
        }
        if (!use_async) on_done(index, futures[k].get());
      }
    }
  };

  // Killer: after every kKillEvery completions, SIGKILL one live worker.
  std::set<pid_t> killed;
  auto killer = [&] {
    std::mt19937 rng(12345);
    for (int kill = 1; kill <= kKills; ++kill) {
      {
        std::unique_lock lock(progress_mutex);
        progress.wait(lock, [&] { return completed >= kill * kKillEvery || completed >= kTotal || hung; });
        if (completed >= kTotal || hung) return;
      }
      std::vector<pid_t> candidates;
      for (const auto& worker : pit.list_workers()) {
        const bool live = worker.state == WorkerState::kReady || worker.state == WorkerState::kBusy;
        if (live && worker.pid > 0 && !killed.count(worker.pid)) candidates.push_back(worker.pid);
      }
      if (candidates.empty()) continue;
      const pid_t victim = candidates[rng() % candidates.size()];
      if (!is_child(victim)) continue;  // never signal a pid that is not our live worker
      if (::kill(victim, SIGKILL) == 0) killed.insert(victim);
    }
  };

  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) threads.emplace_back(submitter, t);
  std::thread killer_thread(killer);
  for (auto& thread : threads) thread.join();
  {
    std::lock_guard lock(progress_mutex);
    progress.notify_all();
  }
  killer_thread.join();
  ASSERT_FALSE(hung.load());

  // Every request ended exactly once, with its own echo or an allowed error.
  int ok = 0;
  std::map<Code, int> errors;
  for (int index = 0; index < kTotal; ++index) {
    const Outcome& outcome = outcomes[index];
    ASSERT_EQ(outcome.calls.load(), 1) << "request " << index;
    ASSERT_TRUE(outcome.result.has_value());
    const Result<Json>& r = *outcome.result;
    if (r.ok()) {
      EXPECT_EQ(*r, args_for(index)) << "request " << index << " got another request's result";
      ++ok;
    } else {
      const Code code = r.status().code();
      EXPECT_TRUE(code == Code::kUnavailable || code == Code::kDeadlineExceeded || code == Code::kResourceExhausted)
          << "request " << index << ": " << r.status();
      ++errors[code];
    }
  }
  const int kills = static_cast<int>(killed.size());
  RecordProperty("kills", kills);
  RecordProperty("unavailable", errors[Code::kUnavailable]);
  RecordProperty("deadline_exceeded", errors[Code::kDeadlineExceeded]);
  RecordProperty("resource_exhausted", errors[Code::kResourceExhausted]);
  EXPECT_GE(kills, kKills / 2) << "the killer barely ran";
  // A kill fails at most the one request its worker was running.
  EXPECT_LE(errors[Code::kUnavailable], kills);
  EXPECT_EQ(ok + errors[Code::kUnavailable] + errors[Code::kDeadlineExceeded] + errors[Code::kResourceExhausted],
            kTotal);

  // The pool heals to full size.
  const Status ready = pit.await_ready(10s);
  ASSERT_TRUE(ready.ok()) << ready;
  ASSERT_TRUE(wait_until([&] { return pit.stats().ready == 4; }, 10s));
  const PoolStats stats = pit.stats();
  EXPECT_EQ(stats.failed_slots, 0u);
  EXPECT_EQ(stats.requests, static_cast<std::uint64_t>(kTotal));
  EXPECT_EQ(stats.succeeded, static_cast<std::uint64_t>(ok));
  EXPECT_EQ(stats.restarts, static_cast<std::uint64_t>(kills));
  EXPECT_EQ(stats.restart_reasons.at("signal:SIGKILL"), static_cast<std::uint64_t>(kills));
  EXPECT_EQ(stats.queue_depth, 0u);
  for (pid_t pid : killed) EXPECT_FALSE(process_alive(pid));
  // Still serving.
  for (int i = 0; i < 8; ++i) {
    auto r = call(pit, "echo", {{"after", i}});
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_EQ(*r, Json({{"after", i}}));
  }
  pit.shutdown();
  for (const auto& outcome : outcomes) EXPECT_EQ(outcome.calls.load(), 1);
}

}  // namespace
}  // namespace snakepit::testing
