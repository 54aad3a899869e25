// Sessions demo, steps 4 and 5: a session's worker is killed, as a
// hint-mode session and as a strict one sees it.
#include <fmt/format.h>

#include "exit_codes.h"
#include "json_text.h"
#include "session_demo.h"

namespace snakepit::cli {

void SessionDemo::show_hint_after_kill() {
  section(4, "A worker dies: hint affinity");
  if (traces_.size() < 2) return;
  const std::string session = traces_[0].session;
  // Where the session is bound now, as the host's store has it.
  auto info = pit_.sessions()->get(session);
  if (!store_ok(info.status(), fmt::format("get(\"{}\")", session), "reading the session from C++ failed")) {
    return;
  }
  const std::string victim = info->worker_id;
  int victim_pid = 0;
  for (const auto& worker : pit_.list_workers()) {
    if (worker.id == victim) victim_pid = worker.pid;
  }
  fmt::print("  {} is bound to {}\n", session, worker_text(victim, victim_pid));
  if (!kill_worker(victim, victim_pid)) return;

  if (auto reply = call(session, "local_counter", Json::object(), Affinity::kHint)) {
    const auto count = local_count(*reply);
    fmt::print("  {}: local_counter -> count {} on {}{}\n", session,
               count ? std::to_string(*count) : to_line(reply->value),
               worker_text(reply->worker_id, reply->worker_pid),
               reply->worker_changed() ? ", moved from " + reply->previous_worker_id : "");
    fmt::print("  {}\n", style_.dim("the session moved to a live worker; its count restarted, "
                                    "as the old worker's memory died with it"));
    check(reply->worker_changed() && reply->previous_worker_id == victim,
          fmt::format("{} did not report moving from {}", session, victim));
    check(count == 1, fmt::format("{}'s count after the kill is not 1", session));
  }
  if (auto reply = call(session, "session_sum", {{"key", "scores"}}, Affinity::kHint)) {
    fmt::print("  {}: session_sum {{\"key\":\"scores\"}} -> {} on {}\n", session,
               to_line(reply->value), worker_text(reply->worker_id, reply->worker_pid));
    fmt::print("  {}\n",
               style_.dim("the host's session data survived, and the new worker reads it"));
    check(reply->value == 42,
          fmt::format("session_sum after the kill gave {}, not 42", to_line(reply->value)));
  }
  // Another session, on a worker that lived: untouched.
  const Trace& other = traces_[1];
  if (auto reply = call(other.session, "local_counter", Json::object(), Affinity::kHint)) {
    const auto count = local_count(*reply);
    const bool spared = other.worker_id != victim;
    fmt::print(
        "  {}: local_counter -> count {} on {}{}\n", other.session,
        count ? std::to_string(*count) : to_line(reply->value),
        worker_text(reply->worker_id, reply->worker_pid),
        spared ? " (its worker lived: the count goes on)" : " (it shared the killed worker)");
    if (spared) {
      check(count == static_cast<std::int64_t>(other.counts.size()) + 1 && !reply->worker_changed(),
            fmt::format("{}, on a live worker, lost its count or moved", other.session));
    }
  }
}

void SessionDemo::show_strict_after_kill() {
  section(5, "A worker dies: strict affinity");
  const std::string session = "dora";
  fmt::print("  {} runs with strict_queue affinity (ExecuteOptions::affinity, per call)\n",
             session);
  Trace trace;
  trace.session = session;
  for (int i = 0; i < 2; ++i) {
    if (auto reply = call(session, "local_counter", Json::object(), Affinity::kStrictQueue)) {
      record(trace, *reply);
    }
  }
  if (trace.counts.size() != 2) return;
  fmt::print("  {}: local_counter x2 -> counts {} on {}\n", session, fmt::join(trace.counts, ", "),
             worker_text(trace.worker_id, trace.worker_pid));
  check(trace.stayed && trace.counts == std::vector<std::int64_t>{1, 2},
        fmt::format("{} did not count 1, 2 on one worker", session));
  auto replacement = kill_worker(trace.worker_id, trace.worker_pid);
  if (!replacement) return;

  for (const char* label : {"local_counter", "local_counter again"}) {
    fmt::print("  {}: {}\n", session, label);
    auto reply = pit_.execute_in_session(session, "local_counter", Json::object(),
                                         with_affinity(Affinity::kStrictQueue));
    expect_error(reply.status(), Code::kUnavailable, "session_worker_lost");
  }
  fmt::print("  {}\n", style_.dim("strict affinity never moves a session silently: its worker's "
                                  "memory is gone, and the caller must decide"));
  const Status unbound = pit_.unbind_session(session);
  fmt::print("  unbind_session(\"{}\") -> {}\n", session,
             unbound.ok() ? style_.good("ok") : style_.bad(unbound.to_string()));
  if (!unbound.ok()) {
    outcome_.fail("unbind_session failed", exit_code(unbound.code()));
    return;
  }
  if (auto reply = call(session, "local_counter", Json::object(), Affinity::kStrictQueue)) {
    const auto count = local_count(*reply);
    fmt::print("  {}: local_counter -> count {} on {}: bound anew, a fresh start\n", session,
               count ? std::to_string(*count) : to_line(reply->value),
               worker_text(reply->worker_id, reply->worker_pid));
    check(count == 1, fmt::format("{}'s count after unbinding is not 1", session));
  }
}

}  // namespace snakepit::cli
