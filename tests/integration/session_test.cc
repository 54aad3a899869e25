// Sessions with real Python workers: affinity in each mode (hint,
// strict_queue, strict_fail_fast), what a session sees when its worker is
// killed, and session data written from C++ and from Python in the same
// session. The generic adapter's `local_counter` keeps a counter in the
// worker's memory, so it shows which worker ran a request and whether that
// worker's state survived; `session_put`/`session_get`/`session_append` use
// the host's store through call/reply frames.
#include <signal.h>

#include <future>
#include <mutex>
#include <set>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "snakepit/snakepit.h"
#include "tests/integration/test_support.h"

namespace snakepit::testing {
namespace {

class SessionTest : public HygieneCheckedTest {};

Options session_options(std::size_t size, Affinity affinity) {
  Options options = generic_options(size);
  options.pool.affinity = affinity;
  return options;
}

ExecuteOptions with_affinity(Affinity affinity) {
  ExecuteOptions options;
  options.affinity = affinity;
  return options;
}

// Session requests here run up to 20 s (their timeout) before the hang bound counts.
Result<SessionReply> wait_reply(std::future<Result<SessionReply>>& future) {
  return wait_result(future, kHangBound + 20s);
}

Result<SessionReply> in_session(Snakepit& pit, const std::string& session, const std::string& command,
                                Json args = Json::object(), const ExecuteOptions& options = {}) {
  auto future = pit.execute_in_session_future(session, command, std::move(args), options);
  return wait_reply(future);
}

// The local_counter of `session`, checked to have run on the worker the reply names.
std::int64_t counter(Snakepit& pit, const std::string& session, const ExecuteOptions& options = {}) {
  auto r = in_session(pit, session, "local_counter", Json::object(), options);
  EXPECT_TRUE(r.ok()) << r.status();
  if (!r.ok()) return -1;
  EXPECT_EQ(r->value["pid"], r->worker_pid);
  EXPECT_EQ(r->value["session_id"], session);
  return r->value["count"].get<std::int64_t>();
}

int slot_of(const Snakepit& pit, const std::string& worker_id) {
  for (const auto& worker : pit.list_workers()) {
    if (worker.id == worker_id) return worker.slot;
  }
  return -1;
}

// SIGKILLs the worker `reply` ran on and waits for its slot's replacement.
void kill_worker_of(Snakepit& pit, const SessionReply& reply) {
  const int slot = slot_of(pit, reply.worker_id);
  ASSERT_GE(slot, 0) << reply.worker_id;
  ASSERT_EQ(::kill(reply.worker_pid, SIGKILL), 0);
  ASSERT_TRUE(wait_for_replacement(pit, slot, reply.worker_pid));
}

TEST_F(SessionTest, RequestsOfASessionRunOnTheSameWorker) {
  Snakepit pit = start_or_die(session_options(3, Affinity::kHint));
  auto first = in_session(pit, "alpha", "local_counter");
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_TRUE(first->session_created);
  EXPECT_EQ(first->value["count"], 1);
  for (int i = 2; i <= 6; ++i) {
    auto r = in_session(pit, "alpha", "local_counter");
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_FALSE(r->session_created);
    EXPECT_FALSE(r->worker_changed());
    EXPECT_EQ(r->worker_pid, first->worker_pid);
    EXPECT_EQ(r->worker_id, first->worker_id);
    EXPECT_EQ(r->value["count"], i);
  }
  auto info = pit.sessions()->get("alpha");
  ASSERT_TRUE(info.ok()) << info.status();
  EXPECT_EQ(info->worker_id, first->worker_id);
  const PoolStats stats = pit.stats();
  EXPECT_EQ(stats.affinity_hits, 5u);
  EXPECT_EQ(stats.affinity_rebinds, 0u);
  EXPECT_EQ(stats.sessions.current, 1u);
  EXPECT_EQ(stats.sessions.created, 1u);
  pit.shutdown();
}

TEST_F(SessionTest, EachSessionKeepsItsOwnWorkerState) {
  Snakepit pit = start_or_die(session_options(2, Affinity::kHint));
  for (int round = 1; round <= 3; ++round) {
    for (const char* session : {"s1", "s2", "s3"}) EXPECT_EQ(counter(pit, session), round) << session;
  }
  EXPECT_EQ(pit.stats().sessions.current, 3u);
  pit.shutdown();
}

TEST_F(SessionTest, HintRunsElsewhereWhenTheBoundWorkerIsBusyAndRebinds) {
  Snakepit pit = start_or_die(session_options(2, Affinity::kHint));
  auto first = in_session(pit, "h", "local_counter");
  ASSERT_TRUE(first.ok()) << first.status();
  // The session's own long request keeps its worker busy.
  auto busy = pit.execute_in_session_future("h", "sleep", {{"ms", 600000}}, with_timeout(5s));
  ASSERT_TRUE(wait_until([&] { return pit.stats().busy == 1; }));
  auto moved = in_session(pit, "h", "local_counter");
  ASSERT_TRUE(moved.ok()) << moved.status();
  EXPECT_NE(moved->worker_pid, first->worker_pid);
  EXPECT_TRUE(moved->worker_changed());
  EXPECT_EQ(moved->previous_worker_id, first->worker_id);
  EXPECT_EQ(moved->value["count"], 1);  // the other worker had no state for it
  auto info = pit.sessions()->get("h");
  ASSERT_TRUE(info.ok()) << info.status();
  EXPECT_EQ(info->worker_id, moved->worker_id);
  EXPECT_EQ(wait_reply(busy).status().code(), Code::kDeadlineExceeded);
  const PoolStats stats = pit.stats();
  EXPECT_GE(stats.affinity_misses, 1u);
  EXPECT_GE(stats.affinity_rebinds, 1u);
  pit.shutdown();
}

TEST_F(SessionTest, StrictQueueWaitsForTheBoundWorkerWithoutBlockingOthers) {
  Snakepit pit = start_or_die(session_options(2, Affinity::kStrictQueue));
  auto first = in_session(pit, "pinned", "local_counter");
  ASSERT_TRUE(first.ok()) << first.status();
  // Busy until its deadline cancels it: the other requests below take
  // milliseconds, far inside that window.
  auto busy = pit.execute_in_session_future("pinned", "sleep", {{"ms", 600000}}, with_timeout(4s));
  ASSERT_TRUE(wait_until([&] { return pit.stats().busy == 1; }));
  auto waiting = pit.execute_in_session_future("pinned", "local_counter");
  ASSERT_TRUE(wait_until([&] { return pit.stats().queue_depth == 1; }));
  // Other sessions and plain requests use the other worker meanwhile.
  for (int i = 1; i <= 3; ++i) {
    auto other = in_session(pit, "other", "local_counter");
    ASSERT_TRUE(other.ok()) << other.status();
    EXPECT_NE(other->worker_pid, first->worker_pid);
    EXPECT_EQ(other->value["count"], i);
    auto plain = call(pit, "ping");
    ASSERT_TRUE(plain.ok()) << plain.status();
  }
  // Served while the bound worker still sleeps, and the pinned request waits for it.
  EXPECT_EQ(busy.wait_for(0s), std::future_status::timeout);
  EXPECT_EQ(waiting.wait_for(0s), std::future_status::timeout);
  EXPECT_EQ(wait_reply(busy).status().code(), Code::kDeadlineExceeded);
  auto r = wait_reply(waiting);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->worker_pid, first->worker_pid);
  EXPECT_EQ(r->value["count"], 2);
  pit.shutdown();
}

TEST_F(SessionTest, PinnedRequestsCountAgainstTheQueueBound) {
  Options options = session_options(2, Affinity::kStrictQueue);
  options.pool.max_queue = 1;
  Snakepit pit = start_or_die(options);
  ASSERT_TRUE(in_session(pit, "q", "ping").ok());
  auto busy = pit.execute_in_session_future("q", "sleep", {{"ms", 600000}}, with_timeout(2s));
  ASSERT_TRUE(wait_until([&] { return pit.stats().busy == 1; }));
  auto pinned = pit.execute_in_session_future("q", "ping");
  auto refused = in_session(pit, "q", "ping");
  EXPECT_EQ(refused.status().code(), Code::kResourceExhausted) << refused.status();
  EXPECT_EQ(refused.status().details()["reason"], "queue_full");
  EXPECT_EQ(pit.stats().queue_peak, 1u);
  EXPECT_EQ(wait_reply(busy).status().code(), Code::kDeadlineExceeded);
  EXPECT_TRUE(wait_reply(pinned).ok());
  EXPECT_EQ(pit.stats().queue_depth, 0u);
  pit.shutdown();
}

TEST_F(SessionTest, StrictFailFastRefusesWhenTheBoundWorkerIsBusy) {
  Snakepit pit = start_or_die(session_options(2, Affinity::kStrictFailFast));
  auto first = in_session(pit, "ff", "local_counter");
  ASSERT_TRUE(first.ok()) << first.status();
  auto busy = pit.execute_in_session_future("ff", "sleep", {{"ms", 600000}}, with_timeout(3s));
  ASSERT_TRUE(wait_until([&] { return pit.stats().busy == 1; }));
  auto refused = in_session(pit, "ff", "local_counter");
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), Code::kResourceExhausted) << refused.status();
  EXPECT_EQ(refused.status().details()["reason"], "worker_busy");
  EXPECT_EQ(refused.status().details()["worker_id"], first->worker_id);
  // The per-call override: hint runs it on the idle worker instead.
  auto hinted = in_session(pit, "ff", "local_counter", Json::object(), with_affinity(Affinity::kHint));
  ASSERT_TRUE(hinted.ok()) << hinted.status();
  EXPECT_TRUE(hinted->worker_changed());
  EXPECT_EQ(wait_reply(busy).status().code(), Code::kDeadlineExceeded);
  EXPECT_GE(pit.stats().affinity_misses, 1u);
  pit.shutdown();
}

