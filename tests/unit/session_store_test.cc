// The in-memory session store (src/session/memory_session_store.cc) through
// the public interface. Time is a fake clock the tests advance: no sleeps.
#include "snakepit/session_store.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <limits>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

namespace snakepit {
namespace {

using namespace std::chrono_literals;

// A clock the test moves by hand; safe to read from any thread.
class FakeClock {
 public:
  // 2026-11-28T12:00:00.000Z
  static constexpr std::int64_t kStartMs = 1'795'867'200'000;

  SessionClock::time_point now() const {
    return SessionClock::time_point(
        std::chrono::duration_cast<SessionClock::duration>(std::chrono::milliseconds(ms_.load())));
  }
  void advance(std::chrono::milliseconds by) { ms_.fetch_add(by.count()); }
  std::function<SessionClock::time_point()> function() {
    return [this] { return now(); };
  }

 private:
  std::atomic<std::int64_t> ms_{kStartMs};
};

testing::AssertionResult IsError(const Status& status, Code code, std::string_view reason) {
  if (status.code() != code || !status.details().is_object() ||
      status.details().value("reason", std::string()) != reason) {
    return testing::AssertionFailure() << "expected " << code_name(code) << " (reason " << reason << "), got " << status
                                       << " details " << status.details().dump();
  }
  return testing::AssertionSuccess();
}

std::shared_ptr<SessionStore> make_store(FakeClock& clock, SessionLimits limits = {}, std::size_t shards = 8) {
  MemorySessionStoreOptions options;
  options.limits = limits;
  options.clock = clock.function();
  options.shards = shards;
  auto store = make_memory_session_store(std::move(options));
  EXPECT_TRUE(store.ok()) << store.status();
  return store.ok() ? *store : nullptr;
}

SessionUpdate set_one(std::string key, Json value) {
  SessionUpdate update;
  update.set.emplace(std::move(key), std::move(value));
  return update;
}

// Every session, through list() pages of `page_size`.
std::vector<SessionInfo> list_all(SessionStore& store, std::size_t page_size = 1000) {
  std::vector<SessionInfo> all;
  std::string cursor;
  for (int pages = 0; pages < 100'000; ++pages) {
    auto page = store.list(cursor, page_size);
    EXPECT_TRUE(page.ok()) << page.status();
    if (!page.ok()) break;
    EXPECT_LE(page->sessions.size(), page_size);
    for (auto& info : page->sessions) all.push_back(std::move(info));
    if (page->next_cursor.empty()) break;
    cursor = page->next_cursor;
  }
  return all;
}

// --- ids, JSON, options -----------------------------------------------------

TEST(SessionIdTest, AcceptsPrintableAsciiUpToMaxLength) {
  EXPECT_TRUE(validate_session_id("a").ok());
  EXPECT_TRUE(validate_session_id("user:42/chat-7_~!#").ok());
  EXPECT_TRUE(validate_session_id(std::string(128, 'x')).ok());
  EXPECT_TRUE(validate_session_id("abcd", 4).ok());
}

TEST(SessionIdTest, RejectsMalformedIdsWithoutEchoingThem) {
  const std::string too_long(129, 'x');
  const std::string huge(100'000, 'y');
  for (const std::string& id :
       {std::string(), too_long, huge, std::string("a b"), std::string("a\x01"), std::string("a\x7f"),
        std::string("caf\xc3\xa9"), std::string("a\tb"), std::string("a\0b", 3)}) {
    const Status status = validate_session_id(id);
    EXPECT_TRUE(IsError(status, Code::kInvalidArgument, "bad_session_id")) << "id of " << id.size() << " bytes";
    EXPECT_FALSE(status.message().empty());
    EXPECT_LT(status.message().size(), 200u);
    EXPECT_EQ(status.message().find("xxxxxxxxxx"), std::string::npos);
  }
  EXPECT_TRUE(IsError(validate_session_id("abcde", 4), Code::kInvalidArgument, "bad_session_id"));
  EXPECT_NE(validate_session_id("a b").message().find("0x20"), std::string::npos);
  EXPECT_NE(validate_session_id(too_long).message().find("129"), std::string::npos);
}

TEST(SessionInfoTest, ToJsonUsesIsoTimesWithMilliseconds) {
  SessionInfo info;
  info.id = "s1";
  info.created = SessionClock::time_point(std::chrono::milliseconds(FakeClock::kStartMs + 123));
  info.last_accessed = info.created + 61'001ms;
  info.ttl = 90s;
  info.worker_id = "default-1.0";
  info.metadata = Json{{"user", "ann"}};
  info.keys = 2;
  info.bytes = 17;
  info.version = 5;
  const Json json = to_json(info);
  EXPECT_EQ(json["id"], "s1");
  EXPECT_EQ(json["created"], "2026-11-28T12:00:00.123Z");
  EXPECT_EQ(json["last_accessed"], "2026-11-28T12:01:01.124Z");
  EXPECT_EQ(json["ttl_s"], 90);
  EXPECT_EQ(json["worker_id"], "default-1.0");
  EXPECT_EQ(json["metadata"], (Json{{"user", "ann"}}));
  EXPECT_EQ(json["keys"], 2);
  EXPECT_EQ(json["bytes"], 17);
  EXPECT_EQ(json["version"], 5);

  info.created = SessionClock::time_point(std::chrono::milliseconds(0));
  EXPECT_EQ(to_json(info)["created"], "1970-01-01T00:00:00.000Z");
}

TEST(SessionInfoTest, StatsToJson) {
  SessionStoreStats stats;
  stats.created = 5;
  stats.deleted = 1;
  stats.expired = 2;
  stats.current = 2;
  stats.bytes = 40;
  EXPECT_EQ(to_json(stats), (Json{{"created", 5}, {"deleted", 1}, {"expired", 2}, {"current", 2}, {"bytes", 40}}));
}

TEST(SessionStoreOptionsTest, RejectsBadOptionsNamingTheField) {
  const auto field_of = [](MemorySessionStoreOptions options) -> std::string {
    auto store = make_memory_session_store(std::move(options));
    if (store.ok()) return "ok";
    EXPECT_EQ(store.status().code(), Code::kInvalidArgument);
    EXPECT_NE(store.status().message().find(store.status().details().value("field", std::string("?"))),
              std::string::npos);
    return store.status().details().value("field", std::string());
  };
  EXPECT_EQ(field_of({}), "ok");
  MemorySessionStoreOptions options;
  options.shards = 0;
  EXPECT_EQ(field_of(options), "sessions.shards");
  options.shards = 4097;
  EXPECT_EQ(field_of(options), "sessions.shards");
  options = {};
  options.shards = 1;
  EXPECT_EQ(field_of(options), "ok");
  options = {};
  options.limits.max_keys = 0;
  EXPECT_EQ(field_of(options), "sessions.max_keys");
  options = {};
  options.limits.max_sessions = 0;
  EXPECT_EQ(field_of(options), "sessions.max_sessions");
  options = {};
  options.limits.max_sessions = std::numeric_limits<std::size_t>::max();  // unlimited is fine
  EXPECT_EQ(field_of(options), "ok");
  options = {};
  options.limits.max_id_length = 0;
  EXPECT_EQ(field_of(options), "sessions.max_id_length");
  options = {};
  options.limits.max_key_length = 0;
  EXPECT_EQ(field_of(options), "sessions.max_key_length");
  options = {};
  options.limits.max_bytes = 0;
  EXPECT_EQ(field_of(options), "sessions.max_bytes");
  options = {};
  options.limits.default_ttl = 0s;
  EXPECT_EQ(field_of(options), "sessions.default_ttl_s");
  options = {};
  options.limits.max_ttl = -1s;
  EXPECT_EQ(field_of(options), "sessions.max_ttl_s");
  options = {};
  options.limits.default_ttl = 10s;
  options.limits.max_ttl = 5s;
  EXPECT_EQ(field_of(options), "sessions.default_ttl_s");
}

// --- basic operations -------------------------------------------------------

TEST(SessionStoreTest, CreateGetExistsReadUpdateRemove) {
  FakeClock clock;
  auto store = make_store(clock);

  auto created = store->create("s1");
  ASSERT_TRUE(created.ok()) << created.status();
  EXPECT_EQ(created->id, "s1");
  EXPECT_EQ(created->created, clock.now());
  EXPECT_EQ(created->last_accessed, clock.now());
  EXPECT_EQ(created->ttl, SessionLimits{}.default_ttl);
  EXPECT_EQ(created->worker_id, "");
  EXPECT_TRUE(created->metadata.is_null());
  EXPECT_EQ(created->keys, 0u);
  EXPECT_EQ(created->bytes, 0u);
  EXPECT_EQ(created->version, 0u);

  EXPECT_EQ(store->exists("s1").value(), true);
  EXPECT_EQ(store->exists("s2").value(), false);

  clock.advance(5s);
  auto got = store->get("s1");
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->last_accessed, clock.now());
  EXPECT_EQ(got->created, created->created);

  auto data = store->read("s1");
  ASSERT_TRUE(data.ok());
  EXPECT_EQ(data->values, Json::object());
  EXPECT_EQ(data->version, 0u);

  SessionUpdate update;
  update.set = {{"a", 1}, {"b", Json{{"x", {1, 2, 3}}}}, {"c", "text"}};
  auto version = store->update("s1", update);
  ASSERT_TRUE(version.ok()) << version.status();
  EXPECT_EQ(*version, 1u);

  data = store->read("s1");
  ASSERT_TRUE(data.ok());
  EXPECT_EQ(data->values, (Json{{"a", 1}, {"b", {{"x", {1, 2, 3}}}}, {"c", "text"}}));
  EXPECT_EQ(data->version, 1u);

  data = store->read("s1", {"c", "missing", "a"});
  ASSERT_TRUE(data.ok());
  EXPECT_EQ(data->values, (Json{{"a", 1}, {"c", "text"}}));

  got = store->get("s1");
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->keys, 3u);
  // keys + compact JSON: "a" "1", "b" {"x":[1,2,3]}, "c" "\"text\""
  EXPECT_EQ(got->bytes, 1u + 1u + 1u + 13u + 1u + 6u);
  EXPECT_EQ(got->version, 1u);

