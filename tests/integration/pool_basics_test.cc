// A pool of real Python workers (the bridge's generic adapter): start-up,
// the commands, errors from the worker, the three ways to call, stats,
// shutdown and option validation.
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <future>
#include <set>
#include <thread>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "snakepit/snakepit.h"
#include "tests/integration/test_support.h"

namespace snakepit::testing {
namespace {

// Each test ends with no child, no zombie and no leaked descriptor (checked
// by the fixture once the test body has returned).
class PoolBasicsTest : public HygieneCheckedTest {};

using ::testing::ElementsAre;

std::vector<pid_t> pids_of(const Snakepit& pit) {
  std::vector<pid_t> pids;
  for (const auto& worker : pit.list_workers()) pids.push_back(worker.pid);
  return pids;
}

TEST_F(PoolBasicsTest, ServesPingEchoAndCompute) {
  Snakepit pit = start_or_die(generic_options(2, "basics"));
  const auto pids = pids_of(pit);

  auto ping = call(pit, "ping", {{"test", true}});
  ASSERT_TRUE(ping.ok()) << ping.status();
  EXPECT_EQ((*ping)["status"], "ok");
  EXPECT_EQ((*ping)["echo"], Json({{"test", true}}));
  EXPECT_THAT(pids, ::testing::Contains((*ping)["pid"].get<pid_t>()));
  EXPECT_THAT((*ping)["worker_id"].get<std::string>(), ::testing::StartsWith("basics-"));

  const Json payload = {{"token", "tok-1"}, {"list", {1, 2, 3}}, {"nested", {{"x", nullptr}}}, {"s", "é ✓"}};
  auto echo = call(pit, "echo", payload);
  ASSERT_TRUE(echo.ok()) << echo.status();
  EXPECT_EQ(*echo, payload);

  auto add = call(pit, "compute", {{"operation", "add"}, {"a", 2}, {"b", 3}});
  ASSERT_TRUE(add.ok()) << add.status();
  EXPECT_EQ((*add)["result"], 5);
  auto divide = call(pit, "compute", {{"operation", "divide"}, {"a", 7}, {"b", 2}});
  ASSERT_TRUE(divide.ok()) << divide.status();
  EXPECT_DOUBLE_EQ((*divide)["result"].get<double>(), 3.5);

  auto info = call(pit, "info");
  ASSERT_TRUE(info.ok()) << info.status();
  EXPECT_THAT((*info)["commands"], ::testing::Contains(Json("sleep")));
  pit.shutdown();
}

TEST_F(PoolBasicsTest, StartsEveryWorkerAndReportsThemReady) {
  Snakepit pit = start_or_die(generic_options(3, "basics"));
  const PoolStats stats = pit.stats();
  EXPECT_EQ(stats.pool, "basics");
  EXPECT_EQ(stats.size, 3u);
  EXPECT_EQ(stats.ready, 3u);
  EXPECT_EQ(stats.busy, 0u);
  EXPECT_EQ(stats.starting, 0u);
  EXPECT_EQ(stats.failed_slots, 0u);
  EXPECT_GT(stats.startup_duration.count(), 0);
  ASSERT_EQ(stats.workers.size(), 3u);
  std::set<pid_t> pids;
  const auto children = child_processes();
  for (int i = 0; i < 3; ++i) {
    const WorkerInfo& worker = stats.workers[i];
    EXPECT_EQ(worker.slot, i);
    EXPECT_EQ(worker.id, "basics-" + std::to_string(i) + ".1");
    EXPECT_EQ(worker.state, WorkerState::kReady);
    EXPECT_EQ(worker.restarts, 0);
    EXPECT_GT(worker.pid, 0);
    EXPECT_TRUE(process_alive(worker.pid));
    // Each worker is our own child and leads its own process group.
    EXPECT_TRUE(
        std::any_of(children.begin(), children.end(), [&](const ChildProc& c) { return c.pid == worker.pid; }));
    EXPECT_EQ(::getpgid(worker.pid), worker.pid);
    pids.insert(worker.pid);
  }
  EXPECT_EQ(pids.size(), 3u);
  EXPECT_TRUE(pit.await_ready(1s).ok());
  pit.shutdown();
}

TEST_F(PoolBasicsTest, DefaultSizeIsTwiceTheHardwareThreads) {
  const unsigned threads = std::thread::hardware_concurrency();
  if (threads == 0 || threads > 4) GTEST_SKIP() << "too many hardware threads to start 2x workers cheaply";
  Options options = generic_options(0);
  Snakepit pit = start_or_die(options);
  const PoolStats stats = pit.stats();
  EXPECT_EQ(stats.size, 2u * threads);
  EXPECT_EQ(stats.ready, 2u * threads);
  pit.shutdown();
}

TEST_F(PoolBasicsTest, UnknownCommandIsRefusedByTheHostWithoutTouchingAWorker) {
  Snakepit pit = start_or_die(generic_options(1));
  auto r = call(pit, "no_such_command", {{"x", 1}});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kInvalidArgument) << r.status();
  EXPECT_EQ(r.status().details()["reason"], "unknown_command");
  EXPECT_FALSE(r.status().details().contains("remote"));
  EXPECT_THAT(r.status().message(), ::testing::HasSubstr("no_such_command"));
  EXPECT_THAT(r.status().message(), ::testing::HasSubstr("ping"));  // what the pool offers
  EXPECT_EQ(pit.stats().workers[0].requests, 0u) << "the worker saw the request";
  // The worker is fine afterwards.
  EXPECT_TRUE(call(pit, "ping").ok());
  EXPECT_EQ(pit.stats().restarts, 0u);
  pit.shutdown();
}

TEST_F(PoolBasicsTest, DivisionByZeroIsInvalidArgument) {
  Snakepit pit = start_or_die(generic_options(1));
  auto r = call(pit, "compute", {{"operation", "divide"}, {"a", 1}, {"b", 0}});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kInvalidArgument) << r.status();
  EXPECT_EQ(r.status().details()["type"], "ZeroDivisionError");
  EXPECT_EQ(r.status().message(), "division by zero");
  pit.shutdown();
}

