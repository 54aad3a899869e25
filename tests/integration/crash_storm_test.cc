// Crash storm: 8 workers SIGKILLed again and again (dozens of kills) while
// requests flow. Every request ends with a result or a clear error, no slot
// restarts more often than its intensity limit allows, and the reconcile
// brings the pool back to its full size once the storm is over.
#include <signal.h>

#include <map>
#include <mutex>
#include <random>
#include <thread>

#include <gtest/gtest.h>

#include "snakepit/snakepit.h"
#include "tests/integration/test_support.h"

namespace snakepit::testing {
namespace {

class CrashStormTest : public HygieneCheckedTest {};

constexpr int kWorkers = 8;
constexpr int kKills = 48;
constexpr int kMaxRestarts = 3;
constexpr auto kWindow = 1000ms;

TEST_F(CrashStormTest, PoolReturnsToSizeAndEveryRequestEnds) {
  std::mutex mutex;
  std::map<int, std::vector<std::chrono::steady_clock::time_point>> restarts;  // by slot
  Options options = generic_options(kWorkers, "storm");
  options.pool.restart.max_restarts = kMaxRestarts;
  options.pool.restart.window = kWindow;
  options.pool.restart.backoff_initial = 5ms;
  options.pool.restart.backoff_max = 20ms;
  options.pool.recycle.check_interval = 50ms;  // the reconcile's cadence
  options.on_event = [&](const Event& event) {
    if (event.type != EventType::kWorkerRestartScheduled) return;
    std::lock_guard lock(mutex);
    restarts[event.slot].push_back(std::chrono::steady_clock::now());
  };
  Snakepit pit = start_or_die(options);

  std::atomic<int> ok{0};
  std::atomic<int> unavailable{0};
  std::atomic<int> other{0};
  std::atomic<bool> storm_over{false};
  std::thread submitter([&] {
    while (!storm_over) {
      std::vector<std::future<Result<Json>>> batch;
      for (int i = 0; i < 16; ++i) batch.push_back(pit.execute_future("echo", {{"i", i}}));
      for (auto& f : batch) {
        auto r = wait_result(f);
        if (r.ok()) {
          ++ok;
        } else if (r.status().code() == Code::kUnavailable) {
          ++unavailable;  // its worker was killed under it, or every slot was down
        } else {
          ++other;
          ADD_FAILURE() << r.status();
        }
      }
    }
  });

  std::mt19937 rng(7);
  int kills = 0;
  for (int attempt = 0; kills < kKills && attempt < 100 * kKills; ++attempt) {
    const auto workers = pit.list_workers();
    const auto& victim = workers[rng() % workers.size()];
    if (victim.pid <= 0 || (victim.state != WorkerState::kReady && victim.state != WorkerState::kBusy)) {
      ASSERT_TRUE(wait_until([&] { return pit.stats().ready + pit.stats().busy > 0 || pit.stats().failed_slots > 0; }));
      continue;
    }
    if (::kill(victim.pid, SIGKILL) == 0) {
      ++kills;
      ASSERT_TRUE(wait_gone(victim.pid));
    }
  }
  storm_over = true;
  submitter.join();
  EXPECT_EQ(kills, kKills);
  EXPECT_EQ(other, 0);
  EXPECT_GT(ok, 0);

  // Back to full size: restarts after backoff, failed slots once their crashes age out.
  ASSERT_TRUE(wait_until([&] { return pit.stats().ready == kWorkers; }, 15s)) << to_json(pit.stats()).dump();
  const PoolStats stats = pit.stats();
  EXPECT_EQ(stats.failed_slots, 0u);
  for (int i = 0; i < 32; ++i) EXPECT_TRUE(call(pit, "ping").ok());

  // No slot restarted more than kMaxRestarts times within any window.
  std::lock_guard lock(mutex);
  for (const auto& [slot, times] : restarts) {
    for (std::size_t i = 0; i + kMaxRestarts < times.size(); ++i) {
      EXPECT_GE(times[i + kMaxRestarts] - times[i], kWindow - 50ms) << "slot " << slot;
    }
  }
  pit.shutdown();
}

}  // namespace
}  // namespace snakepit::testing