  SessionUpdate erase;
  erase.erase = {"a", "never-there", "a"};
  erase.set = {{"c", 2.5}};
  version = store->update("s1", erase);
  ASSERT_TRUE(version.ok()) << version.status();
  EXPECT_EQ(*version, 2u);
  data = store->read("s1");
  ASSERT_TRUE(data.ok());
  EXPECT_EQ(data->values, (Json{{"b", {{"x", {1, 2, 3}}}}, {"c", 2.5}}));

  EXPECT_TRUE(store->remove("s1").ok());
  EXPECT_EQ(store->exists("s1").value(), false);
  EXPECT_TRUE(IsError(store->get("s1").status(), Code::kNotFound, "no_session"));
  EXPECT_TRUE(IsError(store->read("s1").status(), Code::kNotFound, "no_session"));
  EXPECT_TRUE(IsError(store->update("s1", set_one("a", 1)).status(), Code::kNotFound, "no_session"));
  EXPECT_TRUE(IsError(store->bind("s1", "w"), Code::kNotFound, "no_session"));
  EXPECT_TRUE(store->remove("s1").ok());  // idempotent
  EXPECT_TRUE(store->remove("never-created").ok());
}

TEST(SessionStoreTest, EveryOperationValidatesTheId) {
  FakeClock clock;
  auto store = make_store(clock);
  const std::string bad = "has space";
  EXPECT_TRUE(IsError(store->create(bad).status(), Code::kInvalidArgument, "bad_session_id"));
  EXPECT_TRUE(IsError(store->get_or_create(bad).status(), Code::kInvalidArgument, "bad_session_id"));
  EXPECT_TRUE(IsError(store->get(bad).status(), Code::kInvalidArgument, "bad_session_id"));
  EXPECT_TRUE(IsError(store->exists(bad).status(), Code::kInvalidArgument, "bad_session_id"));
  EXPECT_TRUE(IsError(store->read(bad).status(), Code::kInvalidArgument, "bad_session_id"));
  EXPECT_TRUE(IsError(store->update(bad, {}).status(), Code::kInvalidArgument, "bad_session_id"));
  EXPECT_TRUE(IsError(store->bind(bad, "w"), Code::kInvalidArgument, "bad_session_id"));
  EXPECT_TRUE(IsError(store->remove(bad), Code::kInvalidArgument, "bad_session_id"));
  EXPECT_TRUE(IsError(store->get(std::string(129, 'a')).status(), Code::kInvalidArgument, "bad_session_id"));

  SessionLimits limits;
  limits.max_id_length = 4;
  auto short_ids = make_store(clock, limits);
  EXPECT_TRUE(short_ids->create("abcd").ok());
  EXPECT_TRUE(IsError(short_ids->create("abcde").status(), Code::kInvalidArgument, "bad_session_id"));
}

TEST(SessionStoreTest, CreateTwiceFailsAndErrorsNameTheSession) {
  FakeClock clock;
  auto store = make_store(clock);
  ASSERT_TRUE(store->create("dup-1").ok());
  const Status status = store->create("dup-1").status();
  EXPECT_TRUE(IsError(status, Code::kFailedPrecondition, "session_exists"));
  EXPECT_NE(status.message().find("\"dup-1\""), std::string::npos) << status;
  EXPECT_EQ(status.details()["session_id"], "dup-1");

  const Status missing = store->get("gone-7").status();
  EXPECT_NE(missing.message().find("\"gone-7\""), std::string::npos) << missing;

  // A long id is shown cut short.
  const std::string long_id(128, 'k');
  const Status long_missing = store->get(long_id).status();
  EXPECT_TRUE(IsError(long_missing, Code::kNotFound, "no_session"));
  EXPECT_EQ(long_missing.message().find(long_id), std::string::npos);
  EXPECT_NE(long_missing.message().find(std::string(64, 'k')), std::string::npos);
}

TEST(SessionStoreTest, CreateValidatesTtlAndMetadata) {
  FakeClock clock;
  SessionLimits limits;
  limits.max_ttl = 100s;
  limits.default_ttl = 50s;
  limits.max_bytes = 64;
  auto store = make_store(clock, limits);

  SessionCreate options;
  options.ttl = 0s;
  EXPECT_TRUE(IsError(store->create("t", options).status(), Code::kInvalidArgument, "bad_ttl"));
  options.ttl = 101s;
  EXPECT_TRUE(IsError(store->create("t", options).status(), Code::kInvalidArgument, "bad_ttl"));
  options.ttl = -5s;
  EXPECT_TRUE(IsError(store->create("t", options).status(), Code::kInvalidArgument, "bad_ttl"));

  options = {};
  options.metadata = Json::array({1, 2});
  EXPECT_TRUE(IsError(store->create("t", options).status(), Code::kInvalidArgument, "bad_metadata"));
  options.metadata = "text";
  EXPECT_TRUE(IsError(store->create("t", options).status(), Code::kInvalidArgument, "bad_metadata"));
  options.metadata = Json{{"x", std::nan("")}};
  EXPECT_TRUE(IsError(store->create("t", options).status(), Code::kInvalidArgument, "bad_metadata"));
  options.metadata = Json{{"big", std::string(100, 'z')}};  // more than max_bytes
  EXPECT_TRUE(IsError(store->create("t", options).status(), Code::kInvalidArgument, "bad_metadata"));
  EXPECT_EQ(store->exists("t").value(), false);
  EXPECT_EQ(store->stats().created, 0u);

  options = {};
  options.ttl = 100s;
  options.metadata = Json{{"user", "ann"}, {"n", 1}};
  auto info = store->create("t", options);
  ASSERT_TRUE(info.ok()) << info.status();
  EXPECT_EQ(info->ttl, 100s);
  EXPECT_EQ(info->metadata, options.metadata);
  EXPECT_EQ(info->bytes, options.metadata.dump().size());  // metadata counts against max_bytes
  auto got = store->get("t");
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->metadata, options.metadata);
  EXPECT_EQ(store->stats().bytes, options.metadata.dump().size());