TEST_F(PoolBasicsTest, BadArgumentsAreInvalidArgument) {
  Snakepit pit = start_or_die(generic_options(1));
  // Missing parameter: the signature check.
  auto missing = call(pit, "compute", {{"operation", "add"}, {"a", 1}});
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), Code::kInvalidArgument) << missing.status();
  EXPECT_EQ(missing.status().details()["type"], "TypeError");
  // Unexpected parameter.
  auto extra = call(pit, "compute", {{"operation", "add"}, {"a", 1}, {"b", 2}, {"c", 3}});
  ASSERT_FALSE(extra.ok());
  EXPECT_EQ(extra.status().code(), Code::kInvalidArgument) << extra.status();
  EXPECT_EQ(extra.status().details()["type"], "TypeError");
  // Wrong type, checked by the command.
  auto wrong_type = call(pit, "compute", {{"operation", "add"}, {"a", "one"}, {"b", 2}});
  ASSERT_FALSE(wrong_type.ok());
  EXPECT_EQ(wrong_type.status().code(), Code::kInvalidArgument) << wrong_type.status();
  EXPECT_EQ(wrong_type.status().details()["type"], "TypeError");
  // Bad value, raised as snakepit_bridge.InvalidArgument.
  auto bad_operation = call(pit, "compute", {{"operation", "power"}, {"a", 1}, {"b", 2}});
  ASSERT_FALSE(bad_operation.ok());
  EXPECT_EQ(bad_operation.status().code(), Code::kInvalidArgument) << bad_operation.status();
  EXPECT_EQ(bad_operation.status().details()["type"], "InvalidArgument");
  auto negative_sleep = call(pit, "sleep", {{"ms", -1}});
  ASSERT_FALSE(negative_sleep.ok());
  EXPECT_EQ(negative_sleep.status().code(), Code::kInvalidArgument) << negative_sleep.status();
  // Arguments that are not an object.
  auto array_args = call(pit, "echo", Json::array({1, 2}));
  ASSERT_FALSE(array_args.ok());
  EXPECT_EQ(array_args.status().code(), Code::kInvalidArgument) << array_args.status();
  EXPECT_EQ(pit.stats().errors.at("InvalidArgument"), 6u);
  EXPECT_EQ(pit.stats().restarts, 0u);
  pit.shutdown();
}

