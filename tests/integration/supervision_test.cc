// Supervision with real misbehaving workers (tests/fixtures): failed
// start-ups, crashes, hangs, protocol violations, stubborn processes and
// grandchildren, the restart intensity limit, retries, and the snakepit-v0
// protocol. Every test ends with no child, no zombie and no leaked fd.
#include <signal.h>
#include <unistd.h>

#include <future>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "snakepit/snakepit.h"
#include "tests/integration/test_support.h"

namespace snakepit::testing {
namespace {

// Each test ends with no child, no zombie and no leaked descriptor (checked
// by the fixture once the test body has returned).
class SupervisionTest : public HygieneCheckedTest {};

// Waits until the pool has observed `n` restarts (the exit of a worker is
// seen by the loop asynchronously), then until every slot is ready again.
void await_restarts(Snakepit& pit, std::uint64_t n) {
  ASSERT_TRUE(wait_until([&] { return pit.stats().restarts >= n; }, 10s)) << "restarts: " << pit.stats().restarts;
  const Status ready = pit.await_ready(10s);
  ASSERT_TRUE(ready.ok()) << ready;
}

// ---- start-up failures ----------------------------------------------------

TEST_F(SupervisionTest, CrashAtStartFailsStartAndLeavesNothing) {
  auto pit = Snakepit::start(script_options("crash_on_start.py", 2));
  ASSERT_FALSE(pit.ok());
  EXPECT_EQ(pit.status().code(), Code::kUnavailable) << pit.status();
  EXPECT_EQ(pit.status().details()["exit_code"], 3) << pit.status().details();
  EXPECT_EQ(pit.status().details()["reason"], "exit_code:3") << pit.status().details();
  // What it said on stderr before dying travels with the cause.
  EXPECT_THAT(pit.status().details()["stderr_tail"],
              ::testing::Contains(Json("crash_on_start: exiting with code 3 before hello")))
      << pit.status().details();
}

TEST_F(SupervisionTest, BadHelloFailsStartWithProtocolError) {
  auto pit = Snakepit::start(script_options("bad_hello.py", 1));
  ASSERT_FALSE(pit.ok());
  EXPECT_EQ(pit.status().code(), Code::kUnavailable) << pit.status();
  EXPECT_EQ(pit.status().details()["reason"], "protocol_error") << pit.status().details();
}

TEST_F(SupervisionTest, SilentWorkerHitsTheStartupTimeout) {
  Options options = script_options("silent.py", 2);
  options.pool.startup_timeout = 300ms;
  auto pit = Snakepit::start(options);
  ASSERT_FALSE(pit.ok());
  EXPECT_EQ(pit.status().code(), Code::kDeadlineExceeded) << pit.status();
  EXPECT_EQ(pit.status().details()["reason"], "startup_timeout") << pit.status().details();
}

// ---- crashes while serving -------------------------------------------------

TEST_F(SupervisionTest, CrashMidRequestIsUnavailableWithExitCodeAndTheWorkerIsReplaced) {
  Snakepit pit = start_or_die(generic_options(2));
  auto r = call(pit, "crash", {{"code", 7}});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kUnavailable) << r.status();
  EXPECT_EQ(r.status().details()["exit_code"], 7) << r.status().details();
  EXPECT_EQ(r.status().details()["reason"], "exit_code:7");
  EXPECT_TRUE(r.status().details().contains("worker_id"));
  await_restarts(pit, 1);
  const PoolStats stats = pit.stats();
  EXPECT_EQ(stats.ready, 2u);
  EXPECT_EQ(stats.restarts, 1u);
  EXPECT_EQ(stats.restart_reasons.at("exit_code:7"), 1u);
  EXPECT_EQ(stats.errors.at("Unavailable"), 1u);
  EXPECT_EQ(stats.retries, 0u);
  auto next = call(pit, "echo", {{"after", "crash"}});
  ASSERT_TRUE(next.ok()) << next.status();
  EXPECT_EQ(*next, Json({{"after", "crash"}}));
  pit.shutdown();
}

TEST_F(SupervisionTest, IdleWorkerKilledExternallyIsReplaced) {
  Snakepit pit = start_or_die(generic_options(2));
  const pid_t victim = worker_pid(pit, 1);
  ASSERT_GT(victim, 0);
  ASSERT_EQ(::kill(victim, SIGKILL), 0);
  ASSERT_TRUE(wait_for_replacement(pit, 1, victim));
  const PoolStats stats = pit.stats();
  EXPECT_EQ(stats.restarts, 1u);
  EXPECT_EQ(stats.restart_reasons.at("signal:SIGKILL"), 1u);
  EXPECT_EQ(stats.workers[1].id, "test-1.2");
  EXPECT_EQ(stats.workers[1].restarts, 1);
  EXPECT_THAT(stats.workers[1].last_exit, ::testing::HasSubstr("SIGKILL"));
  EXPECT_EQ(stats.requests, 0u);  // no request was lost
  EXPECT_TRUE(pit.await_ready(10s).ok());
  for (int i = 0; i < 4; ++i) EXPECT_TRUE(call(pit, "ping").ok());
  pit.shutdown();
}

TEST_F(SupervisionTest, BusyWorkerKilledExternallyFailsItsRequestWithTheSignal) {
  Snakepit pit = start_or_die(generic_options(1));
  auto future = pit.execute_future("sleep", {{"ms", 60000}});
  ASSERT_TRUE(wait_until([&] { return pit.stats().busy == 1; }));
  const pid_t victim = worker_pid(pit, 0);
  ASSERT_EQ(::kill(victim, SIGKILL), 0);
  ASSERT_EQ(future.wait_for(kHangBound), std::future_status::ready);
  auto r = future.get();
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kUnavailable) << r.status();
  EXPECT_EQ(r.status().details()["signal"], SIGKILL) << r.status().details();
  EXPECT_EQ(r.status().details()["reason"], "signal:SIGKILL");
  EXPECT_EQ(r.status().details()["pid"], victim);
  EXPECT_EQ(pit.stats().retries, 0u);
  await_restarts(pit, 1);
  EXPECT_TRUE(call(pit, "ping").ok());
  pit.shutdown();
}