  options = {};
  options.metadata = Json::object();
  info = store->create("empty-meta", options);
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(info->metadata, Json::object());
}

TEST(SessionStoreTest, GetOrCreateTellsWhetherItCreated) {
  FakeClock clock;
  auto store = make_store(clock);
  bool created = false;
  auto first = store->get_or_create("g", &created);
  ASSERT_TRUE(first.ok());
  EXPECT_TRUE(created);
  EXPECT_EQ(first->ttl, SessionLimits{}.default_ttl);
  ASSERT_TRUE(store->update("g", set_one("k", "v")).ok());

  clock.advance(1s);
  auto second = store->get_or_create("g", &created);
  ASSERT_TRUE(second.ok());
  EXPECT_FALSE(created);
  EXPECT_EQ(second->keys, 1u);
  EXPECT_EQ(second->last_accessed, clock.now());
  EXPECT_TRUE(store->get_or_create("g").ok());  // `created` is optional
  EXPECT_EQ(store->stats().created, 1u);
}

// --- TTL --------------------------------------------------------------------

TEST(SessionStoreTest, TouchedSessionsStayUntouchedExpire) {
  FakeClock clock;
  SessionLimits limits;
  limits.default_ttl = 10s;
  auto store = make_store(clock, limits);
  ASSERT_TRUE(store->create("touched").ok());
  ASSERT_TRUE(store->create("idle").ok());
  ASSERT_TRUE(store->create("read").ok());
  ASSERT_TRUE(store->create("written").ok());
  ASSERT_TRUE(store->create("bound").ok());

  for (int i = 0; i < 5; ++i) {
    clock.advance(9s);
    EXPECT_TRUE(store->get("touched").ok());
    EXPECT_TRUE(store->read("read").ok());
    EXPECT_TRUE(store->update("written", set_one("i", i)).ok());
    EXPECT_TRUE(store->bind("bound", "w-1").ok());
  }
  EXPECT_TRUE(store->get("touched").ok());
  EXPECT_TRUE(store->get("read").ok());
  EXPECT_TRUE(store->get("written").ok());
  EXPECT_TRUE(store->get("bound").ok());
  EXPECT_TRUE(IsError(store->get("idle").status(), Code::kNotFound, "no_session"));
  EXPECT_EQ(store->stats().expired, 1u);
  EXPECT_EQ(store->stats().current, 4u);

  // Expiry is at last access + ttl exactly.
  clock.advance(10s - 1ms);
  EXPECT_EQ(store->exists("touched").value(), true);
  clock.advance(1ms);
  EXPECT_EQ(store->exists("touched").value(), false);
}