TEST_F(PoolBasicsTest, ExecuteAsyncCallsBackExactlyOnceOnTheLoopThread) {
  Snakepit pit = start_or_die(generic_options(2));
  std::atomic<int> calls{0};
  std::promise<std::pair<Result<Json>, std::thread::id>> first;
  pit.execute_async("echo", {{"token", "async-1"}}, [&](Result<Json> r) {
    if (calls.fetch_add(1) == 0) first.set_value({std::move(r), std::this_thread::get_id()});
  });
  auto future = first.get_future();
  ASSERT_EQ(future.wait_for(kHangBound), std::future_status::ready);
  auto [result, thread] = future.get();
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(*result, Json({{"token", "async-1"}}));
  EXPECT_NE(thread, std::this_thread::get_id());
  // An error result is delivered exactly once as well.
  std::atomic<int> error_calls{0};
  std::promise<Status> error;
  pit.execute_async("no_such_command", {}, [&](Result<Json> r) {
    if (error_calls.fetch_add(1) == 0) error.set_value(r.status());
  });
  auto error_future = error.get_future();
  ASSERT_EQ(error_future.wait_for(kHangBound), std::future_status::ready);
  EXPECT_EQ(error_future.get().code(), Code::kInvalidArgument);
  pit.shutdown();
  EXPECT_EQ(calls.load(), 1);
  EXPECT_EQ(error_calls.load(), 1);
}

TEST_F(PoolBasicsTest, ExecuteFutureAndConcurrentCallers) {
  Snakepit pit = start_or_die(generic_options(2));
  std::vector<std::future<Result<Json>>> futures;
  for (int i = 0; i < 50; ++i) futures.push_back(pit.execute_future("echo", {{"i", i}}));
  for (int i = 0; i < 50; ++i) {
    ASSERT_EQ(futures[i].wait_for(kHangBound), std::future_status::ready);
    auto r = futures[i].get();
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_EQ(*r, Json({{"i", i}}));
  }
  // execute() from several threads at once.
  std::vector<std::thread> threads;
  std::atomic<int> good{0};
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 20; ++i) {
        const Json args = {{"t", t}, {"i", i}};
        auto r = pit.execute("echo", args);
        if (r.ok() && *r == args) ++good;
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(good.load(), 80);
  const PoolStats stats = pit.stats();
  EXPECT_EQ(stats.requests, 130u);
  EXPECT_EQ(stats.succeeded, 130u);
  EXPECT_EQ(stats.workers[0].requests + stats.workers[1].requests, 130u);
  pit.shutdown();
}

