// Placement::kPerCore: one event loop per CPU the process may use, each
// pinned with the workers it owns. Requests from any thread, sessions,
// cancellation, events, stats and shutdown behave as with one loop.
#include <sched.h>

#include <algorithm>
#include <atomic>
#include <future>
#include <map>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "snakepit/snakepit.h"
#include "tests/integration/test_support.h"

namespace snakepit::testing {
namespace {

class PlacementTest : public HygieneCheckedTest {};

std::vector<int> allowed_cpus(pid_t pid) {
  cpu_set_t set;
  CPU_ZERO(&set);
  std::vector<int> cpus;
  if (::sched_getaffinity(pid, sizeof set, &set) != 0) return cpus;
  for (int cpu = 0; cpu < CPU_SETSIZE; ++cpu) {
    if (CPU_ISSET(cpu, &set)) cpus.push_back(cpu);
  }
  return cpus;
}

Options per_core(std::size_t size) {
  Options options = generic_options(size);
  options.placement = Placement::kPerCore;
  return options;
}

TEST_F(PlacementTest, EachWorkerRunsOnOneCpuAndTheLoopsCoverTheAllowedCpus) {
  const std::size_t size = 4;
  Snakepit pit = start_or_die(per_core(size));
  const auto allowed = allowed_cpus(0);
  const std::size_t loops = std::min(allowed.size(), size);

  const auto workers = pit.list_workers();
  ASSERT_EQ(workers.size(), size);
  std::set<std::string> ids;
  std::set<int> slots;
  std::map<int, int> workers_per_cpu;
  for (const auto& worker : workers) {
    ids.insert(worker.id);
    slots.insert(worker.slot);
    const auto cpus = allowed_cpus(worker.pid);
    ASSERT_EQ(cpus.size(), 1u) << worker.id;
    ++workers_per_cpu[cpus.front()];
  }
  EXPECT_EQ(ids.size(), size);  // ids stay unique across the loops
  EXPECT_EQ(slots, (std::set<int>{0, 1, 2, 3}));
  EXPECT_EQ(workers_per_cpu.size(), loops);
  for (const auto& [cpu, count] : workers_per_cpu) {
    EXPECT_NE(std::find(allowed.begin(), allowed.end(), cpu), allowed.end());
    EXPECT_GE(count, static_cast<int>(size / loops));  // split evenly
    EXPECT_LE(count, static_cast<int>((size + loops - 1) / loops));
  }
  EXPECT_EQ(pit.stats().size, size);
  EXPECT_TRUE(pit.await_ready(kHangBound).ok());
}

TEST_F(PlacementTest, RequestsFromManyThreadsAndCallbacksAllComplete) {
  Snakepit pit = start_or_die(per_core(4));
  constexpr int kThreads = 4;
  constexpr int kPerThread = 50;
  std::atomic<int> ok{0};
  std::vector<std::thread> callers;
  for (int t = 0; t < kThreads; ++t) {
    callers.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        auto echoed = call(pit, "echo", {{"t", t}, {"i", i}});
        if (echoed.ok() && (*echoed)["t"] == t && (*echoed)["i"] == i) ++ok;
      }
    });
  }
  // Completions issuing the next request from the loop threads.
  std::promise<void> chain_done;
  std::atomic<int> chained{0};
  std::function<void()> issue = [&] {
    pit.execute_async("ping", Json::object(), [&](Result<Json> result) {
      if (!result.ok()) ADD_FAILURE() << result.status();
      if (++chained == 100) {
        chain_done.set_value();
      } else {
        issue();
      }
    });
  };
  issue();
  for (auto& caller : callers) caller.join();
  ASSERT_EQ(chain_done.get_future().wait_for(kHangBound), std::future_status::ready);

  EXPECT_EQ(ok.load(), kThreads * kPerThread);
  const PoolStats stats = pit.stats();
  EXPECT_EQ(stats.requests, static_cast<std::uint64_t>(kThreads * kPerThread + 100));
  EXPECT_EQ(stats.succeeded, stats.requests);
  EXPECT_EQ(stats.queue_depth, 0u);
}

TEST_F(PlacementTest, ASessionStaysOnItsWorker) {
  Snakepit pit = start_or_die(per_core(4));
  ExecuteOptions strict;
  strict.affinity = Affinity::kStrictQueue;
  for (const std::string session : {"alpha", "beta", "gamma"}) {
    std::set<std::string> workers;
    for (int i = 0; i < 10; ++i) {
      auto reply = pit.execute_in_session(session, "session_append", {{"key", "seen"}, {"value", i}}, strict);
      ASSERT_TRUE(reply.ok()) << reply.status();
      workers.insert(reply->worker_id);
    }
    EXPECT_EQ(workers.size(), 1u) << session;
    auto seen = pit.execute_in_session(session, "session_get", {{"key", "seen"}}, strict);
    ASSERT_TRUE(seen.ok()) << seen.status();
    EXPECT_EQ(seen->value.size(), 10u) << seen->value.dump();
  }
}