TEST_F(SessionTest, StrictModeReportsTheLostWorkerUntilUnbound) {
  Snakepit pit = start_or_die(session_options(2, Affinity::kStrictQueue));
  auto first = in_session(pit, "lost", "session_put", {{"key", "kept"}, {"value", "host data"}});
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_EQ(counter(pit, "lost"), 1);
  kill_worker_of(pit, *first);
  for (int i = 0; i < 2; ++i) {  // every request, until the caller acknowledges
    auto r = in_session(pit, "lost", "local_counter");
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.status().code(), Code::kUnavailable) << r.status();
    EXPECT_EQ(r.status().details()["reason"], "session_worker_lost");
    EXPECT_EQ(r.status().details()["worker_id"], first->worker_id);
    EXPECT_EQ(r.status().details()["session_id"], "lost");
  }
  ASSERT_TRUE(pit.unbind_session("lost").ok());
  EXPECT_EQ(counter(pit, "lost"), 1);  // a fresh worker: its memory starts over
  auto data = in_session(pit, "lost", "session_get", {{"key", "kept"}});
  ASSERT_TRUE(data.ok()) << data.status();
  EXPECT_EQ(data->value, "host data");  // the host's data survived the worker
  EXPECT_EQ(pit.stats().affinity_worker_lost, 2u);
  pit.shutdown();
}