TEST_F(PoolBasicsTest, StatsCountRequestsAndErrorsByCode) {
  Snakepit pit = start_or_die(generic_options(2));
  EXPECT_TRUE(call(pit, "ping").ok());
  EXPECT_TRUE(call(pit, "echo", {{"a", 1}}).ok());
  EXPECT_TRUE(call(pit, "compute", {{"operation", "subtract"}, {"a", 1}, {"b", 2}}).ok());
  EXPECT_EQ(call(pit, "nope").status().code(), Code::kInvalidArgument);
  EXPECT_EQ(call(pit, "compute", {{"operation", "divide"}, {"a", 1}, {"b", 0}}).status().code(),
            Code::kInvalidArgument);
  EXPECT_EQ(call(pit, "sleep", {{"ms", 5000}}, with_timeout(50ms)).status().code(), Code::kDeadlineExceeded);
  const PoolStats stats = pit.stats();
  EXPECT_EQ(stats.requests, 6u);
  EXPECT_EQ(stats.succeeded, 3u);
  EXPECT_EQ(stats.errors, (std::map<std::string, std::uint64_t>{{"DeadlineExceeded", 1}, {"InvalidArgument", 2}}));
  EXPECT_EQ(stats.queue_depth, 0u);
  EXPECT_EQ(stats.queue_timeouts, 0u);
  EXPECT_EQ(stats.saturations, 0u);
  EXPECT_EQ(stats.retries, 0u);
  const Json json = to_json(stats);
  EXPECT_EQ(json["errors"]["InvalidArgument"], 2);
  EXPECT_EQ(json["size"], 2);
  pit.shutdown();
  // The final figures survive shutdown.
  EXPECT_EQ(pit.stats().requests, 6u);
}

TEST_F(PoolBasicsTest, ShutdownIsIdempotentAndLaterRequestsAreUnavailable) {
  Snakepit pit = start_or_die(generic_options(2));
  const auto pids = pids_of(pit);
  ASSERT_TRUE(call(pit, "ping").ok());
  pit.shutdown();
  // shutdown() returns once every worker is gone and reaped.
  for (pid_t pid : pids) EXPECT_FALSE(process_alive(pid)) << pid;
  EXPECT_TRUE(child_processes().empty());
  pit.shutdown();
  pit.shutdown(0ms);

  auto r = pit.execute("ping");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kUnavailable) << r.status();
  EXPECT_EQ(r.status().details()["reason"], "pool_stopping");

  auto future = pit.execute_future("ping");
  ASSERT_EQ(future.wait_for(kHangBound), std::future_status::ready);
  EXPECT_EQ(future.get().status().code(), Code::kUnavailable);

  std::atomic<int> calls{0};
  Code code = Code::kOk;
  pit.execute_async("ping", {}, [&](Result<Json> result) {
    ++calls;
    code = result.status().code();
  });
  EXPECT_EQ(calls.load(), 1);  // the pool is closed: the callback already ran
  EXPECT_EQ(code, Code::kUnavailable);

  const Status ready = pit.await_ready(100ms);
  EXPECT_EQ(ready.code(), Code::kUnavailable) << ready;
  EXPECT_EQ(pit.stats().requests, 1u);
}

TEST_F(PoolBasicsTest, DestructorShutsDown) {
  std::vector<pid_t> pids;
  {
    Snakepit pit = start_or_die(generic_options(2));
    pids = pids_of(pit);
    ASSERT_EQ(pids.size(), 2u);
    ASSERT_TRUE(call(pit, "ping").ok());
  }
  for (pid_t pid : pids) EXPECT_FALSE(process_alive(pid)) << pid;
}

TEST_F(PoolBasicsTest, MoveAssignmentShutsDownTheReplacedPool) {
  Snakepit first = start_or_die(generic_options(1, "first"));
  Snakepit second = start_or_die(generic_options(1, "second"));
  const pid_t first_pid = worker_pid(first, 0);
  const pid_t second_pid = worker_pid(second, 0);
  first = std::move(second);
  EXPECT_FALSE(process_alive(first_pid));
  EXPECT_TRUE(process_alive(second_pid));
  EXPECT_EQ(first.stats().pool, "second");
  EXPECT_TRUE(call(first, "ping").ok());
  // The moved-from handle fails cleanly.
  auto r = second.execute("ping");  // NOLINT(bugprone-use-after-move): testing exactly that
  EXPECT_EQ(r.status().code(), Code::kFailedPrecondition);
  EXPECT_EQ(second.await_ready(10ms).code(), Code::kFailedPrecondition);
  std::atomic<int> calls{0};
  second.execute_async("ping", {}, [&](Result<Json> result) {
    EXPECT_EQ(result.status().code(), Code::kFailedPrecondition);
    ++calls;
  });
  EXPECT_EQ(calls.load(), 1);
  second.shutdown();
  first.shutdown();
}