TEST(SessionStoreTest, ExistsDoesNotTouch) {
  FakeClock clock;
  SessionLimits limits;
  limits.default_ttl = 10s;
  auto store = make_store(clock, limits);
  ASSERT_TRUE(store->create("e").ok());
  clock.advance(6s);
  EXPECT_EQ(store->exists("e").value(), true);
  clock.advance(6s);  // 12 s after the last touch
  EXPECT_EQ(store->exists("e").value(), false);
  EXPECT_TRUE(IsError(store->get("e").status(), Code::kNotFound, "no_session"));
  EXPECT_EQ(store->stats().expired, 1u);
}

TEST(SessionStoreTest, PerSessionTtlOverridesTheDefault) {
  FakeClock clock;
  SessionLimits limits;
  limits.default_ttl = 10s;
  auto store = make_store(clock, limits);
  SessionCreate longer;
  longer.ttl = 60s;
  SessionCreate shorter;
  shorter.ttl = 2s;
  ASSERT_TRUE(store->create("long", longer).ok());
  ASSERT_TRUE(store->create("short", shorter).ok());
  ASSERT_TRUE(store->create("default").ok());
  clock.advance(3s);
  EXPECT_EQ(store->exists("short").value(), false);
  EXPECT_EQ(store->exists("default").value(), true);
  clock.advance(8s);
  EXPECT_EQ(store->exists("default").value(), false);
  EXPECT_EQ(store->exists("long").value(), true);
  auto info = store->get("long");
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(info->ttl, 60s);
}

TEST(SessionStoreTest, ExpiredSessionIsMissingForEveryOperation) {
  FakeClock clock;
  SessionLimits limits;
  limits.default_ttl = 5s;
  auto store = make_store(clock, limits);
  ASSERT_TRUE(store->create("x").ok());
  ASSERT_TRUE(store->update("x", set_one("k", "value")).ok());
  clock.advance(5s);
  EXPECT_TRUE(IsError(store->read("x").status(), Code::kNotFound, "no_session"));
  EXPECT_EQ(store->stats().bytes, 0u);

  ASSERT_TRUE(store->create("y").ok());
  clock.advance(5s);
  EXPECT_TRUE(IsError(store->update("y", set_one("k", 1)).status(), Code::kNotFound, "no_session"));

  ASSERT_TRUE(store->create("z").ok());
  clock.advance(5s);
  EXPECT_TRUE(IsError(store->bind("z", "w"), Code::kNotFound, "no_session"));

  // An expired id can be created afresh; get_or_create makes a new one.
  ASSERT_TRUE(store->create("x").ok());
  ASSERT_TRUE(store->update("x", set_one("k", 1)).ok());
  clock.advance(5s);
  auto again = store->create("x");
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(again->keys, 0u);
  clock.advance(5s);
  bool created = false;
  ASSERT_TRUE(store->get_or_create("x", &created).ok());
  EXPECT_TRUE(created);

  ASSERT_TRUE(store->create("r").ok());
  clock.advance(5s);
  EXPECT_TRUE(store->remove("r").ok());

  const SessionStoreStats stats = store->stats();
  EXPECT_EQ(stats.deleted, 0u);
  EXPECT_EQ(stats.expired, 6u);  // x, y, z, x again, x once more, r
  EXPECT_EQ(stats.current, 1u);
  EXPECT_EQ(stats.created - stats.deleted - stats.expired, stats.current);
}