TEST_F(SupervisionTest, HungRequestTimesOutAndTheWorkerIsKilledAfterCancelGrace) {
  Options options = misbehaving_options(1);
  options.pool.cancel_grace = 200ms;
  Snakepit pit = start_or_die(options);
  const pid_t hung = worker_pid(pit, 0);
  auto r = call(pit, "hang", {}, with_timeout(300ms));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kDeadlineExceeded) << r.status();
  EXPECT_EQ(r.status().details()["reason"], "deadline") << r.status().details();
  // It ignores cancel: killed after cancel_grace and replaced.
  ASSERT_TRUE(wait_gone(hung));
  await_restarts(pit, 1);
  const PoolStats stats = pit.stats();
  EXPECT_EQ(stats.restart_reasons.at("cancel_timeout"), 1u);
  EXPECT_EQ(stats.errors.at("DeadlineExceeded"), 1u);
  EXPECT_EQ(stats.errors.count("Unavailable"), 0u);  // the request was already answered
  EXPECT_NE(worker_pid(pit, 0), hung);
  auto ok = call(pit, "pid");
  ASSERT_TRUE(ok.ok()) << ok.status();
  EXPECT_EQ((*ok)["pid"], worker_pid(pit, 0));
  pit.shutdown();
}

TEST_F(SupervisionTest, CancelledRequestThatStopsInTimeKeepsItsWorker) {
  // The generic sleep honours cancel: after the deadline it answers within
  // the grace period, and the worker is not killed.
  Snakepit pit = start_or_die(generic_options(1));
  const pid_t pid = worker_pid(pit, 0);
  auto r = call(pit, "sleep", {{"ms", 60000}}, with_timeout(100ms));
  EXPECT_EQ(r.status().code(), Code::kDeadlineExceeded) << r.status();
  auto ping = call(pit, "ping");
  ASSERT_TRUE(ping.ok()) << ping.status();
  EXPECT_EQ((*ping)["pid"], pid);
  EXPECT_EQ((*ping)["requests"], 1);  // the cancelled sleep, answered late
  EXPECT_EQ(pit.stats().restarts, 0u);
  pit.shutdown();
}