TEST_F(PoolBasicsTest, BlockingCallsFromTheLoopThreadFailFast) {
  Snakepit pit = start_or_die(generic_options(1));
  std::promise<std::pair<Status, Status>> inner;
  pit.execute_async("ping", {}, [&](Result<Json>) {
    // On the loop thread: a blocking call would deadlock, so it must fail.
    const Status execute_status = pit.execute("ping").status();
    const Status ready_status = pit.await_ready(10ms);
    inner.set_value({execute_status, ready_status});
  });
  auto future = inner.get_future();
  ASSERT_EQ(future.wait_for(kHangBound), std::future_status::ready);
  auto [execute_status, ready_status] = future.get();
  EXPECT_EQ(execute_status.code(), Code::kFailedPrecondition) << execute_status;
  EXPECT_EQ(ready_status.code(), Code::kFailedPrecondition) << ready_status;
  EXPECT_TRUE(call(pit, "ping").ok());
  pit.shutdown();
}

TEST_F(PoolBasicsTest, ThrowingCallbackDoesNotStopThePool) {
  Snakepit pit = start_or_die(generic_options(1));
  std::promise<void> thrown;
  pit.execute_async("ping", {}, [&](Result<Json>) {
    thrown.set_value();
    throw std::runtime_error("callbacks must not throw, but this one does");
  });
  ASSERT_EQ(thrown.get_future().wait_for(kHangBound), std::future_status::ready);
  auto r = call(pit, "echo", {{"still", "serving"}});
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(*r, Json({{"still", "serving"}}));
  pit.shutdown();
}

TEST_F(PoolBasicsTest, ShutdownFromACallbackStopsWithoutHangingOrLeaking) {
  std::vector<pid_t> pids;
  {
    Snakepit pit = start_or_die(generic_options(2));
    pids = pids_of(pit);
    std::promise<void> returned;
    pit.execute_async("ping", {}, [&](Result<Json>) {
      pit.shutdown(0ms);  // on the loop thread
      returned.set_value();
    });
    ASSERT_EQ(returned.get_future().wait_for(kHangBound), std::future_status::ready);
    auto r = pit.execute("ping");
    EXPECT_EQ(r.status().code(), Code::kUnavailable) << r.status();
  }
  for (pid_t pid : pids) EXPECT_FALSE(process_alive(pid)) << pid;
}

TEST_F(PoolBasicsTest, ConcurrentShutdownsBothWaitForThePoolToStop) {
  Snakepit pit = start_or_die(generic_options(1));
  const pid_t pid = worker_pid(pit, 0);
  auto running = pit.execute_future("sleep", {{"ms", 1000}});
  ASSERT_TRUE(wait_until([&] { return pit.stats().busy == 1; }));
  std::thread first([&] { pit.shutdown(10s); });
  // Once the first shutdown has begun, new requests are refused.
  ASSERT_TRUE(wait_until([&] { return pit.execute("ping").status().code() == Code::kUnavailable; }));
  // A second shutdown returns only once the pool has stopped, like the first.
  pit.shutdown(10s);
  EXPECT_EQ(running.wait_for(0s), std::future_status::ready)
      << "the second shutdown() returned while a request was still running";
  EXPECT_FALSE(process_alive(pid)) << "the second shutdown() returned while the worker was alive";
  first.join();
  auto r = wait_result(running);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(*r, Json({{"slept_ms", 1000}}));
}