TEST_F(SessionTest, HintModeRebindsAfterTheWorkerIsKilledAndSaysSo) {
  Snakepit pit = start_or_die(session_options(2, Affinity::kHint));
  auto first = in_session(pit, "phoenix", "session_put", {{"key", "kept"}, {"value", 7}});
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_EQ(counter(pit, "phoenix"), 1);
  EXPECT_EQ(counter(pit, "phoenix"), 2);
  kill_worker_of(pit, *first);
  auto r = in_session(pit, "phoenix", "local_counter");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_TRUE(r->worker_changed());
  EXPECT_EQ(r->previous_worker_id, first->worker_id);
  EXPECT_NE(r->worker_pid, first->worker_pid);
  EXPECT_EQ(r->value["count"], 1);
  auto data = in_session(pit, "phoenix", "session_get", {{"key", "kept"}});
  ASSERT_TRUE(data.ok()) << data.status();
  EXPECT_EQ(data->value, 7);
  EXPECT_FALSE(data->worker_changed());
  EXPECT_GE(pit.stats().affinity_rebinds, 1u);
  pit.shutdown();
}

TEST_F(SessionTest, RequestsPinnedToAKilledWorkerFailAsLost) {
  Snakepit pit = start_or_die(session_options(2, Affinity::kStrictQueue));
  auto first = in_session(pit, "doomed", "local_counter");
  ASSERT_TRUE(first.ok()) << first.status();
  auto running = pit.execute_in_session_future("doomed", "sleep", {{"ms", 600000}}, with_timeout(20s));
  ASSERT_TRUE(wait_until([&] { return pit.stats().busy == 1; }));
  auto pinned = pit.execute_in_session_future("doomed", "local_counter");
  ASSERT_TRUE(wait_until([&] { return pit.stats().queue_depth == 1; }));
  ASSERT_EQ(::kill(first->worker_pid, SIGKILL), 0);
  auto r1 = wait_reply(running);
  EXPECT_EQ(r1.status().code(), Code::kUnavailable) << r1.status();
  auto r2 = wait_reply(pinned);
  EXPECT_EQ(r2.status().code(), Code::kUnavailable) << r2.status();
  EXPECT_EQ(r2.status().details()["reason"], "session_worker_lost");
  EXPECT_EQ(pit.stats().queue_depth, 0u);
  pit.shutdown();
}