TEST_F(SupervisionTest, WorkerOutputDoesNotDisturbTheProtocol) {
  Options options = misbehaving_options(1);
  options.pool.max_log_line = 64;
  Snakepit pit = start_or_die(options);
  auto r = call(pit, "print_lines", {{"n", 2000}});
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(*r, Json({{"printed", 2000}}));
  auto again = call(pit, "print_lines", {{"n", 3}});
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(*again, Json({{"printed", 3}}));
  EXPECT_EQ(pit.stats().restarts, 0u);
  pit.shutdown();
}

void expect_protocol_error(const char* command) {
  Snakepit pit = start_or_die(misbehaving_options(1));
  const pid_t broken = worker_pid(pit, 0);
  const long vm_before = vm_size_kib();
  auto r = call(pit, command);
  ASSERT_FALSE(r.ok()) << command;
  EXPECT_EQ(r.status().code(), Code::kUnavailable) << r.status();
  EXPECT_EQ(r.status().details()["reason"], "protocol_error") << r.status().details();
  EXPECT_EQ(r.status().details()["pid"], broken);
  // The host kills the worker at once (the fixture would sleep 60 s).
  EXPECT_EQ(r.status().details()["signal"], SIGKILL) << r.status().details();
  // The host did not allocate for what the worker announced.
  EXPECT_LT(vm_size_kib() - vm_before, 256 * 1024) << "VmSize grew";
  await_restarts(pit, 1);
  EXPECT_EQ(pit.stats().restart_reasons.at("protocol_error"), 1u);
  auto ok = call(pit, "pid");
  ASSERT_TRUE(ok.ok()) << ok.status();
  EXPECT_NE((*ok)["pid"], broken);
  pit.shutdown();
}

TEST_F(SupervisionTest, GarbageOnTheProtocolPipeIsAProtocolError) { expect_protocol_error("write_garbage"); }

TEST_F(SupervisionTest, HugeFrameIsAProtocolErrorWithoutAllocating) { expect_protocol_error("huge_frame"); }

TEST_F(SupervisionTest, ResponseWithAWrongIdIsAProtocolError) { expect_protocol_error("wrong_id"); }

TEST_F(SupervisionTest, ExitRightAfterRespondingStillDeliversTheResponse) {
  Snakepit pit = start_or_die(misbehaving_options(1));
  auto r = call(pit, "exit_after_response");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(*r, Json({{"ok", true}}));
  await_restarts(pit, 1);
  EXPECT_EQ(pit.stats().restart_reasons.at("exit_code:0"), 1u);
  EXPECT_EQ(pit.stats().errors.size(), 0u);
  EXPECT_TRUE(call(pit, "pid").ok());
  pit.shutdown();
}

// ---- stopping stubborn processes ----------------------------------------------

TEST_F(SupervisionTest, ShutdownEscalatesToSigkillForAWorkerIgnoringSigterm) {
  Snakepit pit = start_or_die(misbehaving_options(1));
  auto r = call(pit, "ignore_sigterm");
  ASSERT_TRUE(r.ok()) << r.status();
  const pid_t stubborn = worker_pid(pit, 0);
  pit.shutdown(0ms);
  EXPECT_FALSE(process_alive(stubborn));
}

TEST_F(SupervisionTest, ShutdownKillsGrandchildren) {
  pid_t grandchild = 0;
  {
    Snakepit pit = start_or_die(misbehaving_options(1));
    auto r = call(pit, "spawn_grandchild");
    ASSERT_TRUE(r.ok()) << r.status();
    grandchild = (*r)["grandchild_pid"].get<pid_t>();
    ASSERT_TRUE(process_alive(grandchild));
    EXPECT_EQ(::getpgid(grandchild), worker_pid(pit, 0));
    pit.shutdown();
  }
  // Adopted by init once its parent is gone: poll until it disappears.
  EXPECT_TRUE(wait_gone(grandchild)) << "grandchild " << grandchild << " survived shutdown";
}

TEST_F(SupervisionTest, CrashedWorkerTakesItsGrandchildrenWithIt) {
  Snakepit pit = start_or_die(misbehaving_options(1));
  auto r = call(pit, "spawn_grandchild");
  ASSERT_TRUE(r.ok()) << r.status();
  const pid_t grandchild = (*r)["grandchild_pid"].get<pid_t>();
  const pid_t worker = worker_pid(pit, 0);
  ASSERT_EQ(::kill(worker, SIGKILL), 0);
  EXPECT_TRUE(wait_gone(grandchild)) << "grandchild " << grandchild << " outlived its worker";
  await_restarts(pit, 1);
  EXPECT_TRUE(call(pit, "pid").ok());
  pit.shutdown();
}