TEST_F(PoolBasicsTest, StatsStayLiveWhileShutdownDrains) {
  Snakepit pit = start_or_die(generic_options(1, "draining"));
  auto running = pit.execute_future("sleep", {{"ms", 1000}});
  ASSERT_TRUE(wait_until([&] { return pit.stats().busy == 1; }));
  std::thread stopper([&] { pit.shutdown(10s); });
  ASSERT_TRUE(wait_until([&] { return pit.execute("ping").status().code() == Code::kUnavailable; }));
  // The pool is draining its running request: stats() still describes it.
  const PoolStats during = pit.stats();
  EXPECT_EQ(during.pool, "draining") << "stats() is empty while a shutdown is in progress";
  EXPECT_EQ(during.size, 1u);
  EXPECT_EQ(during.workers.size(), 1u);
  EXPECT_EQ(pit.list_workers().size(), 1u);
  stopper.join();
  EXPECT_TRUE(wait_result(running).ok());
  EXPECT_EQ(pit.stats().pool, "draining");
}

TEST_F(PoolBasicsTest, RequestAboveTheMaximumFrameIsRejectedWithoutHurtingTheWorker) {
  Options options = generic_options(1);
  options.pool.max_frame_bytes = 64 * 1024;
  Snakepit pit = start_or_die(options);
  const pid_t pid = worker_pid(pit, 0);
  auto r = call(pit, "echo", {{"blob", std::string(128 * 1024, 'x')}});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kResourceExhausted) << r.status();
  // The caller's oversized request is not the worker's fault.
  EXPECT_EQ(pit.stats().restarts, 0u);
  EXPECT_EQ(worker_pid(pit, 0), pid);
  auto ok = call(pit, "echo", {{"blob", std::string(1024, 'y')}});
  ASSERT_TRUE(ok.ok()) << ok.status();
  pit.shutdown();
}

TEST_F(PoolBasicsTest, LargePayloadsWithinTheLimitRoundTrip) {
  Snakepit pit = start_or_die(generic_options(1));
  const Json args = {{"blob", std::string(8 << 20, 'z')}, {"token", "large"}};
  auto r = call(pit, "echo", args);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(*r, args);
  pit.shutdown();
}

struct BadOption {
  const char* field;
  std::function<void(PoolOptions&)> mutate;
};

TEST_F(PoolBasicsTest, BadOptionsAreInvalidArgumentNamingTheField) {
  const std::vector<BadOption> cases = {
      {"pool.name", [](PoolOptions& p) { p.name = ""; }},
      {"pool.name", [](PoolOptions& p) { p.name = std::string(65, 'x'); }},
      {"pool.size", [](PoolOptions& p) { p.size = 5000; }},
      {"pool.startup_timeout_ms", [](PoolOptions& p) { p.startup_timeout = 0ms; }},
      {"pool.request_timeout_ms", [](PoolOptions& p) { p.request_timeout = -1ms; }},
      {"pool.queue_timeout_ms", [](PoolOptions& p) { p.queue_timeout = 0ms; }},
      {"pool.cancel_grace_ms", [](PoolOptions& p) { p.cancel_grace = -5ms; }},
      {"pool.stop_grace_ms", [](PoolOptions& p) { p.stop_grace = -1ms; }},
      {"pool.kill_grace_ms", [](PoolOptions& p) { p.kill_grace = -1ms; }},
      {"pool.max_frame_bytes", [](PoolOptions& p) { p.max_frame_bytes = 100; }},
      {"pool.max_log_line", [](PoolOptions& p) { p.max_log_line = 10; }},
      {"pool.restart.backoff_initial_ms", [](PoolOptions& p) { p.restart.backoff_initial = -1ms; }},
      {"pool.restart.backoff_max_ms",
       [](PoolOptions& p) {
         p.restart.backoff_initial = 100ms;
         p.restart.backoff_max = 50ms;
       }},
      {"pool.restart.max_restarts", [](PoolOptions& p) { p.restart.max_restarts = -1; }},
      {"pool.restart.window_ms", [](PoolOptions& p) { p.restart.window = 0ms; }},
      {"pool.restart.jitter", [](PoolOptions& p) { p.restart.jitter = 1.0; }},
      {"pool.restart.jitter", [](PoolOptions& p) { p.restart.jitter = -0.1; }},
  };
  for (const auto& bad : cases) {
    Options options = generic_options(1);
    bad.mutate(options.pool);
    auto pit = Snakepit::start(options);
    ASSERT_FALSE(pit.ok()) << bad.field;
    EXPECT_EQ(pit.status().code(), Code::kInvalidArgument) << bad.field << ": " << pit.status();
    EXPECT_EQ(pit.status().details()["field"], bad.field) << pit.status();
    EXPECT_TRUE(child_processes().empty()) << bad.field;
  }
}

