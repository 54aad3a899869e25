// The sessions demo (`snakepit demo sessions`): walks a running pool of the
// generic adapter through sessions, printing each step for a person to read:
// affinity (a counter in the worker's memory counts up on the same worker),
// session data kept by the host, a killed worker as a hint-mode and as a
// strict session sees it, expiry, and the session and affinity stats.
// Every call sets its affinity mode itself, so the pool's --affinity does not
// change the walk. A step that misbehaves is shown and makes the demo fail.
//
// Thread-compatible: one thread runs a SessionDemo.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "console_style.h"
#include "demo_outcome.h"
#include "signal_watcher.h"
#include "snakepit/snakepit.h"

namespace snakepit::cli {

class SessionDemo {
 public:
  SessionDemo(Snakepit& pit, const SignalWatcher& watcher, ConsoleStyle style)
      : pit_(pit), watcher_(watcher), style_(style) {}

  // Runs every step (stops early on a signal). `startup` is how long start()
  // took. Returns the exit code: 0, the first unexpected error's code, or
  // kExitFailure for a wrong result.
  int run(std::chrono::steady_clock::duration startup);

 private:
  // Where a session's calls ran, as the demo saw them.
  struct Trace {
    std::string session;
    std::vector<std::int64_t> counts;  // local_counter results, in order
    std::string worker_id;             // of the last call
    int worker_pid = 0;
    bool stayed = true;  // every call on the same worker, none moved
  };

  void section(int number, std::string_view title);
  static ExecuteOptions with_affinity(Affinity affinity);
  // Runs `command` in `session` with `affinity`; on an error prints it as
  // unexpected, records the failure and returns nullopt.
  std::optional<SessionReply> call(const std::string& session, const std::string& command,
                                   const Json& args, Affinity affinity);
  // As call(), for a reply obtained elsewhere (a future).
  std::optional<SessionReply> checked(const std::string& session, const std::string& command,
                                      const Json& args, Result<SessionReply> reply);
  // Prints `status` as an expected error if it has `code` and `reason`;
  // otherwise as unexpected, and records the failure.
  void expect_error(const Status& status, Code code, std::string_view reason);
  // Records `what` as a wrong result unless `ok`; returns `ok`.
  bool check(bool ok, std::string what);
  // Reports a failed call of the session store (`call`, e.g. read("alice"))
  // as a step failure; true when `status` is Ok.
  bool store_ok(const Status& status, const std::string& call, std::string what);
  // The count in a local_counter reply, if it is one.
  static std::optional<std::int64_t> local_count(const SessionReply& reply);
  // Appends a local_counter reply to `trace`.
  void record(Trace& trace, const SessionReply& reply);
  // SIGKILLs a worker process, then waits until the pool has replaced it;
  // returns the replacement, or nullopt after recording a failure.
  std::optional<WorkerInfo> kill_worker(const std::string& worker_id, int pid);
  std::string worker_text(const std::string& id, int pid) const;

  void show_startup(std::chrono::steady_clock::duration startup);
  void show_affinity();
  void show_session_data();
  void show_hint_after_kill();
  void show_strict_after_kill();
  void show_expiry();
  void show_stats();

  Snakepit& pit_;
  const SignalWatcher& watcher_;
  ConsoleStyle style_;
  DemoOutcome outcome_;
  std::vector<Trace> traces_;  // of the affinity step, used by the later ones
};

}  // namespace snakepit::cli
