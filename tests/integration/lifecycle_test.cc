// Worker lifecycle with real workers: heartbeats, the stack dump before a
// deadline kill, recycling (by requests and by memory) with its replacement
// started first, the reconcile of failed slots, and the telemetry events
// these emit. Capacity is observed through the events: the number of
// serving workers (ready, not yet exited or recycled) never drops below the
// pool's size during recycling.
#include <signal.h>

#include <map>
#include <mutex>
#include <set>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <spdlog/logger.h>
#include <spdlog/sinks/ringbuffer_sink.h>

#include "snakepit/snakepit.h"
#include "tests/integration/test_support.h"

namespace snakepit::testing {
namespace {

class LifecycleTest : public HygieneCheckedTest {};

// Every event, copied (views in an Event die with the handler call).
class EventLog {
 public:
  EventHandler handler() {
    return [this](const Event& event) {
      std::lock_guard lock(mutex_);
      events_.push_back(to_json(event));
      track_capacity(event);
    };
  }
  std::vector<Json> of_type(EventType type) const {
    std::lock_guard lock(mutex_);
    std::vector<Json> out;
    for (const auto& e : events_) {
      if (e["type"] == event_type_name(type)) out.push_back(e);
    }
    return out;
  }
  // Fewest serving workers seen once the pool was first full.
  int min_serving_after_full() const {
    std::lock_guard lock(mutex_);
    return min_serving_;
  }
  void pool_full() {
    std::lock_guard lock(mutex_);
    full_ = true;
    min_serving_ = static_cast<int>(serving_.size());
  }

 private:
  void track_capacity(const Event& event) {
    const std::string id(event.worker_id);
    switch (event.type) {
      case EventType::kWorkerReady: serving_.insert(id); break;
      case EventType::kWorkerRecycled:
      case EventType::kWorkerExited:
      case EventType::kWorkerKilled: serving_.erase(id); break;
      default: return;
    }
    if (full_) min_serving_ = std::min(min_serving_, static_cast<int>(serving_.size()));
  }

