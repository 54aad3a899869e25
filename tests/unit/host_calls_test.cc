#include "session/host_calls.h"

#include <gtest/gtest.h>

namespace snakepit::internal {
namespace {

class HostCallsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    MemorySessionStoreOptions options;
    options.limits.max_keys = 2;
    auto made = make_memory_session_store(options);
    ASSERT_TRUE(made.ok()) << made.status();
    store_ = *made;
    ASSERT_TRUE(store_->create("s").ok());
  }

  // A built-in call's answer (no registered function is involved).
  Result<Json> call(std::string_view session, const Json& payload) {
    HostCalls::Plan plan = HostCalls(store_, functions_).plan(session, payload);
    EXPECT_EQ(plan.function, nullptr);
    return std::move(plan.answer);
  }

  static HostFunction function(std::string name, std::string result) {
    return {std::move(name), "test function", [result](Json, const CallContext&) -> Result<Json> { return Json(result); }};
  }

  std::shared_ptr<SessionStore> store_;
  std::shared_ptr<FunctionRegistry> functions_ = std::make_shared<FunctionRegistry>();
};

TEST_F(HostCallsTest, UpdateThenReadSomeOrAllKeys) {
  auto updated = call("s", {{"function", "session.update"}, {"args", {{"set", {{"a", 1}, {"b", {true}}}}}}});
  ASSERT_TRUE(updated.ok()) << updated.status();
  const auto version = (*updated)["version"];
  auto some = call("s", {{"function", "session.read"}, {"args", {{"keys", {"a", "missing"}}}}});
  ASSERT_TRUE(some.ok()) << some.status();
  EXPECT_EQ(*some, Json({{"values", {{"a", 1}}}, {"version", version}}));
  auto all = call("s", {{"function", "session.read"}});
  ASSERT_TRUE(all.ok()) << all.status();
  EXPECT_EQ((*all)["values"], Json({{"a", 1}, {"b", {true}}}));

  auto erased = call("s", {{"function", "session.update"}, {"args", {{"delete", {"a"}}}}});
  ASSERT_TRUE(erased.ok()) << erased.status();
  EXPECT_EQ((*call("s", {{"function", "session.read"}}))["values"], Json({{"b", {true}}}));
}

TEST_F(HostCallsTest, IfVersionMakesReadModifyWriteSafe) {
  auto first = call("s", {{"function", "session.update"}, {"args", {{"set", {{"n", 1}}}}}});
  ASSERT_TRUE(first.ok());
  const auto version = (*first)["version"].get<std::uint64_t>();
  auto stale = call("s", {{"function", "session.update"},
                          {"args", {{"set", {{"n", 2}}}, {"if_version", version - 1}}}});
  EXPECT_EQ(stale.status().code(), Code::kFailedPrecondition);
  EXPECT_EQ(stale.status().details()["reason"], "version_mismatch");
  auto fresh = call("s", {{"function", "session.update"}, {"args", {{"set", {{"n", 2}}}, {"if_version", version}}}});
  EXPECT_TRUE(fresh.ok()) << fresh.status();
}

TEST_F(HostCallsTest, InfoDescribesTheSession) {
  auto info = call("s", {{"function", "session.info"}, {"args", Json::object()}});
  ASSERT_TRUE(info.ok()) << info.status();
  EXPECT_EQ((*info)["id"], "s");
  EXPECT_EQ((*info)["keys"], 0);
}