TEST_F(PoolBasicsTest, MissingExecutableIsNotFoundAndSpawnsNothing) {
  for (const std::string& program :
       {std::string("/nonexistent/snakepit-worker"), std::string("snakepit-no-such-program-4d1f")}) {
    Options options = base_options(2);
    options.pool.adapter = adapters::exec({program, "--flag"});
    auto pit = Snakepit::start(options);
    ASSERT_FALSE(pit.ok()) << program;
    EXPECT_EQ(pit.status().code(), Code::kNotFound) << pit.status();
    EXPECT_THAT(pit.status().message(), ::testing::HasSubstr(program));
    EXPECT_TRUE(child_processes().empty());
  }
  // A missing interpreter behaves the same.
  adapters::PythonOptions python;
  python.interpreter = "/nonexistent/python3";
  Options options = base_options(1);
  options.pool.adapter = adapters::python("snakepit_bridge.generic", python);
  auto pit = Snakepit::start(options);
  ASSERT_FALSE(pit.ok());
  EXPECT_EQ(pit.status().code(), Code::kNotFound) << pit.status();
}

TEST_F(PoolBasicsTest, MissingAdapterModuleFailsStart) {
  // The bridge exits with code 2 before its hello when the module is missing.
  Options options = base_options(1);
  options.pool.adapter = adapters::python("snakepit_no_such_adapter_module");
  auto pit = Snakepit::start(options);
  ASSERT_FALSE(pit.ok());
  EXPECT_EQ(pit.status().code(), Code::kUnavailable) << pit.status();
  EXPECT_EQ(pit.status().details()["exit_code"], 2) << pit.status().details();
}

}  // namespace
}  // namespace snakepit::testing

namespace snakepit::testing {
namespace {

TEST_F(PoolBasicsTest, NumericalLibrariesGetOneThreadPerWorkerUnlessTheAdapterSaysOtherwise) {
  const Json names = {"OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "PYTHONUNBUFFERED"};
  {
    Snakepit pit = start_or_die(misbehaving_options(1));
    auto env = call(pit, "env", {{"names", names}});
    ASSERT_TRUE(env.ok()) << env.status();
    EXPECT_EQ((*env)["OMP_NUM_THREADS"], "1");
    EXPECT_EQ((*env)["OPENBLAS_NUM_THREADS"], "1");
    EXPECT_EQ((*env)["MKL_NUM_THREADS"], "1");
    EXPECT_EQ((*env)["PYTHONUNBUFFERED"], "1");
  }
  Options options = misbehaving_options(1);
  options.pool.worker_threads = 4;
  options.pool.adapter.env.emplace_back("OMP_NUM_THREADS", "2");
  Snakepit pit = start_or_die(options);
  auto env = call(pit, "env", {{"names", names}});
  ASSERT_TRUE(env.ok()) << env.status();
  EXPECT_EQ((*env)["OMP_NUM_THREADS"], "2") << "the adapter's env wins";
  EXPECT_EQ((*env)["MKL_NUM_THREADS"], "4");
}

}  // namespace
}  // namespace snakepit::testing
