// Helpers shared by the integration tests: pool options with short timeouts
// for the real Python workers (generic adapter, misbehaving adapter,
// standalone fixture scripts), and probes of this process's children and
// descriptors. No helper sleeps: waits are on futures, on await_ready(), or
// bounded polling loops where the kernel offers nothing to wait on.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <functional>
#include <future>
#include <optional>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "snakepit/snakepit.h"

namespace snakepit::testing {

using namespace std::chrono_literals;

// Bound for waits that only end early when something is broken.
inline constexpr std::chrono::milliseconds kHangBound = 10s;

// <source>/tests/fixtures/<relative>.
std::string fixture_path(const std::string& relative);
// The real Python interpreter (sys.executable), as the python adapter resolves it.
const std::string& python_executable();

// Options for a pool of `size` workers with short timeouts: request and
// queue timeouts 10 s (hang protection only), start-up 10 s, cancel grace
// 5 s, stop/kill grace 200 ms, restart backoff 10..50 ms, a generous restart intensity
// (100 per minute), and a silent logger (set SNAKEPIT_TEST_LOG=1 to see logs).
Options base_options(std::size_t size, const std::string& name = "test");
// The bridge's generic adapter: ping, echo, compute, info, sleep, crash, and
// the session commands (session_put/get/append/sum/info, local_counter).
Options generic_options(std::size_t size, const std::string& name = "test");
// tests/fixtures/adapters/misbehaving.py through the bridge.
Options misbehaving_options(std::size_t size, const std::string& name = "test");
// A standalone fixture script, tests/fixtures/workers/<script>, run by the
// real interpreter.
Options script_options(const std::string& script, std::size_t size, Protocol protocol = Protocol::kNative,
                       const std::string& name = "test");

// Snakepit::start() for a test that cannot go on without its pool: a failed
// start is reported and aborts the test binary.
Snakepit start_or_die(Options options);

// ExecuteOptions shorthands.
ExecuteOptions with_timeout(std::chrono::milliseconds timeout);
ExecuteOptions with_deadline(std::chrono::steady_clock::time_point deadline,
                             std::optional<std::chrono::milliseconds> timeout = std::nullopt);
ExecuteOptions idempotent();

// execute_future() with a hang bound: the request's own budget (timeout or
// the pool default `pool_timeout`) plus kHangBound. A request that does not
// complete in that time is a test failure and yields an Internal status.
Result<Json> call(Snakepit& pit, const std::string& command, Json args = Json::object(),
                  const ExecuteOptions& options = {}, std::chrono::milliseconds pool_timeout = 10s);

// The result of an execute_future() (or execute_in_session_future())
// already issued, waiting at most `bound`. A request that does not complete
// in that time is a test failure and yields an Internal status.
template <typename T>
Result<T> wait_result(std::future<Result<T>>& future, std::chrono::milliseconds bound = kHangBound) {
  if (future.wait_for(bound) != std::future_status::ready) {
    ADD_FAILURE() << "request did not complete";
    return internal_error("test: request hung");
  }
  return future.get();
}

// Entries of /proc/self/fd (the directory's own descriptor included, so two
// readings compare).
int count_open_fds();
// Child processes of this process (ppid == getpid()), with their state letter.
struct ChildProc {
  pid_t pid;
  char state;
};
std::vector<ChildProc> child_processes();
// Children in state 'Z'.
std::vector<pid_t> zombie_children();
// True while `pid` exists and is not a zombie (a killed grandchild adopted by
// an init that does not reap counts as gone).
bool process_alive(pid_t pid);
// Polls `pred` until it holds or `timeout` passes; returns its last value.
// For conditions with no event to wait on (a pid disappearing, a restart
// being observed by the loop).
bool wait_until(const std::function<bool()>& pred, std::chrono::milliseconds timeout = 5s);
// wait_until(!process_alive(pid)).
bool wait_gone(pid_t pid, std::chrono::milliseconds timeout = 5s);

// Virtual memory size of this process in KiB (VmSize of /proc/self/status).
long vm_size_kib();

// The pid of the worker in `slot` (0 when none).
pid_t worker_pid(const Snakepit& pit, int slot);
// Polls until the worker in `slot` is ready with a pid other than `old_pid`.
bool wait_for_replacement(const Snakepit& pit, int slot, pid_t old_pid, std::chrono::milliseconds timeout = 10s);

// Records the descriptors of this process before a pool starts; check()
// asserts that every child is gone (no zombie) and the fd count is back.
class Hygiene {
 public:
  Hygiene();
  void check() const;
  int fds_before() const { return fds_before_; }

 private:
  int fds_before_;
};

// Base fixture of the integration tests: a Hygiene taken before the test
// body runs and checked after it returns (once every pool the test owned is
// destroyed). Each suite derives its own empty class so that its tests keep
// their suite name.
class HygieneCheckedTest : public ::testing::Test {
 protected:
  void TearDown() override { hygiene_.check(); }

 private:
  Hygiene hygiene_;
};

}  // namespace snakepit::testing