  mutable std::mutex mutex_;
  std::vector<Json> events_;
  std::set<std::string> serving_;
  bool full_ = false;
  int min_serving_ = 0;
};

TEST_F(LifecycleTest, RecyclingByRequestCountNeverFailsARequestNorDipsCapacity) {
  EventLog log;
  Options options = generic_options(2);
  options.on_event = log.handler();
  options.pool.recycle.max_requests = 10;
  options.pool.recycle.max_requests_jitter = 0.3;
  Snakepit pit = start_or_die(options);
  log.pool_full();
  // Waves of concurrent requests until both workers were recycled twice
  // (each request takes a few ms, so replacements have time to start).
  int sent = 0;
  for (int wave = 0; wave < 500 && pit.stats().recycles < 4; ++wave) {
    std::vector<std::future<Result<Json>>> futures;
    for (int i = 0; i < 20; ++i, ++sent) futures.push_back(pit.execute_future("sleep", {{"ms", 2}}));
    for (auto& f : futures) {
      auto r = wait_result(f);
      ASSERT_TRUE(r.ok()) << r.status();
    }
  }
  const PoolStats stats = pit.stats();
  EXPECT_GE(stats.recycles, 4u);
  EXPECT_EQ(stats.succeeded, static_cast<std::uint64_t>(sent));
  EXPECT_EQ(stats.errors.size(), 0u);
  EXPECT_EQ(stats.recycle_reasons.count("max_requests") ? stats.recycle_reasons.at("max_requests") : 0u,
            stats.recycles);
  EXPECT_EQ(stats.restarts, 0u);
  EXPECT_GE(log.min_serving_after_full(), 2);
  const auto recycled = log.of_type(EventType::kWorkerRecycled);
  ASSERT_FALSE(recycled.empty());
  EXPECT_EQ(recycled.front()["reason"], "max_requests");
  pit.shutdown();
}

TEST_F(LifecycleTest, RecyclingByMemoryReplacesTheGrowingWorker) {
  EventLog log;
  Options options = misbehaving_options(2);
  options.on_event = log.handler();
  options.pool.recycle.max_rss_bytes = 200u << 20;
  options.pool.recycle.check_interval = std::chrono::milliseconds(50);
  Snakepit pit = start_or_die(options);
  log.pool_full();
  auto grown = call(pit, "grow", {{"mb", 300}});
  ASSERT_TRUE(grown.ok()) << grown.status();
  ASSERT_TRUE(wait_until([&] { return pit.stats().recycles == 1; }));
  const PoolStats stats = pit.stats();
  EXPECT_EQ(stats.recycle_reasons.at("max_rss"), 1u);
  EXPECT_EQ(stats.errors.size(), 0u);
  EXPECT_GE(log.min_serving_after_full(), 2);
  for (int i = 0; i < 4; ++i) EXPECT_TRUE(call(pit, "pid").ok());
  pit.shutdown();
}

TEST_F(LifecycleTest, RecyclingByLifetimeAndByIdleness) {
  for (const char* reason : {"max_lifetime", "max_idle"}) {
    SCOPED_TRACE(reason);
    EventLog log;
    Options options = generic_options(1);
    options.on_event = log.handler();
    options.pool.recycle.check_interval = std::chrono::milliseconds(20);
    if (std::string(reason) == "max_lifetime") {
      options.pool.recycle.max_lifetime = std::chrono::milliseconds(300);
    } else {
      options.pool.recycle.max_idle = std::chrono::milliseconds(300);
    }
    Snakepit pit = start_or_die(options);
    log.pool_full();
    const pid_t first = worker_pid(pit, 0);
    ASSERT_TRUE(wait_for_replacement(pit, 0, first));
    EXPECT_TRUE(wait_gone(first));
    const PoolStats stats = pit.stats();
    EXPECT_GE(stats.recycle_reasons.count(reason), 1u) << to_json(stats).dump();
    EXPECT_EQ(stats.restarts, 0u);
    EXPECT_GE(log.min_serving_after_full(), 1);
    EXPECT_TRUE(call(pit, "ping").ok());
    pit.shutdown();
  }
}

TEST_F(LifecycleTest, AWorkerThatStopsAnsweringPingsIsKilledAndReplaced) {
  EventLog log;
  Options options = misbehaving_options(1);
  options.on_event = log.handler();
  options.pool.heartbeat.interval = std::chrono::milliseconds(50);
  options.pool.heartbeat.timeout = std::chrono::milliseconds(100);
  options.pool.heartbeat.max_missed = 2;
  Snakepit pit = start_or_die(options);
  const pid_t before = worker_pid(pit, 0);
  ASSERT_TRUE(call(pit, "stop_answering").ok());
  ASSERT_TRUE(wait_for_replacement(pit, 0, before));
  EXPECT_TRUE(wait_gone(before));
  const PoolStats stats = pit.stats();
  EXPECT_EQ(stats.heartbeats_missed, 2u);
  EXPECT_EQ(stats.restart_reasons.at("heartbeat_timeout"), 1u);
  const auto killed = log.of_type(EventType::kWorkerKilled);
  ASSERT_EQ(killed.size(), 1u);
  EXPECT_EQ(killed[0]["reason"], "heartbeat_timeout");
  EXPECT_EQ(log.of_type(EventType::kHeartbeatMissed).size(), 2u);
  EXPECT_TRUE(call(pit, "pid").ok());
  pit.shutdown();
}

TEST_F(LifecycleTest, BusyWorkersAreNotJudgedByHeartbeats) {
  Options options = generic_options(1);
  options.pool.heartbeat.interval = std::chrono::milliseconds(20);
  options.pool.heartbeat.timeout = std::chrono::milliseconds(20);
  options.pool.heartbeat.max_missed = 1;
  Snakepit pit = start_or_die(options);
  auto r = call(pit, "sleep", {{"ms", 300}});
  EXPECT_TRUE(r.ok()) << r.status();
  const PoolStats stats = pit.stats();
  EXPECT_EQ(stats.restarts, 0u);
  EXPECT_EQ(stats.heartbeats_missed, 0u);
  pit.shutdown();
}

TEST_F(LifecycleTest, AStuckWorkerDumpsItsStacksBeforeItIsKilled) {
  auto sink = std::make_shared<spdlog::sinks::ringbuffer_sink_mt>(512);
  Options options = misbehaving_options(1);
  options.logger = std::make_shared<spdlog::logger>("lifecycle", sink);
  options.logger->set_level(spdlog::level::info);
  options.pool.cancel_grace = std::chrono::milliseconds(100);
  options.pool.stack_dump_grace = std::chrono::milliseconds(500);
  Snakepit pit = start_or_die(options);
  const pid_t before = worker_pid(pit, 0);
  auto r = call(pit, "hang", Json::object(), with_timeout(std::chrono::milliseconds(200)));
  EXPECT_EQ(r.status().code(), Code::kDeadlineExceeded) << r.status();
  ASSERT_TRUE(wait_for_replacement(pit, 0, before));
  const auto lines = sink->last_formatted();
  const auto has = [&](const std::string& text) {
    return std::any_of(lines.begin(), lines.end(), [&](const std::string& l) { return l.find(text) != std::string::npos; });
  };
  EXPECT_TRUE(has("asking for a stack dump")) << ::testing::PrintToString(lines);
  EXPECT_TRUE(has("most recent call first")) << ::testing::PrintToString(lines);
  EXPECT_TRUE(has("in hang")) << ::testing::PrintToString(lines);
  EXPECT_EQ(pit.stats().restart_reasons.at("cancel_timeout"), 1u);
  pit.shutdown();
}

TEST_F(LifecycleTest, RequestEventsCarryTheirDurations) {
  EventLog log;
  Options options = generic_options(1);
  Snakepit pit = start_or_die(options);
  const auto id = pit.subscribe(log.handler());
  ASSERT_NE(id, 0u);
  ASSERT_TRUE(call(pit, "sleep", {{"ms", 20}}).ok());
  auto finished = log.of_type(EventType::kRequestFinished);
  ASSERT_EQ(finished.size(), 1u);
  EXPECT_EQ(finished[0]["command"], "sleep");
  EXPECT_EQ(finished[0]["code"], "Ok");
  EXPECT_GE(finished[0]["run_time_us"].get<std::int64_t>(), 20000);
  EXPECT_EQ(log.of_type(EventType::kRequestStarted).size(), 1u);
  pit.unsubscribe(id);
  ASSERT_TRUE(call(pit, "ping").ok());
  EXPECT_EQ(log.of_type(EventType::kRequestFinished).size(), 1u);  // no longer subscribed
  pit.shutdown();
}

TEST_F(LifecycleTest, FailedSlotsComeBackOnceTheirCrashesAgeOut) {
  EventLog log;
  Options options = generic_options(2);
  options.on_event = log.handler();
  options.pool.restart.max_restarts = 1;
  options.pool.restart.window = std::chrono::milliseconds(3000);  // wide enough for slow (sanitizer) builds
  options.pool.recycle.check_interval = std::chrono::milliseconds(50);
  Snakepit pit = start_or_die(options);
  // Two crashes of slot 0 within the window: the slot is marked failed.
  for (int crash = 0; crash < 2; ++crash) {
    const pid_t victim = worker_pid(pit, 0);
    ASSERT_GT(victim, 0);
    ASSERT_EQ(::kill(victim, SIGKILL), 0);
    ASSERT_TRUE(wait_gone(victim));
    if (crash == 0) {
      ASSERT_TRUE(wait_for_replacement(pit, 0, victim));
    }
  }
  ASSERT_TRUE(wait_until([&] { return pit.stats().failed_slots == 1; }));
  EXPECT_EQ(log.of_type(EventType::kSlotFailed).size(), 1u);
  // The reconcile brings it back once the window has passed.
  ASSERT_TRUE(wait_until([&] { return pit.stats().failed_slots == 0 && pit.stats().ready == 2; }, 15s));
  EXPECT_TRUE(pit.await_ready(std::chrono::seconds(5)).ok());
  pit.shutdown();
}

}  // namespace
}  // namespace snakepit::testing