// ---- restart intensity, retries ---------------------------------------------------

TEST_F(SupervisionTest, SlotCrashingBeyondTheIntensityLimitFailsAndThePoolKeepsServing) {
  Options options = generic_options(2);
  options.pool.restart.max_restarts = 2;
  options.pool.restart.window = 60s;
  Snakepit pit = start_or_die(options);
  for (int crash = 1; crash <= 2; ++crash) {
    const pid_t victim = worker_pid(pit, 0);
    ASSERT_EQ(::kill(victim, SIGKILL), 0);
    ASSERT_TRUE(wait_for_replacement(pit, 0, victim)) << "crash " << crash;
  }
  const pid_t last = worker_pid(pit, 0);
  ASSERT_EQ(::kill(last, SIGKILL), 0);
  ASSERT_TRUE(wait_until([&] { return pit.stats().failed_slots == 1; }));
  const PoolStats stats = pit.stats();
  EXPECT_EQ(stats.workers[0].state, WorkerState::kFailed);
  EXPECT_EQ(stats.workers[0].pid, 0);
  EXPECT_EQ(stats.workers[0].restarts, 2);
  EXPECT_EQ(stats.workers[1].state, WorkerState::kReady);
  EXPECT_EQ(stats.workers[1].restarts, 0);
  EXPECT_FALSE(process_alive(last));
  // await_ready counts a failed slot as settled; the other slot serves.
  EXPECT_TRUE(pit.await_ready(1s).ok());
  for (int i = 0; i < 4; ++i) {
    auto r = call(pit, "ping");
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_EQ((*r)["pid"], stats.workers[1].pid);
  }
  EXPECT_EQ(pit.stats().failed_slots, 1u);
  pit.shutdown();
}

TEST_F(SupervisionTest, CrashesSpreadBeyondTheWindowNeverFailTheSlot) {
  Options options = generic_options(1);
  options.pool.restart.max_restarts = 1;
  options.pool.restart.window = 1ms;  // every crash is alone in its window
  Snakepit pit = start_or_die(options);
  for (int crash = 1; crash <= 3; ++crash) {
    const pid_t victim = worker_pid(pit, 0);
    ASSERT_EQ(::kill(victim, SIGKILL), 0);
    ASSERT_TRUE(wait_for_replacement(pit, 0, victim)) << "crash " << crash;
  }
  const PoolStats stats = pit.stats();
  EXPECT_EQ(stats.failed_slots, 0u);
  EXPECT_EQ(stats.workers[0].restarts, 3);
  EXPECT_TRUE(call(pit, "ping").ok());
  pit.shutdown();
}

TEST_F(SupervisionTest, AwaitReadyTimesOutWhileASlotWaitsForItsRestart) {
  Options options = generic_options(2);
  options.pool.restart.backoff_initial = 30s;  // the restart will not happen during the test
  options.pool.restart.backoff_max = 60s;
  options.pool.queue_timeout = 100ms;
  Snakepit pit = start_or_die(options);
  const pid_t victim = worker_pid(pit, 0);
  ASSERT_EQ(::kill(victim, SIGKILL), 0);
  ASSERT_TRUE(wait_until([&] { return pit.stats().restarts == 1; }));
  const Status ready = pit.await_ready(100ms);
  EXPECT_EQ(ready.code(), Code::kDeadlineExceeded) << ready;
  EXPECT_EQ(ready.details()["reason"], "deadline");
  const PoolStats stats = pit.stats();
  EXPECT_EQ(stats.workers[0].state, WorkerState::kExited);
  EXPECT_EQ(stats.workers[0].pid, 0);
  EXPECT_EQ(stats.ready, 1u);
  // The other slot serves meanwhile.
  auto r = call(pit, "ping");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ((*r)["pid"], worker_pid(pit, 1));
  // Shutdown does not wait for the pending restart.
  pit.shutdown();
  EXPECT_TRUE(child_processes().empty());
}

TEST_F(SupervisionTest, RequestsQueueWhileTheOnlySlotRestarts) {
  Snakepit pit = start_or_die(generic_options(1));
  const pid_t victim = worker_pid(pit, 0);
  ASSERT_EQ(::kill(victim, SIGKILL), 0);
  ASSERT_TRUE(wait_until([&] { return pit.stats().restarts == 1; }));
  // No worker right now: the request waits for the replacement.
  auto r = call(pit, "ping");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_NE((*r)["pid"], victim);
  pit.shutdown();
}