TEST_F(SessionTest, DataWrittenFromCppIsReadByPythonAndBack) {
  Snakepit pit = start_or_die(session_options(2, Affinity::kHint));
  auto store = pit.sessions();
  ASSERT_TRUE(store->create("shared").ok());
  SessionUpdate update;
  update.set.emplace("from_cpp", Json{{"list", {1, 2, 3}}});
  ASSERT_TRUE(store->update("shared", update).ok());

  auto read = in_session(pit, "shared", "session_get", {{"key", "from_cpp"}});
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_FALSE(read->session_created);
  EXPECT_EQ(read->value, Json({{"list", {1, 2, 3}}}));

  auto put = in_session(pit, "shared", "session_put", {{"key", "from_python"}, {"value", "hello"}});
  ASSERT_TRUE(put.ok()) << put.status();
  auto data = store->read("shared", {"from_python"});
  ASSERT_TRUE(data.ok()) << data.status();
  EXPECT_EQ(data->values, Json({{"from_python", "hello"}}));
  EXPECT_EQ(data->version, put->value["version"]);

  auto info = in_session(pit, "shared", "session_info");
  ASSERT_TRUE(info.ok()) << info.status();
  EXPECT_EQ(info->value["id"], "shared");
  EXPECT_EQ(info->value["keys"], 2);
  pit.shutdown();
}

TEST_F(SessionTest, ConcurrentAppendsFromSeveralWorkersLoseNothing) {
  Snakepit pit = start_or_die(session_options(3, Affinity::kHint));
  constexpr int kAppends = 30;
  std::vector<std::future<Result<SessionReply>>> futures;
  for (int i = 0; i < kAppends; ++i) {
    futures.push_back(pit.execute_in_session_future("bag", "session_append", {{"key", "items"}, {"value", i}}));
  }
  std::set<int> pids;
  for (auto& future : futures) {
    auto r = wait_reply(future);
    ASSERT_TRUE(r.ok()) << r.status();
    pids.insert(r->worker_pid);
  }
  auto sum = in_session(pit, "bag", "session_sum", {{"key", "items"}});
  ASSERT_TRUE(sum.ok()) << sum.status();
  EXPECT_EQ(sum->value, kAppends * (kAppends - 1) / 2);
  auto data = pit.sessions()->read("bag", {"items"});
  ASSERT_TRUE(data.ok());
  EXPECT_EQ(data->values["items"].size(), static_cast<std::size_t>(kAppends));
  pit.shutdown();
}

