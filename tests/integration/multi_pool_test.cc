// Several named pools in one Snakepit: requests routed by name (default
// pool when none), a pool that fails to start leaves the others serving, and
// the adapter hooks (command list, argument check, per-command timeouts).
#include <algorithm>
#include <future>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "snakepit/snakepit.h"
#include "tests/integration/test_support.h"

namespace snakepit::testing {
namespace {

class MultiPoolTest : public HygieneCheckedTest {};

ExecuteOptions on_pool(std::string name) {
  ExecuteOptions options;
  options.pool = std::move(name);
  return options;
}

// A generic Python pool and a generic Node pool named "py" and "js".
Options python_and_node(std::size_t size) {
  Options options = generic_options(size, "py");
  PoolOptions node = options.pool;
  node.name = "js";
  node.adapter = adapters::node();
  options.pools = {options.pool, node};
  return options;
}

PoolOptions missing_executable_pool(std::string name) {
  PoolOptions pool = base_options(1, name).pool;
  pool.adapter = adapters::exec({"/nonexistent/snakepit-worker"});
  return pool;
}

TEST_F(MultiPoolTest, RequestsGoToTheNamedPoolAndTheDefaultWithoutAName) {
  Options options = python_and_node(2);
  options.default_pool = "js";
  Snakepit pit = start_or_die(std::move(options));

  auto from_python = call(pit, "ping", Json::object(), on_pool("py"));
  ASSERT_TRUE(from_python.ok()) << from_python.status();
  EXPECT_FALSE(from_python->contains("node"));
  auto from_default = call(pit, "ping");
  ASSERT_TRUE(from_default.ok()) << from_default.status();
  EXPECT_TRUE(from_default->contains("node"));  // the default pool is js

  // Both pools at once: 40 requests each, interleaved.
  std::vector<std::future<Result<Json>>> python_results;
  std::vector<std::future<Result<Json>>> node_results;
  for (int i = 0; i < 40; ++i) {
    python_results.push_back(pit.execute_future("echo", {{"i", i}}, on_pool("py")));
    node_results.push_back(pit.execute_future("echo", {{"i", i}}, on_pool("js")));
  }
  for (int i = 0; i < 40; ++i) {
    auto python = wait_result(python_results[i]);
    auto node = wait_result(node_results[i]);
    ASSERT_TRUE(python.ok()) << python.status();
    ASSERT_TRUE(node.ok()) << node.status();
    EXPECT_EQ((*python)["i"], i);
    EXPECT_EQ((*node)["i"], i);
  }

  auto all = pit.pool_stats();
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[0].pool, "py");
  EXPECT_EQ(all[1].pool, "js");
  EXPECT_EQ(all[0].requests, 41u);
  EXPECT_EQ(all[1].requests, 41u);
  EXPECT_EQ(pit.stats().pool, "js");
  const auto workers = pit.list_workers();
  ASSERT_EQ(workers.size(), 4u);
  EXPECT_EQ(workers[0].id.rfind("py-", 0), 0u) << workers[0].id;
  EXPECT_EQ(workers[3].id.rfind("js-", 0), 0u) << workers[3].id;
  EXPECT_TRUE(pit.await_ready(kHangBound).ok());
}

TEST_F(MultiPoolTest, UnknownPoolIsNotFound) {
  Snakepit pit = start_or_die(generic_options(1, "only"));
  auto result = call(pit, "ping", Json::object(), on_pool("nope"));
  EXPECT_EQ(result.status().code(), Code::kNotFound) << result.status();
  EXPECT_EQ(result.status().details()["reason"], "unknown_pool");
  EXPECT_EQ(result.status().details()["pools"], Json::array({"only"}));
  EXPECT_TRUE(call(pit, "ping", Json::object(), on_pool("only")).ok());
  EXPECT_EQ(pit.commands("nope").status().details()["reason"], "unknown_pool");
  auto offered = pit.commands("only");  // what the generic adapter's hello announced
  ASSERT_TRUE(offered.ok()) << offered.status();
  EXPECT_TRUE(std::is_sorted(offered->begin(), offered->end()));
  EXPECT_NE(std::find(offered->begin(), offered->end(), "compute"), offered->end());
}

TEST_F(MultiPoolTest, APoolThatFailsToStartLeavesTheOthersServing) {
  Options options = generic_options(1, "good");
  PoolOptions crashing = misbehaving_options(1, "crashing").pool;
  crashing.adapter = adapters::python("no_such_adapter_module");
  crashing.restart.max_restarts = 0;
  options.pools = {options.pool, missing_executable_pool("missing"), crashing};
  Snakepit pit = start_or_die(std::move(options));

  EXPECT_TRUE(call(pit, "ping").ok());
  for (const char* failed : {"missing", "crashing"}) {
    auto result = call(pit, "ping", Json::object(), on_pool(failed));
    EXPECT_EQ(result.status().code(), Code::kUnavailable) << failed << ": " << result.status();
    EXPECT_EQ(result.status().details()["reason"], "pool_failed");
    EXPECT_EQ(result.status().details()["pool"], failed);
    EXPECT_TRUE(result.status().details().contains("start_error"));
  }
  auto all = pit.pool_stats();
  ASSERT_EQ(all.size(), 3u);
  EXPECT_TRUE(all[0].start_error.empty());
  EXPECT_NE(all[1].start_error.find("/nonexistent/snakepit-worker"), std::string::npos) << all[1].start_error;
  EXPECT_FALSE(all[2].start_error.empty());
  EXPECT_EQ(to_json(all[1])["start_error"], all[1].start_error);
  EXPECT_TRUE(pit.await_ready(kHangBound).ok());  // the pools that started
}

TEST_F(MultiPoolTest, StartFailsWhenEveryPoolFails) {
  Options options = base_options(1);
  options.pools = {missing_executable_pool("a"), missing_executable_pool("b")};
  auto pit = Snakepit::start(std::move(options));
  ASSERT_FALSE(pit.ok());
  EXPECT_EQ(pit.status().code(), Code::kNotFound) << pit.status();
  EXPECT_NE(pit.status().message().find("pool a"), std::string::npos) << pit.status();
}

TEST_F(MultiPoolTest, BadPoolListsAreRefusedNamingTheField) {
  {
    Options options = generic_options(1, "twin");
    options.pools = {options.pool, options.pool};
    auto pit = Snakepit::start(std::move(options));
    ASSERT_EQ(pit.status().code(), Code::kInvalidArgument);
    EXPECT_EQ(pit.status().details()["field"], "pools");
  }
  {
    Options options = generic_options(1, "one");
    options.default_pool = "two";
    auto pit = Snakepit::start(std::move(options));
    ASSERT_EQ(pit.status().code(), Code::kInvalidArgument);
    EXPECT_EQ(pit.status().details()["field"], "default_pool");
  }
  {
    Options options = generic_options(1, "a");
    PoolOptions big = options.pool;
    big.name = "big";
    big.size = 5000;
    options.pools = {options.pool, big};
    auto pit = Snakepit::start(std::move(options));
    ASSERT_EQ(pit.status().code(), Code::kInvalidArgument);
    EXPECT_EQ(pit.status().details()["field"], "pools.big.size");
  }
  {
    Options options = generic_options(1, "a");
    options.pool.name = "has space";
    auto pit = Snakepit::start(std::move(options));
    ASSERT_EQ(pit.status().code(), Code::kInvalidArgument);
    EXPECT_EQ(pit.status().details()["field"], "pool.name");
  }
}

TEST_F(MultiPoolTest, AdapterCommandListRefusesOthersWithoutUsingAWorker) {
  Options options = generic_options(1);
  options.pool.adapter.commands = {"ping", "echo"};
  Snakepit pit = start_or_die(std::move(options));
  EXPECT_TRUE(call(pit, "ping").ok());
  // The generic adapter has compute, but this pool does not offer it.
  auto refused = call(pit, "compute", {{"operation", "add"}, {"a", 1}, {"b", 2}});
  EXPECT_EQ(refused.status().code(), Code::kInvalidArgument) << refused.status();
  EXPECT_EQ(refused.status().details()["reason"], "unknown_command");
  EXPECT_NE(refused.status().message().find("ping"), std::string::npos) << refused.status();
  EXPECT_EQ(pit.list_workers()[0].requests, 1u);  // only the ping reached the worker
  auto offered = pit.commands();
  ASSERT_TRUE(offered.ok()) << offered.status();
  EXPECT_EQ(*offered, (std::vector<std::string>{"echo", "ping"}));
}

TEST_F(MultiPoolTest, ArgumentCheckRunsBeforeAnyWorker) {
  Options options = generic_options(1);
  options.pool.adapter.validate_args = [](std::string_view command, const Json& args) -> Status {
    if (command == "echo" && !args.contains("message")) {
      return invalid_argument("echo needs a message", Json{{"reason", "missing_argument"}, {"argument", "message"}});
    }
    if (command == "compute") throw std::runtime_error("validator bug");
    return {};
  };
  Snakepit pit = start_or_die(std::move(options));
  auto missing = call(pit, "echo", {{"other", 1}});
  EXPECT_EQ(missing.status().code(), Code::kInvalidArgument);
  EXPECT_EQ(missing.status().details()["argument"], "message");
  auto threw = call(pit, "compute", {{"operation", "add"}, {"a", 1}, {"b", 2}});
  EXPECT_EQ(threw.status().code(), Code::kInternal);
  EXPECT_EQ(threw.status().details()["reason"], "validator_threw");
  EXPECT_EQ(pit.list_workers()[0].requests, 0u);
  auto echoed = call(pit, "echo", {{"message", "hi"}});
  ASSERT_TRUE(echoed.ok()) << echoed.status();
  EXPECT_EQ((*echoed)["message"], "hi");
}

TEST_F(MultiPoolTest, PerCommandTimeoutReplacesThePoolDefault) {
  Options options = generic_options(1);
  options.pool.request_timeout = 20s;
  options.pool.adapter.command_timeouts = {{"sleep", 150ms}};
  Snakepit pit = start_or_die(std::move(options));
  auto slow = call(pit, "sleep", {{"ms", 5000}});
  EXPECT_EQ(slow.status().code(), Code::kDeadlineExceeded) << slow.status();
  // The caller's own timeout still wins.
  auto given = call(pit, "sleep", {{"ms", 50}}, with_timeout(5s));
  EXPECT_TRUE(given.ok()) << given.status();
}

}  // namespace
}  // namespace snakepit::testing