TEST_F(SupervisionTest, PoolWhoseEverySlotFailedRejectsRequests) {
  Options options = generic_options(1);
  options.pool.restart.max_restarts = 0;
  Snakepit pit = start_or_die(options);
  auto crash = call(pit, "crash", {{"code", 9}});
  EXPECT_EQ(crash.status().code(), Code::kUnavailable);
  EXPECT_EQ(crash.status().details()["exit_code"], 9);
  ASSERT_TRUE(wait_until([&] { return pit.stats().failed_slots == 1; }));
  auto r = call(pit, "ping");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kUnavailable) << r.status();
  EXPECT_EQ(r.status().details()["reason"], "no_workers");
  const Status ready = pit.await_ready(1s);
  EXPECT_EQ(ready.code(), Code::kUnavailable) << ready;
  EXPECT_EQ(ready.details()["reason"], "no_workers");
  pit.shutdown();
}

TEST_F(SupervisionTest, RestartCounterAgreesWithTheSlotsWhenASlotFails) {
  // stats().restarts counts restarts; a crash that fails the slot (intensity
  // limit reached) restarts nothing, as WorkerInfo::restarts shows.
  Options options = generic_options(1);
  options.pool.restart.max_restarts = 1;
  Snakepit pit = start_or_die(options);
  EXPECT_EQ(call(pit, "crash", {{"code", 3}}).status().code(), Code::kUnavailable);
  await_restarts(pit, 1);
  EXPECT_EQ(call(pit, "crash", {{"code", 3}}).status().code(), Code::kUnavailable);
  ASSERT_TRUE(wait_until([&] { return pit.stats().failed_slots == 1; }));
  const PoolStats stats = pit.stats();
  EXPECT_EQ(stats.workers[0].restarts, 1);
  EXPECT_EQ(stats.restarts, 1u) << "the crash that failed the slot was counted as a restart";
  EXPECT_EQ(stats.restart_reasons.at("exit_code:3"), 1u);
  pit.shutdown();
}

TEST_F(SupervisionTest, IdempotentRequestIsRetriedOnceAfterAWorkerLoss) {
  Snakepit pit = start_or_die(generic_options(2));
  // `crash` kills whichever worker runs it, so the retry crashes too.
  auto r = call(pit, "crash", {{"code", 5}}, idempotent());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kUnavailable) << r.status();
  EXPECT_EQ(r.status().details()["exit_code"], 5);
  await_restarts(pit, 2);
  const PoolStats stats = pit.stats();
  EXPECT_EQ(stats.retries, 1u);
  EXPECT_EQ(stats.requests, 1u);
  EXPECT_EQ(stats.errors.at("Unavailable"), 1u);
  EXPECT_EQ(stats.restart_reasons.at("exit_code:5"), 2u);
  EXPECT_EQ(stats.workers[0].restarts + stats.workers[1].restarts, 2);
  pit.shutdown();
}

TEST_F(SupervisionTest, IdempotentRequestSucceedsOnRetryAfterItsWorkerIsKilled) {
  Snakepit pit = start_or_die(generic_options(2));
  auto future = pit.execute_future("sleep", {{"ms", 1000}}, idempotent());
  ASSERT_TRUE(wait_until([&] { return pit.stats().busy == 1; }));
  pid_t victim = 0;
  for (const auto& worker : pit.list_workers()) {
    if (worker.state == WorkerState::kBusy) victim = worker.pid;
  }
  ASSERT_GT(victim, 0);
  ASSERT_EQ(::kill(victim, SIGKILL), 0);
  ASSERT_EQ(future.wait_for(kHangBound), std::future_status::ready);
  auto r = future.get();
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(*r, Json({{"slept_ms", 1000}}));
  EXPECT_EQ(pit.stats().retries, 1u);
  EXPECT_EQ(pit.stats().succeeded, 1u);
  pit.shutdown();
}