TEST(SessionStoreTest, SweepRemovesExpiredSessionsAndCountsThem) {
  FakeClock clock;
  SessionLimits limits;
  limits.default_ttl = 10s;
  auto store = make_store(clock, limits, 4);
  SessionCreate keep;
  keep.ttl = 3600s;
  for (int i = 0; i < 100; ++i) {
    ASSERT_TRUE(store->create("old-" + std::to_string(i)).ok());
    ASSERT_TRUE(store->update("old-" + std::to_string(i), set_one("k", i)).ok());
  }
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(store->create("keep-" + std::to_string(i), keep).ok());
  EXPECT_EQ(store->sweep(1s), 0u);  // nothing expired yet

  clock.advance(10s);
  EXPECT_EQ(store->sweep(1s), 100u);
  EXPECT_EQ(store->sweep(1s), 0u);
  const SessionStoreStats stats = store->stats();
  EXPECT_EQ(stats.expired, 100u);
  EXPECT_EQ(stats.current, 10u);
  EXPECT_EQ(stats.bytes, 0u);
  EXPECT_EQ(list_all(*store).size(), 10u);
  for (int i = 0; i < 10; ++i) EXPECT_EQ(store->exists("keep-" + std::to_string(i)).value(), true);
}

TEST(SessionStoreTest, SweepWithNoBudgetMakesProgressAndFinishes) {
  FakeClock clock;
  SessionLimits limits;
  limits.default_ttl = 10s;
  // One shard: the whole sweep has to resume inside it.
  auto store = make_store(clock, limits, 1);
  constexpr std::size_t kSessions = 1000;
  for (std::size_t i = 0; i < kSessions; ++i) ASSERT_TRUE(store->create("s" + std::to_string(i)).ok());
  SessionCreate keep;
  keep.ttl = 3600s;
  ASSERT_TRUE(store->create("s5000", keep).ok());
  clock.advance(10s);

  std::size_t removed = 0;
  int calls = 0;
  while (removed < kSessions && calls < 10'000) {
    const std::size_t now_removed = store->sweep(0us);
    if (calls == 0) {
      EXPECT_GT(now_removed, 0u);
      EXPECT_LT(now_removed, kSessions);
    }
    removed += now_removed;
    ++calls;
  }
  EXPECT_EQ(removed, kSessions);
  EXPECT_GT(calls, 1);
  EXPECT_EQ(store->stats().expired, kSessions);
  EXPECT_EQ(store->exists("s5000").value(), true);
  EXPECT_EQ(store->sweep(0us), 0u);
}

TEST(SessionStoreTest, SweepOfALargeShardFinishesInOneCallWithEnoughBudget) {
  FakeClock clock;
  SessionLimits limits;
  limits.default_ttl = 10s;
  auto store = make_store(clock, limits, 1);
  for (int i = 0; i < 2000; ++i) ASSERT_TRUE(store->create("s" + std::to_string(i)).ok());
  clock.advance(10s);
  // The lock is released every few hundred entries; the sweep resumes after.
  EXPECT_EQ(store->sweep(std::chrono::hours(1)), 2000u);
  EXPECT_EQ(store->stats().current, 0u);
}

