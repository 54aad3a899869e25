// The Perl worker of examples/perl_worker, written from docs/protocol.md
// alone, served by the same host code as the bridges: commands and errors,
// non-ASCII JSON, concurrent requests, a stream request, and a clean exit on
// shutdown.
#include <future>
#include <mutex>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "snakepit/snakepit.h"
#include "tests/integration/test_support.h"

namespace snakepit::testing {
namespace {

class ExampleWorkerTest : public HygieneCheckedTest {};

// <source>/examples/perl_worker/worker.pl, as fixture_path() builds its paths.
std::string perl_worker_path() {
  std::string path = SNAKEPIT_SOURCE_DIR;
  path.append("/examples/perl_worker/worker.pl");
  return path;
}

Options perl_options(std::size_t size) {
  Options options = base_options(size, "perl");
  options.pool.adapter = adapters::exec({"perl", perl_worker_path()});
  return options;
}

// Worker exits and kills seen by a pool, recorded on its loop thread.
class ExitLog {
 public:
  EventHandler handler() {
    return [this](const Event& event) {
      if (event.type != EventType::kWorkerExited && event.type != EventType::kWorkerKilled) return;
      std::lock_guard<std::mutex> lock(mutex_);
      (event.type == EventType::kWorkerExited ? exits_ : kills_).push_back(to_json(event));
    };
  }
  std::vector<Json> exits() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return exits_;
  }
  std::vector<Json> kills() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return kills_;
  }

 private:
  mutable std::mutex mutex_;
  std::vector<Json> exits_;
  std::vector<Json> kills_;
};

TEST_F(ExampleWorkerTest, CommandsAndErrors) {
  Snakepit pit = start_or_die(perl_options(2));
  EXPECT_EQ(pit.stats().ready, 2u);

  auto pong = call(pit, "ping");
  ASSERT_TRUE(pong.ok()) << pong.status();
  EXPECT_EQ(*pong, (Json{{"status", "ok"}}));

  const Json nested = {{"text", "héllo wörld, ĉu vi? 日本語 ✓"},
                       {"list", {1, 2.5, nullptr, true, "ß"}},
                       {"inner", {{"deeper", {{"k", "v"}, {"n", -7}}}, {"empty", Json::object()}}}};
  auto echoed = call(pit, "echo", nested);
  ASSERT_TRUE(echoed.ok()) << echoed.status();
  EXPECT_EQ(*echoed, nested);

  auto upper = call(pit, "upper", {{"text", "hello, wörld"}});
  ASSERT_TRUE(upper.ok()) << upper.status();
  EXPECT_EQ(*upper, (Json{{"text", "HELLO, WÖRLD"}}));

  for (const Json& args : {Json::object(), Json{{"text", 42}}, Json{{"text", {"a"}}}}) {
    auto refused = call(pit, "upper", args);
    ASSERT_FALSE(refused.ok()) << args.dump();
    EXPECT_EQ(refused.status().code(), Code::kInvalidArgument) << refused.status();
    EXPECT_EQ(refused.status().details()["remote"], true);
    EXPECT_EQ(refused.status().details()["worker_id"].get<std::string>().rfind("perl-", 0), 0u)
        << refused.status();
    EXPECT_NE(refused.status().message().find("text"), std::string::npos) << refused.status();
  }

  // Not in the hello's command list: the host refuses it without a round trip.
  auto unknown = call(pit, "no_such_command", {{"x", 1}});
  ASSERT_FALSE(unknown.ok());
  EXPECT_EQ(unknown.status().code(), Code::kInvalidArgument) << unknown.status();
  EXPECT_EQ(unknown.status().details()["reason"], "unknown_command") << unknown.status();
  EXPECT_NE(unknown.status().message().find("no_such_command"), std::string::npos) << unknown.status();

  // Errors are answers, not crashes: the workers are the ones that started.
  EXPECT_TRUE(call(pit, "ping").ok());
  EXPECT_EQ(pit.stats().restarts, 0u);
  pit.shutdown();
}

TEST_F(ExampleWorkerTest, ConcurrentEchoesAllSucceed) {
  Snakepit pit = start_or_die(perl_options(2));
  std::vector<std::future<Result<Json>>> futures;
  for (int i = 0; i < 50; ++i) {
    futures.push_back(pit.execute_future("echo", {{"i", i}, {"s", "número " + std::to_string(i)}}));
  }
  for (int i = 0; i < 50; ++i) {
    auto r = wait_result(futures[static_cast<std::size_t>(i)]);
    ASSERT_TRUE(r.ok()) << i << ": " << r.status();
    EXPECT_EQ(*r, (Json{{"i", i}, {"s", "número " + std::to_string(i)}}));
  }
  const PoolStats stats = pit.stats();
  EXPECT_EQ(stats.succeeded, 50u);
  EXPECT_EQ(stats.restarts, 0u);
  // Both workers served.
  for (const WorkerInfo& worker : pit.list_workers()) EXPECT_GT(worker.requests, 0u) << worker.id;
  pit.shutdown();
}

TEST_F(ExampleWorkerTest, AStreamRequestGetsItsResultInEnd) {
  Snakepit pit = start_or_die(perl_options(1));
  int chunks = 0;
  auto streamed = pit.execute_stream("upper", {{"text", "abc"}}, [&](Json) {
    ++chunks;
    return StreamControl::kContinue;
  });
  ASSERT_TRUE(streamed.ok()) << streamed.status();
  EXPECT_EQ(*streamed, (Json{{"text", "ABC"}}));
  EXPECT_EQ(chunks, 0);
  pit.shutdown();
}

TEST_F(ExampleWorkerTest, WorkersExitCleanlyOnShutdown) {
  ExitLog log;
  Options options = perl_options(2);
  options.on_event = log.handler();
  {
    Snakepit pit = start_or_die(options);
    ASSERT_TRUE(call(pit, "ping").ok());
    pit.shutdown();
  }
  // Each worker left on the shutdown frame, with code 0, before any signal.
  EXPECT_TRUE(log.kills().empty()) << log.kills().size() << " killed, first: " << log.kills().front().dump();
  const auto exits = log.exits();
  ASSERT_EQ(exits.size(), 2u);
  for (const Json& exit : exits) EXPECT_EQ(exit["details"]["exit_code"], 0) << exit.dump();
}

}  // namespace
}  // namespace snakepit::testing