TEST_F(SessionTest, SessionErrorsAreStructured) {
  Options options = session_options(1, Affinity::kHint);
  options.sessions.limits.max_sessions = 2;
  options.sessions.limits.max_bytes = 256;
  Snakepit pit = start_or_die(options);

  auto bad = in_session(pit, "has space", "ping");
  EXPECT_EQ(bad.status().code(), Code::kInvalidArgument) << bad.status();
  EXPECT_EQ(bad.status().details()["reason"], "bad_session_id");
  auto empty = in_session(pit, "", "ping");
  EXPECT_EQ(empty.status().code(), Code::kInvalidArgument) << empty.status();

  ASSERT_TRUE(in_session(pit, "one", "ping").ok());
  ASSERT_TRUE(in_session(pit, "two", "ping").ok());
  auto full = in_session(pit, "three", "ping");
  EXPECT_EQ(full.status().code(), Code::kResourceExhausted) << full.status();
  EXPECT_EQ(full.status().details()["reason"], "session_quota");

  // A store error raised in Python reaches the caller with its code and reason.
  auto too_big = in_session(pit, "one", "session_put", {{"key", "k"}, {"value", std::string(1000, 'x')}});
  EXPECT_EQ(too_big.status().code(), Code::kResourceExhausted) << too_big.status();
  EXPECT_EQ(too_big.status().details()["reason"], "session_full");

  // Without a session the command's session access fails, and says why.
  auto no_session = call(pit, "session_get", {{"key", "k"}});
  EXPECT_EQ(no_session.status().code(), Code::kFailedPrecondition) << no_session.status();
  EXPECT_EQ(no_session.status().details()["reason"], "no_session");
  // The worker is fine after all of it.
  EXPECT_TRUE(call(pit, "ping").ok());
  pit.shutdown();
}

TEST_F(SessionTest, ExpiredSessionsStartOver) {
  std::mutex clock_mutex;
  SessionClock::time_point now = SessionClock::now();
  MemorySessionStoreOptions store_options;
  store_options.limits.default_ttl = std::chrono::seconds(60);
  store_options.clock = [&] {
    std::lock_guard lock(clock_mutex);
    return now;
  };
  auto store = make_memory_session_store(store_options);
  ASSERT_TRUE(store.ok()) << store.status();
  Options options = session_options(1, Affinity::kHint);
  options.sessions.store = *store;
  Snakepit pit = start_or_die(options);

  ASSERT_TRUE(in_session(pit, "ephemeral", "session_put", {{"key", "k"}, {"value", 1}}).ok());
  {
    std::lock_guard lock(clock_mutex);
    now += std::chrono::seconds(59);  // touched within the TTL: still there
  }
  auto alive = in_session(pit, "ephemeral", "session_get", {{"key", "k"}});
  ASSERT_TRUE(alive.ok()) << alive.status();
  EXPECT_EQ(alive->value, 1);
  {
    std::lock_guard lock(clock_mutex);
    now += std::chrono::seconds(61);
  }
  EXPECT_FALSE(*pit.sessions()->exists("ephemeral"));
  auto again = in_session(pit, "ephemeral", "session_get", {{"key", "k"}});
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_TRUE(again->session_created);
  EXPECT_TRUE(again->value.is_null());
  EXPECT_EQ(pit.stats().sessions.expired, 1u);
  pit.shutdown();
}

TEST_F(SessionTest, StatsJsonCarriesSessionsAndAffinity) {
  Snakepit pit = start_or_die(session_options(1, Affinity::kHint));
  ASSERT_TRUE(in_session(pit, "j", "ping").ok());
  ASSERT_TRUE(in_session(pit, "j", "ping").ok());
  const Json json = to_json(pit.stats());
  EXPECT_EQ(json["sessions"]["current"], 1);
  EXPECT_EQ(json["affinity"]["hits"], 1);
  pit.shutdown();
}

}  // namespace
}  // namespace snakepit::testing