TEST(SessionStoreTest, SweepResumesRoundRobinAcrossShards) {
  FakeClock clock;
  SessionLimits limits;
  limits.default_ttl = 10s;
  auto store = make_store(clock, limits, 64);
  for (int i = 0; i < 3000; ++i) ASSERT_TRUE(store->create("s" + std::to_string(i)).ok());
  clock.advance(10s);
  std::size_t removed = 0;
  for (int calls = 0; calls < 100'000 && removed < 3000; ++calls) removed += store->sweep(0us);
  EXPECT_EQ(removed, 3000u);
  EXPECT_EQ(store->stats().current, 0u);
}

// --- quota and limits -------------------------------------------------------

TEST(SessionStoreTest, QuotaLimitsSessions) {
  FakeClock clock;
  SessionLimits limits;
  limits.max_sessions = 3;
  auto store = make_store(clock, limits);
  ASSERT_TRUE(store->create("a").ok());
  ASSERT_TRUE(store->create("b").ok());
  ASSERT_TRUE(store->get_or_create("c").ok());
  const Status full = store->create("d").status();
  EXPECT_TRUE(IsError(full, Code::kResourceExhausted, "session_quota"));
  EXPECT_NE(full.message().find("\"d\""), std::string::npos);
  EXPECT_TRUE(IsError(store->get_or_create("d").status(), Code::kResourceExhausted, "session_quota"));
  EXPECT_TRUE(store->get_or_create("a").ok());  // existing: no quota needed
  EXPECT_EQ(store->stats().current, 3u);

  ASSERT_TRUE(store->remove("b").ok());
  EXPECT_TRUE(store->create("d").ok());
  EXPECT_TRUE(IsError(store->create("e").status(), Code::kResourceExhausted, "session_quota"));

  // Expired sessions hold their place until found or swept.
  clock.advance(SessionLimits{}.default_ttl);
  EXPECT_TRUE(IsError(store->create("e").status(), Code::kResourceExhausted, "session_quota"));
  EXPECT_EQ(store->sweep(1s), 3u);
  EXPECT_TRUE(store->create("e").ok());
}

TEST(SessionStoreTest, QuotaHoldsUnderConcurrentCreation) {
  FakeClock clock;
  SessionLimits limits;
  limits.max_sessions = 10;
  auto store = make_store(clock, limits);
  std::atomic<int> ok{0};
  std::atomic<int> quota{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 50; ++i) {
        auto result = store->create("t" + std::to_string(t) + "-" + std::to_string(i));
        if (result.ok()) {
          ++ok;
        } else if (IsError(result.status(), Code::kResourceExhausted, "session_quota")) {
          ++quota;
        }
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(ok.load(), 10);
  EXPECT_EQ(quota.load(), 8 * 50 - 10);
  EXPECT_EQ(store->stats().current, 10u);
  EXPECT_EQ(list_all(*store).size(), 10u);
}

TEST(SessionStoreTest, MaxKeysAndMaxBytesAreEnforcedAllOrNothing) {
  FakeClock clock;
  SessionLimits limits;
  limits.max_keys = 3;
  limits.max_bytes = 40;
  auto store = make_store(clock, limits);
  ASSERT_TRUE(store->create("s").ok());
  SessionUpdate two;
  two.set = {{"a", 1}, {"b", 2}};
  ASSERT_TRUE(store->update("s", two).ok());

  SessionUpdate too_many;
  too_many.set = {{"c", 3}, {"d", 4}};
  const Status keys_full = store->update("s", too_many).status();
  EXPECT_TRUE(IsError(keys_full, Code::kResourceExhausted, "session_full"));
  EXPECT_EQ(keys_full.details()["limit"], "max_keys");
  EXPECT_NE(keys_full.message().find("\"s\""), std::string::npos);

  // Erasing in the same update makes room.
  too_many.erase = {"a"};
  ASSERT_TRUE(store->update("s", too_many).ok());
  auto data = store->read("s");
  ASSERT_TRUE(data.ok());
  EXPECT_EQ(data->values, (Json{{"b", 2}, {"c", 3}, {"d", 4}}));
  const std::uint64_t version = data->version;

  // 3 keys of 1 byte + values: b=2 (1), c=3 (1), d: 30 + 2 quotes = 37 bytes in all.
  SessionUpdate big;
  big.set = {{"d", std::string(30, 'x')}};
  ASSERT_TRUE(store->update("s", big).ok());
  EXPECT_EQ(store->get("s")->bytes, 37u);
  big.set = {{"b", std::string(10, 'y')}, {"c", 0}};
  const Status bytes_full = store->update("s", big).status();
  EXPECT_TRUE(IsError(bytes_full, Code::kResourceExhausted, "session_full"));
  EXPECT_EQ(bytes_full.details()["limit"], "max_bytes");

  // Nothing of the failed updates was applied.
  auto after = store->read("s");
  ASSERT_TRUE(after.ok());
  EXPECT_EQ(after->version, version + 1);
  EXPECT_EQ(after->values, (Json{{"b", 2}, {"c", 3}, {"d", std::string(30, 'x')}}));
  EXPECT_EQ(store->stats().bytes, 37u);
}

TEST(SessionStoreTest, BadKeysAndValuesAreRejectedAndChangeNothing) {
  FakeClock clock;
  SessionLimits limits;
  limits.max_key_length = 8;
  auto store = make_store(clock, limits);
  ASSERT_TRUE(store->create("s").ok());
  ASSERT_TRUE(store->update("s", set_one("keep", "me")).ok());

  for (const std::string& key : {std::string(), std::string(9, 'k'), std::string("\xff"), std::string("a\xc3"),
                                 std::string("\xed\xa0\x80"), std::string("\xc0\xaf")}) {
    SessionUpdate update;
    update.set = {{"good", 1}, {key, 2}};
    const Status status = store->update("s", update).status();
    EXPECT_TRUE(IsError(status, Code::kInvalidArgument, "bad_key")) << "key of " << key.size() << " bytes";
    EXPECT_NO_THROW((void)status.to_json().dump()) << "the message is valid UTF-8";
    SessionUpdate erase;
    erase.erase = {key};
    EXPECT_TRUE(IsError(store->update("s", erase).status(), Code::kInvalidArgument, "bad_key"));
  }
  // Any UTF-8 up to the limit is a good key.
  EXPECT_TRUE(store->update("s", set_one("caf\xc3\xa9", 1)).ok());
  EXPECT_TRUE(store->update("s", set_one("\xf0\x9f\x90\x8d", 1)).ok());
  EXPECT_TRUE(store->update("s", set_one(std::string(8, 'k'), 1)).ok());
  EXPECT_TRUE(store->update("s", set_one("a b\n", 1)).ok());

  const double nan = std::numeric_limits<double>::quiet_NaN();
  const double inf = std::numeric_limits<double>::infinity();
  for (const Json& value : {Json(nan), Json(inf), Json(-inf), Json{{"deep", {1, {{"x", nan}}}}}, Json::array({inf})}) {
    SessionUpdate update;
    update.set = {{"good", 1}, {"bad", value}};
    const Status status = store->update("s", update).status();
    EXPECT_TRUE(IsError(status, Code::kInvalidArgument, "bad_value")) << value.dump();
  }
  auto data = store->read("s");
  ASSERT_TRUE(data.ok());
  EXPECT_FALSE(data->values.contains("good"));
  EXPECT_FALSE(data->values.contains("bad"));
  EXPECT_EQ(data->values["keep"], "me");
  EXPECT_EQ(data->version, 5u);
  EXPECT_EQ(data->values.size(), 5u);
}

TEST(SessionStoreTest, SetAndEraseOfTheSameKeyEndsSet) {
  FakeClock clock;
  auto store = make_store(clock);
  ASSERT_TRUE(store->create("s").ok());
  SessionUpdate update;
  update.set = {{"k", 2}};
  update.erase = {"k"};
  ASSERT_TRUE(store->update("s", update).ok());
  EXPECT_EQ(store->read("s")->values, (Json{{"k", 2}}));
}

TEST(SessionStoreTest, EveryUpdateBumpsTheVersionAndIfVersionGuardsIt) {
  FakeClock clock;
  auto store = make_store(clock);
  ASSERT_TRUE(store->create("v").ok());
  EXPECT_EQ(store->update("v", set_one("a", 1)).value(), 1u);
  EXPECT_EQ(store->update("v", {}).value(), 2u);  // an empty update counts too

  SessionUpdate guarded = set_one("a", 2);
  guarded.if_version = 1;
  const Status stale = store->update("v", guarded).status();
  EXPECT_TRUE(IsError(stale, Code::kFailedPrecondition, "version_mismatch"));
  EXPECT_EQ(stale.details()["current_version"], 2);
  EXPECT_EQ(store->read("v")->values["a"], 1);

  guarded.if_version = 2;
  EXPECT_EQ(store->update("v", guarded).value(), 3u);
  EXPECT_EQ(store->read("v")->values["a"], 2);
  EXPECT_EQ(store->get("v")->version, 3u);
}

TEST(SessionStoreTest, BindAndUnbindShowInGet) {
  FakeClock clock;
  auto store = make_store(clock);
  ASSERT_TRUE(store->create("b").ok());
  ASSERT_TRUE(store->bind("b", "default-3.1").ok());
  EXPECT_EQ(store->get("b")->worker_id, "default-3.1");
  EXPECT_EQ(store->get("b")->version, 0u);  // binding is not a data change
  ASSERT_TRUE(store->bind("b", "").ok());
  EXPECT_EQ(store->get("b")->worker_id, "");
  EXPECT_TRUE(IsError(store->bind("b", "bad worker"), Code::kInvalidArgument, "bad_worker_id"));
  EXPECT_TRUE(IsError(store->bind("b", std::string(1000, 'w')), Code::kInvalidArgument, "bad_worker_id"));
  const Status binary = store->bind("b", "\xff\xfe\"");
  EXPECT_TRUE(IsError(binary, Code::kInvalidArgument, "bad_worker_id"));
  EXPECT_NE(binary.message().find(R"("\xff\xfe\"")"), std::string::npos) << binary;
  EXPECT_EQ(store->list().value().sessions.at(0).worker_id, "");
}

// --- list and stats ---------------------------------------------------------

TEST(SessionStoreTest, ListPagesEveryIdOnceInOrder) {
  FakeClock clock;
  auto store = make_store(clock, {}, 16);
  std::set<std::string> ids;
  std::mt19937 random(7);
  while (ids.size() < 1000) {
    std::string id = "id-" + std::to_string(random() % 100'000);
    if (ids.insert(id).second) {
      ASSERT_TRUE(store->create(id).ok());
    }
  }
  const std::vector<std::string> expected(ids.begin(), ids.end());
  for (std::size_t page_size : {1u, 7u, 100u, 999u, 1000u}) {
    std::vector<std::string> seen;
    for (const SessionInfo& info : list_all(*store, page_size)) seen.push_back(info.id);
    EXPECT_EQ(seen, expected) << "page size " << page_size;
  }

  auto first = store->list("", 10);
  ASSERT_TRUE(first.ok());
  ASSERT_EQ(first->sessions.size(), 10u);
  EXPECT_EQ(first->next_cursor, first->sessions.back().id);
  auto last = store->list(expected[expected.size() - 3], 10);
  ASSERT_TRUE(last.ok());
  ASSERT_EQ(last->sessions.size(), 2u);
  EXPECT_EQ(last->sessions[1].id, expected.back());
  EXPECT_EQ(last->next_cursor, "");
  // A cursor need not be an existing id.
  auto middle = store->list("id-5", 1);
  ASSERT_TRUE(middle.ok());
  ASSERT_EQ(middle->sessions.size(), 1u);
  EXPECT_EQ(middle->sessions[0].id, *ids.upper_bound("id-5"));
}

TEST(SessionStoreTest, ListSkipsExpiredSessionsAndChecksTheLimit) {
  FakeClock clock;
  SessionLimits limits;
  limits.default_ttl = 10s;
  auto store = make_store(clock, limits, 4);
  SessionCreate keep;
  keep.ttl = 100s;
  for (int i = 0; i < 20; ++i) ASSERT_TRUE(store->create("e" + std::to_string(i)).ok());
  ASSERT_TRUE(store->create("k1", keep).ok());
  ASSERT_TRUE(store->create("k2", keep).ok());
  clock.advance(10s);
  const auto all = list_all(*store, 3);
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[0].id, "k1");
  EXPECT_EQ(all[1].id, "k2");
  EXPECT_EQ(store->stats().current, 2u);

  EXPECT_TRUE(IsError(store->list("", 0).status(), Code::kInvalidArgument, "bad_limit"));
  EXPECT_TRUE(IsError(store->list("", 1001).status(), Code::kInvalidArgument, "bad_limit"));
  EXPECT_TRUE(store->list("", 1000).ok());
}

TEST(SessionStoreTest, StatsCountCreatedDeletedExpiredAndBytes) {
  FakeClock clock;
  SessionLimits limits;
  limits.default_ttl = 10s;
  auto store = make_store(clock, limits);
  EXPECT_EQ(to_json(store->stats()), to_json(SessionStoreStats{}));
  ASSERT_TRUE(store->create("a").ok());
  ASSERT_TRUE(store->create("b").ok());
  ASSERT_TRUE(store->create("c").ok());
  ASSERT_TRUE(store->update("a", set_one("key", "value")).ok());  // 3 + 7
  ASSERT_TRUE(store->update("b", set_one("n", 12345)).ok());      // 1 + 5
  EXPECT_EQ(store->stats().bytes, 16u);
  ASSERT_TRUE(store->remove("b").ok());
  ASSERT_TRUE(store->remove("b").ok());
  clock.advance(5s);
  ASSERT_TRUE(store->get("c").ok());
  clock.advance(5s);
  EXPECT_EQ(store->sweep(1s), 1u);  // a
  const SessionStoreStats stats = store->stats();
  EXPECT_EQ(stats.created, 3u);
  EXPECT_EQ(stats.deleted, 1u);
  EXPECT_EQ(stats.expired, 1u);
  EXPECT_EQ(stats.current, 1u);
  EXPECT_EQ(stats.bytes, 0u);
}

// --- concurrency ------------------------------------------------------------

TEST(SessionStoreTest, ConcurrentOperationsKeepTheCountersConsistent) {
  FakeClock clock;
  SessionLimits limits;
  limits.default_ttl = 20s;
  limits.max_sessions = 40;  // below the number of ids: the quota is hit too
  limits.max_keys = 6;
  auto store = make_store(clock, limits, 4);
  constexpr int kThreads = 8;
  constexpr int kOps = 3000;
  constexpr int kIds = 60;
  std::atomic<int> unexpected{0};

  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      std::mt19937 random(static_cast<unsigned>(t) + 1);
      for (int i = 0; i < kOps; ++i) {
        const std::string id = "id-" + std::to_string(random() % kIds);
        const std::string key = "k" + std::to_string(random() % 8);
        Status status;
        switch (random() % 10) {
          case 0:
            status = store->create(id).status();
            break;
          case 1:
            status = store->get_or_create(id).status();
            break;
          case 2: {
            SessionUpdate update = set_one(key, std::string(random() % 20, 'v'));
            if (random() % 2) update.erase = {"k" + std::to_string(random() % 8)};
            status = store->update(id, update).status();
            break;
          }
          case 3:
            status = store->read(id).status();
            break;
          case 4:
            status = store->remove(id);
            break;
          case 5:
            status = store->list(id, 1 + random() % 20).status();
            break;
          case 6:
            (void)store->sweep(std::chrono::microseconds(random() % 50));
            break;
          case 7:
            status = store->bind(id, random() % 2 ? "w-" + std::to_string(t) : "");
            break;
          case 8:
            status = store->exists(id).status();
            break;
          default:
            if (t == 0) clock.advance(1s);  // sessions expire while others work
            status = store->get(id).status();
            break;
        }
        const bool expected = status.ok() || status.code() == Code::kNotFound ||
                              IsError(status, Code::kFailedPrecondition, "session_exists") ||
                              IsError(status, Code::kResourceExhausted, "session_quota") ||
                              IsError(status, Code::kResourceExhausted, "session_full");
        if (!expected) {
          ++unexpected;
          ADD_FAILURE() << status;
        }
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(unexpected.load(), 0);

  const std::vector<SessionInfo> all = list_all(*store, 7);
  const SessionStoreStats stats = store->stats();
  EXPECT_EQ(stats.current, all.size());
  EXPECT_LE(stats.current, limits.max_sessions);
  EXPECT_EQ(stats.created - stats.deleted - stats.expired, stats.current);
  std::size_t bytes = 0;
  for (const SessionInfo& info : all) {
    bytes += info.bytes;
    EXPECT_LE(info.keys, limits.max_keys);
    auto data = store->read(info.id);
    ASSERT_TRUE(data.ok());
    std::size_t counted = 0;
    for (const auto& [key, value] : data->values.items()) counted += key.size() + value.dump().size();
    EXPECT_EQ(counted, info.bytes) << info.id;
  }
  EXPECT_EQ(stats.bytes, bytes);
  EXPECT_GT(stats.created, 0u);
  EXPECT_GT(stats.expired + stats.deleted, 0u);
}

}  // namespace
}  // namespace snakepit