TEST_F(HostCallsTest, ErrorsSayWhy) {
  auto unknown = call("s", {{"function", "nope"}});
  EXPECT_EQ(unknown.status().code(), Code::kNotFound);
  EXPECT_EQ(unknown.status().details()["reason"], "unknown_function");

  auto no_session = call("", {{"function", "session.read"}});
  EXPECT_EQ(no_session.status().code(), Code::kFailedPrecondition);
  EXPECT_EQ(no_session.status().details()["reason"], "no_session");

  auto gone = call("other", {{"function", "session.read"}});
  EXPECT_EQ(gone.status().code(), Code::kNotFound);

  for (const Json& bad : {Json("text"), Json{{"function", 3}}, Json{{"function", "session.read"}, {"args", {1}}},
                          Json{{"function", "session.read"}, {"args", {{"keys", "a"}}}},
                          Json{{"function", "session.update"}, {"args", {{"set", {1, 2}}}}},
                          Json{{"function", "session.update"}, {"args", {{"if_version", -1}}}}}) {
    auto r = call("s", bad);
    EXPECT_EQ(r.status().code(), Code::kInvalidArgument) << bad;
  }

  auto full = call("s", {{"function", "session.update"}, {"args", {{"set", {{"a", 1}, {"b", 2}, {"c", 3}}}}}});
  EXPECT_EQ(full.status().code(), Code::kResourceExhausted);
  EXPECT_EQ(full.status().details()["reason"], "session_full");
}

}  // namespace
}  // namespace snakepit::internal

namespace snakepit::internal {
namespace {

TEST_F(HostCallsTest, RegisteredFunctionsAreHandedBackToRunWithTheirArgs) {
  ASSERT_TRUE(functions_->add(function("add", "global")).ok());
  ASSERT_TRUE(functions_->add(function("add", "for s"), "s").ok());
  const HostCalls calls(store_, functions_);

  auto plain = calls.plan("", {{"function", "add"}, {"args", {{"x", 1}}}});
  ASSERT_NE(plain.function, nullptr);
  EXPECT_EQ(*plain.function->body({}, {}), "global");
  EXPECT_EQ(plain.args, (Json{{"x", 1}}));

  auto in_session = calls.plan("s", {{"function", "add"}});
  ASSERT_NE(in_session.function, nullptr);
  EXPECT_EQ(*in_session.function->body({}, {}), "for s");
  EXPECT_EQ(in_session.args, Json::object());

  auto unknown = calls.plan("s", {{"function", "sub"}});
  EXPECT_EQ(unknown.function, nullptr);
  EXPECT_EQ(unknown.answer.status().code(), Code::kNotFound);
  EXPECT_EQ(unknown.answer.status().details()["reason"], "unknown_function");
}

TEST_F(HostCallsTest, HostFunctionsListsWhatTheRequestMayCall) {
  ASSERT_TRUE(functions_->add(function("g", "")).ok());
  ASSERT_TRUE(functions_->add(function("mine", ""), "s").ok());
  ASSERT_TRUE(functions_->add(function("theirs", ""), "t").ok());
  auto listed = call("s", {{"function", "host.functions"}});
  ASSERT_TRUE(listed.ok()) << listed.status();
  std::vector<std::string> names;
  for (const auto& f : (*listed)["functions"]) names.push_back(f["name"].get<std::string>() + "/" + f["scope"].get<std::string>());
  EXPECT_EQ(names, (std::vector<std::string>{"mine/session", "g/global"}));
}

TEST_F(HostCallsTest, RegistryRefusesBadNamesDuplicatesAndUnknownRemovals) {
  EXPECT_EQ(functions_->add(function("", "")).code(), Code::kInvalidArgument);
  EXPECT_EQ(functions_->add(function("session.read", "")).code(), Code::kInvalidArgument);
  EXPECT_EQ(functions_->add(function("host.x", "")).code(), Code::kInvalidArgument);
  EXPECT_EQ(functions_->add(function("a b", "")).code(), Code::kInvalidArgument);
  EXPECT_EQ(functions_->add(function(std::string(129, 'a'), "")).code(), Code::kInvalidArgument);
  EXPECT_EQ(functions_->add(HostFunction{"nobody", "", nullptr}).code(), Code::kInvalidArgument);
  ASSERT_TRUE(functions_->add(function("f", "")).ok());
  const Status again = functions_->add(function("f", ""));
  EXPECT_EQ(again.code(), Code::kFailedPrecondition);
  EXPECT_EQ(again.details()["reason"], "already_registered");
  EXPECT_EQ(functions_->remove("f", "s").code(), Code::kNotFound);
  EXPECT_TRUE(functions_->remove("f").ok());
  EXPECT_EQ(functions_->find("f", ""), nullptr);
  EXPECT_EQ(functions_->remove("f").code(), Code::kNotFound);
}

}  // namespace
}  // namespace snakepit::internal
