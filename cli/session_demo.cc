// Sessions demo: the walk, its helpers, and steps 1-3 (start-up, affinity,
// session data). Steps 4-5 are in session_demo_loss.cc, 6-7 in
// session_demo_report.cc.
#include "session_demo.h"

#include <fmt/format.h>
#include <signal.h>

#include <array>
#include <future>
#include <set>
#include <thread>

#include "exit_codes.h"
#include "json_text.h"

namespace snakepit::cli {
namespace {

using Clock = std::chrono::steady_clock;

constexpr int kSections = 7;
constexpr std::array<const char*, 3> kSessions = {"alice", "bob", "carol"};
constexpr int kRounds = 3;  // local_counter calls per session
// A killed worker's replacement: the restart backoff plus a Python start-up.
constexpr auto kReplaceTimeout = std::chrono::seconds(20);
constexpr auto kPollInterval = std::chrono::milliseconds(10);

}  // namespace

ExecuteOptions SessionDemo::with_affinity(Affinity affinity) {
  ExecuteOptions options;
  options.affinity = affinity;
  return options;
}

int SessionDemo::run(Clock::duration startup) {
  const std::vector<void (SessionDemo::*)()> steps = {
      &SessionDemo::show_affinity,        &SessionDemo::show_session_data,
      &SessionDemo::show_hint_after_kill, &SessionDemo::show_strict_after_kill,
      &SessionDemo::show_expiry,          &SessionDemo::show_stats};
  show_startup(startup);
  return run_demo_steps(*this, steps, watcher_, outcome_, style_, "Sessions demo");
}

bool SessionDemo::store_ok(const Status& status, const std::string& call, std::string what) {
  if (status.ok()) return true;
  fmt::print("  {} {} -> {}\n", style_.bad("UNEXPECTED ERROR:"), call, to_line(status.to_json()));
  outcome_.fail(std::move(what), exit_code(status.code()));
  return false;
}

void SessionDemo::section(int number, std::string_view title) { print_section(style_, number, kSections, title); }

std::optional<SessionReply> SessionDemo::call(const std::string& session,
                                              const std::string& command, const Json& args,
                                              Affinity affinity) {
  return checked(session, command, args,
                 pit_.execute_in_session(session, command, args, with_affinity(affinity)));
}

std::optional<SessionReply> SessionDemo::checked(const std::string& session,
                                                 const std::string& command, const Json& args,
                                                 Result<SessionReply> reply) {
  if (reply.ok()) return std::move(*reply);
  if (watcher_.signal() == 0) {
    fmt::print("  {} {}: {} {} -> {}\n", style_.bad("UNEXPECTED ERROR:"), session, command,
               to_line(args), to_line(reply.status().to_json()));
    outcome_.fail(fmt::format("{} in session {} failed", command, session),
                  exit_code(reply.status().code()));
  }
  return std::nullopt;
}

void SessionDemo::expect_error(const Status& status, Code code, std::string_view reason) {
  if (watcher_.signal() != 0) return;  // the pool is shutting down: anything goes
  const Json& details = status.details();
  const std::string got_reason =
      details.is_object() && details.contains("reason") && details["reason"].is_string()
          ? details["reason"].get<std::string>()
          : "-";
  if (status.ok()) {
    fmt::print("    {}\n", style_.bad("UNEXPECTED SUCCESS (an error was expected)"));
    outcome_.fail(fmt::format("expected {} ({}), got success", code_name(code), reason),
                  kExitFailure);
    return;
  }
  const bool expected = status.code() == code && got_reason == reason;
  fmt::print("    {}\n",
             expected ? style_.expected("-> expected error") : style_.bad("-> UNEXPECTED ERROR"));
  fmt::print("       code:    {}\n", code_name(status.code()));
  fmt::print("       reason:  {}\n", got_reason);
  fmt::print("       message: {}\n", status.message());
  if (!expected) {
    outcome_.fail(fmt::format("expected {} ({}), got {} ({})", code_name(code), reason,
                              code_name(status.code()), got_reason),
                  exit_code(status.code()));
  }
}

bool SessionDemo::check(bool ok, std::string what) {
  if (!ok && watcher_.signal() == 0) {
    fmt::print("  {} {}\n", style_.bad("WRONG RESULT:"), what);
    outcome_.fail(std::move(what), kExitFailure);
  }
  return ok;
}

std::optional<std::int64_t> SessionDemo::local_count(const SessionReply& reply) {
  const Json& value = reply.value;
  if (!value.is_object() || !value.contains("count") || !value["count"].is_number_integer()) {
    return std::nullopt;
  }
  return value["count"].get<std::int64_t>();
}

void SessionDemo::record(Trace& trace, const SessionReply& reply) {
  trace.counts.push_back(local_count(reply).value_or(-1));
  if (!trace.worker_id.empty() && (reply.worker_id != trace.worker_id || reply.worker_changed())) {
    trace.stayed = false;
  }
  trace.worker_id = reply.worker_id;
  trace.worker_pid = reply.worker_pid;
  // The worker reports its own pid: it must be the one the pool knows.
  const Json& value = reply.value;
  const bool same_pid = value.is_object() && value.contains("pid") &&
                        value["pid"].is_number_integer() &&
                        value["pid"].get<std::int64_t>() == reply.worker_pid;
  check(
      same_pid,
      fmt::format("{}: local_counter ran in pid {}, the reply says pid {}", trace.session,
                  value.is_object() ? to_line(value.value("pid", Json())) : "?", reply.worker_pid));
}

std::optional<WorkerInfo> SessionDemo::kill_worker(const std::string& worker_id, int pid) {
  int slot = -1;
  for (const auto& worker : pit_.list_workers()) {
    if (worker.id == worker_id && worker.pid == pid) slot = worker.slot;
  }
  if (slot < 0 || pid <= 0 || ::kill(pid, SIGKILL) != 0) {
    fmt::print("  {} cannot kill {}\n", style_.bad("UNEXPECTED ERROR:"),
               worker_text(worker_id, pid));
    outcome_.fail(fmt::format("cannot kill worker {}", worker_id), kExitFailure);
    return std::nullopt;
  }
  fmt::print("  killed {} with SIGKILL\n", worker_text(worker_id, pid));
  const auto deadline = Clock::now() + kReplaceTimeout;
  while (watcher_.signal() == 0 && Clock::now() < deadline) {
    for (const auto& worker : pit_.list_workers()) {
      const bool up = worker.state == WorkerState::kReady || worker.state == WorkerState::kBusy;
      if (worker.slot == slot && worker.id != worker_id && up) {
        if (!worker.last_exit.empty()) fmt::print("  the pool saw it: {}\n", worker.last_exit);
        fmt::print("  the pool replaced it with {}\n", worker_text(worker.id, worker.pid));
        return worker;
      }
    }
    std::this_thread::sleep_for(kPollInterval);
  }
  if (watcher_.signal() == 0) {
    fmt::print("  {} worker {} was not replaced within {} s\n", style_.bad("UNEXPECTED ERROR:"),
               worker_id, kReplaceTimeout.count());
    outcome_.fail(fmt::format("worker {} not replaced", worker_id),
                  exit_code(Code::kDeadlineExceeded));
  }
  return std::nullopt;
}

std::string SessionDemo::worker_text(const std::string& id, int pid) const {
  return fmt::format("worker {} (pid {})", id, pid);
}

void SessionDemo::show_startup(Clock::duration startup) {
  section(1, "Start-up");
  const auto workers = pit_.list_workers();
  fmt::print("  Started {} workers concurrently in {} ms ({:.0f} ms including set-up)\n",
             workers.size(), pit_.stats().startup_duration.count(),
             std::chrono::duration<double, std::milli>(startup).count());
  fmt::print("  {}\n", style_.dim(fmt::format("{:<20} {:>8}  {}", "WORKER", "PID", "STATE")));
  for (const auto& worker : workers) {
    fmt::print("  {:<20} {:>8}  {}\n", worker.id, worker.pid, worker_state_name(worker.state));
  }
}

void SessionDemo::show_affinity() {
  section(2, "Affinity: a counter in the worker's memory");
  fmt::print(
      "  local_counter counts its session's calls in the worker process's memory; with hint\n"
      "  affinity a session's calls go to the worker that ran its first call.\n");
  // The first calls at once, so the sessions start on different workers.
  const auto hint = with_affinity(Affinity::kHint);
  std::vector<std::future<Result<SessionReply>>> first;
  for (const char* session : kSessions) {
    first.push_back(pit_.execute_in_session_future(session, "local_counter", Json::object(), hint));
  }
  traces_.clear();
  for (std::size_t i = 0; i < kSessions.size(); ++i) {
    Trace trace;
    trace.session = kSessions[i];
    if (auto reply = checked(trace.session, "local_counter", Json::object(), first[i].get())) {
      check(reply->session_created,
            fmt::format("{}: the first call did not create the session", trace.session));
      record(trace, *reply);
    }
    traces_.push_back(std::move(trace));
  }
  for (int round = 2; round <= kRounds; ++round) {
    for (auto& trace : traces_) {
      if (auto reply = call(trace.session, "local_counter", Json::object(), Affinity::kHint)) {
        check(!reply->session_created,
              fmt::format("{}: call {} created the session again", trace.session, round));
        record(trace, *reply);
      }
    }
  }
  fmt::print("  {}\n", style_.dim(fmt::format("{:<8} {:<8} {:<20} {:>8}  {}", "SESSION", "COUNTS",
                                              "WORKER", "PID", "SAME WORKER")));
  const std::vector<std::int64_t> expected = {1, 2, 3};
  std::set<std::string> workers;
  for (const auto& trace : traces_) {
    workers.insert(trace.worker_id);
    fmt::print("  {:<8} {:<8} {:<20} {:>8}  {}\n", trace.session,
               fmt::format("{}", fmt::join(trace.counts, " ")), trace.worker_id, trace.worker_pid,
               trace.stayed ? style_.good("yes") : style_.bad("NO"));
    check(trace.stayed, fmt::format("session {} changed workers", trace.session));
    check(trace.counts == expected, fmt::format("session {} counted {}, not 1 2 3", trace.session,
                                                fmt::join(trace.counts, " ")));
  }
  fmt::print("  {} sessions on {} workers: each kept its worker, so its count went on\n",
             traces_.size(), workers.size());
}

void SessionDemo::show_session_data() {
  section(3, "Session data, kept by the host");
  const std::string session = kSessions[0];
  fmt::print(
      "  Commands read and write their session's data through the host (a call back over\n"
      "  the worker's pipe): it outlives the worker and any worker of the pool sees it.\n");
  const auto run = [&](const std::string& in, const std::string& command,
                       const Json& args) -> std::optional<Json> {
    auto reply = call(in, command, args, Affinity::kHint);
    if (!reply) return std::nullopt;
    fmt::print("  {:<6} {:<15} {:<32} -> {}\n", in, command, to_line(args), to_line(reply->value));
    return std::move(reply->value);
  };
  run(session, "session_put", {{"key", "name"}, {"value", "Alice"}});
  std::uint64_t version = 0;
  for (int score : {10, 20, 12}) {
    auto appended = run(session, "session_append", {{"key", "scores"}, {"value", score}});
    if (appended && appended->is_object() && appended->value("version", Json()).is_number()) {
      version = (*appended)["version"].get<std::uint64_t>();
    }
  }
  if (auto sum = run(session, "session_sum", {{"key", "scores"}})) {
    check(*sum == 42, fmt::format("session_sum gave {}, not 42", to_line(*sum)));
  }
  if (auto name = run(session, "session_get", {{"key", "name"}})) {
    check(*name == "Alice", fmt::format("session_get gave {}, not \"Alice\"", to_line(*name)));
  }
  if (auto other = run(kSessions[1], "session_get", {{"key", "name"}})) {
    check(other->is_null(), "another session saw alice's data");
    fmt::print("  {}\n", style_.dim("(bob's data is his own: no \"name\" there)"));
  }
  auto data = pit_.sessions()->read(session);
  if (!store_ok(data.status(), fmt::format("read(\"{}\")", session), "reading the session from C++ failed")) {
    return;
  }
  fmt::print("  from C++, pit.sessions()->read(\"{}\") -> {} (version {})\n", session,
             to_line(data->values), data->version);
  const Json expected = {{"name", "Alice"}, {"scores", {10, 20, 12}}};
  check(data->values == expected, "the host holds other data than the commands wrote");
  check(data->version == version,
        fmt::format("the host's version is {}, the last append said {}", data->version, version));
}

}  // namespace snakepit::cli