TEST_F(SupervisionTest, IdempotentRetryOnAPoolOfOneWaitsForTheReplacement) {
  Snakepit pit = start_or_die(generic_options(1));
  auto future = pit.execute_future("sleep", {{"ms", 1000}}, idempotent());
  ASSERT_TRUE(wait_until([&] { return pit.stats().busy == 1; }));
  const pid_t victim = worker_pid(pit, 0);
  ASSERT_EQ(::kill(victim, SIGKILL), 0);
  ASSERT_EQ(future.wait_for(kHangBound), std::future_status::ready);
  auto r = future.get();
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(*r, Json({{"slept_ms", 1000}}));
  const PoolStats stats = pit.stats();
  EXPECT_EQ(stats.retries, 1u);
  EXPECT_EQ(stats.workers[0].requests, 1u);  // served by the replacement
  EXPECT_NE(stats.workers[0].pid, victim);
  pit.shutdown();
}

TEST_F(SupervisionTest, NonIdempotentRequestIsNotRetried) {
  Snakepit pit = start_or_die(generic_options(2));
  auto r = call(pit, "crash", {{"code", 6}});
  EXPECT_EQ(r.status().code(), Code::kUnavailable);
  await_restarts(pit, 1);
  EXPECT_EQ(pit.stats().retries, 0u);
  EXPECT_EQ(pit.stats().restarts, 1u);
  pit.shutdown();
}

// ---- snakepit-v0 ---------------------------------------------------------------------------

TEST_F(SupervisionTest, SnakepitV0WorkerServesAndFails) {
  Snakepit pit = start_or_die(script_options("v0_worker.py", 1, Protocol::kSnakepitV0, "v0"));
  const pid_t pid = worker_pid(pit, 0);
  auto ping = call(pit, "ping");
  ASSERT_TRUE(ping.ok()) << ping.status();
  EXPECT_EQ((*ping)["status"], "ok");
  EXPECT_EQ((*ping)["pid"], pid);
  const Json args = {{"token", "v0-echo"}, {"n", 3}};
  auto echo = call(pit, "echo", args);
  ASSERT_TRUE(echo.ok()) << echo.status();
  EXPECT_EQ(*echo, args);

  auto fail = call(pit, "fail");
  ASSERT_FALSE(fail.ok());
  EXPECT_EQ(fail.status().code(), Code::kInternal) << fail.status();
  EXPECT_EQ(fail.status().message(), "boom");
  // The worker survives an error response.
  EXPECT_EQ(worker_pid(pit, 0), pid);
  EXPECT_TRUE(call(pit, "ping").ok());
  EXPECT_EQ(pit.stats().restarts, 0u);
  pit.shutdown();
}

TEST_F(SupervisionTest, SnakepitV0WrongIdIsAProtocolError) {
  Snakepit pit = start_or_die(script_options("v0_worker.py", 1, Protocol::kSnakepitV0));
  auto r = call(pit, "bad_id");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kUnavailable) << r.status();
  EXPECT_EQ(r.status().details()["reason"], "protocol_error") << r.status().details();
  await_restarts(pit, 1);
  EXPECT_TRUE(call(pit, "echo", {{"x", 1}}).ok());
  pit.shutdown();
}

TEST_F(SupervisionTest, SnakepitV0CrashIsUnavailableWithExitCode) {
  Snakepit pit = start_or_die(script_options("v0_worker.py", 1, Protocol::kSnakepitV0));
  auto r = call(pit, "crash");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kUnavailable) << r.status();
  EXPECT_EQ(r.status().details()["exit_code"], 4) << r.status().details();
  await_restarts(pit, 1);
  EXPECT_TRUE(call(pit, "ping").ok());
  pit.shutdown();
}

TEST_F(SupervisionTest, V0WorkerGetsNoProtocolDescriptors) {
  // In snakepit-v0 mode the protocol runs on stdin/stdout; fds 3 and 4 are
  // not passed (the spawn closes every other descriptor).
  auto pit = Snakepit::start(script_options("bad_hello.py", 1, Protocol::kSnakepitV0));
  ASSERT_FALSE(pit.ok());
  // bad_hello writes to fd 4, which is not open in v0 mode: it crashes
  // (OSError, exit code 1) before saying anything.
  EXPECT_EQ(pit.status().code(), Code::kUnavailable) << pit.status();
  EXPECT_EQ(pit.status().details()["exit_code"], 1) << pit.status().details();
}

}  // namespace
}  // namespace snakepit::testing