TEST_F(PlacementTest, CancelReachesTheLoopThatRunsTheRequest) {
  Snakepit pit = start_or_die(per_core(2));
  std::vector<std::future<Result<Json>>> results;
  std::vector<RequestHandle> handles;
  for (int i = 0; i < 4; ++i) {  // spread over both loops
    auto promise = std::make_shared<std::promise<Result<Json>>>();
    results.push_back(promise->get_future());
    handles.push_back(pit.execute_async("sleep", {{"ms", 20000}},
                                        [promise](Result<Json> result) { promise->set_value(std::move(result)); }));
  }
  for (auto& handle : handles) handle.cancel();
  for (auto& result : results) {
    auto outcome = wait_result(result);
    ASSERT_FALSE(outcome.ok());
    EXPECT_EQ(outcome.status().code(), Code::kCancelled) << outcome.status();
  }
}

TEST_F(PlacementTest, SubscribersHearEveryLoop) {
  Snakepit pit = start_or_die(per_core(4));
  std::mutex mutex;
  std::set<std::string> finished_on;
  int finished = 0;
  const auto id = pit.subscribe([&](const Event& event) {
    if (event.type != EventType::kRequestFinished) return;
    std::lock_guard lock(mutex);
    ++finished;
    finished_on.emplace(event.worker_id);
  });
  ASSERT_NE(id, 0u);
  std::vector<std::future<Result<Json>>> results;
  for (int i = 0; i < 40; ++i) results.push_back(pit.execute_future("sleep", {{"ms", 5}}));
  for (auto& result : results) ASSERT_TRUE(wait_result(result).ok());
  pit.unsubscribe(id);
  ASSERT_TRUE(call(pit, "ping").ok());
  std::lock_guard lock(mutex);
  EXPECT_EQ(finished, 40);  // not the ping after unsubscribe
  EXPECT_EQ(finished_on.size(), 4u);  // 40 at once keep every worker of every loop busy
}

TEST_F(PlacementTest, CallbacksOnEveryLoopMayAskForStatsAtOnce) {
  // Each loop asking the others would wait forever; they answer at once.
  Snakepit pit = start_or_die(per_core(4));
  ASSERT_EQ(pit.stats().size, 4u);  // collected once from every loop
  constexpr int kRequests = 40;
  std::atomic<int> answered{0};
  std::promise<void> all_answered;
  for (int i = 0; i < kRequests; ++i) {
    pit.execute_async("ping", Json::object(), [&](Result<Json> result) {
      EXPECT_TRUE(result.ok()) << result.status();
      EXPECT_EQ(pit.stats().size, 4u);
      EXPECT_EQ(pit.list_workers().size(), 4u);
      if (++answered == kRequests) all_answered.set_value();
    });
  }
  ASSERT_EQ(all_answered.get_future().wait_for(kHangBound), std::future_status::ready);
  EXPECT_EQ(pit.stats().requests, static_cast<std::uint64_t>(kRequests));
}

TEST_F(PlacementTest, StatsAfterShutdownAddUpEveryLoop) {
  Snakepit pit = start_or_die(per_core(4));
  std::vector<std::future<Result<Json>>> results;
  for (int i = 0; i < 30; ++i) results.push_back(pit.execute_future("ping", Json::object()));
  for (auto& result : results) ASSERT_TRUE(wait_result(result).ok());
  pit.shutdown();
  const PoolStats stats = pit.stats();
  EXPECT_EQ(stats.size, 4u);
  EXPECT_EQ(stats.requests, 30u);
  auto after = call(pit, "ping");
  ASSERT_FALSE(after.ok());
  EXPECT_EQ(after.status().code(), Code::kUnavailable);
}

TEST_F(PlacementTest, TheSmallestPoolBoundsTheLoops) {
  Options options = per_core(3);
  options.pool.name = "big";
  PoolOptions small = options.pool;
  small.name = "small";
  small.size = 1;
  options.pools = {options.pool, small};
  Snakepit pit = start_or_die(std::move(options));
  std::set<int> cpus;
  for (const auto& worker : pit.list_workers()) {
    const auto allowed = allowed_cpus(worker.pid);
    ASSERT_EQ(allowed.size(), 1u) << worker.id;
    cpus.insert(allowed.front());
  }
  EXPECT_EQ(cpus.size(), 1u);  // one loop: the small pool has one worker
  ExecuteOptions on_small;
  on_small.pool = "small";
  EXPECT_TRUE(call(pit, "ping", Json::object(), on_small).ok());
  EXPECT_TRUE(call(pit, "ping").ok());
  const auto all = pit.pool_stats();
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[0].size, 3u);
  EXPECT_EQ(all[1].size, 1u);
}

}  // namespace
}  // namespace snakepit::testing
