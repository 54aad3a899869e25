// Sessions demo, steps 6 and 7: expiry, and the session and affinity stats.
#include <fmt/format.h>

#include <thread>
#include <vector>

#include "exit_codes.h"
#include "json_text.h"
#include "session_demo.h"

namespace snakepit::cli {
namespace {

// The shortest TTL the store accepts, and a wait just past it.
constexpr auto kShortTtl = std::chrono::seconds(1);
constexpr auto kExpiryWait = std::chrono::milliseconds(1100);

}  // namespace

void SessionDemo::show_expiry() {
  section(6, "Expiry");
  const std::string session = "brief";
  SessionCreate create;
  create.ttl = kShortTtl;
  auto created = pit_.sessions()->create(session, create);
  if (!store_ok(created.status(), fmt::format("create(\"{}\")", session), "creating a session failed")) return;
  fmt::print("  pit.sessions()->create(\"{}\", {{.ttl = {} s}}) -> ttl_s {}\n", session,
             kShortTtl.count(), created->ttl.count());
  check(created->ttl == kShortTtl, "the session's TTL is not the one asked for");
  const Json put = {{"key", "note"}, {"value", "short-lived"}};
  if (auto reply = call(session, "session_put", put, Affinity::kHint)) {
    fmt::print("  {}: session_put {} -> {} (in the session create() made)\n", session, to_line(put),
               to_line(reply->value));
    check(!reply->session_created, "a request re-created a session that existed");
  }
  fmt::print("  waiting {} ms: the TTL runs from the last access...\n", kExpiryWait.count());
  std::fflush(stdout);
  std::this_thread::sleep_for(kExpiryWait);
  const auto exists = pit_.sessions()->exists(session);
  fmt::print("  exists(\"{}\") -> {}\n", session,
             exists.ok() ? (*exists ? "true" : "false") : to_line(exists.status().to_json()));
  check(exists.ok() && !*exists, "the session is still there after its TTL");
  fmt::print("  get(\"{}\")\n", session);
  auto info = pit_.sessions()->get(session);
  expect_error(info.status(), Code::kNotFound, "no_session");
  const Json get = {{"key", "note"}};
  if (auto reply = call(session, "session_get", get, Affinity::kHint)) {
    fmt::print(
        "  {}: session_get {} -> {} ({})\n", session, to_line(get), to_line(reply->value),
        reply->session_created ? "a new request starts a new, empty session" : "the old session?");
    check(reply->session_created && reply->value.is_null(),
          "the expired session's data was still there");
  }
}

void SessionDemo::show_stats() {
  section(7, "Stats");
  const PoolStats stats = pit_.stats();
  const SessionStoreStats& sessions = stats.sessions;
  std::vector<std::string> errors;
  for (const auto& [code, count] : stats.errors)
    errors.push_back(fmt::format("{}={}", code, count));
  fmt::print("  {:<16}created {}, expired {}, deleted {}, current {} ({} bytes)\n", "sessions",
             sessions.created, sessions.expired, sessions.deleted, sessions.current,
             sessions.bytes);
  fmt::print("  {:<16}hits {}, misses {}, rebinds {}, worker_lost {}\n", "affinity",
             stats.affinity_hits, stats.affinity_misses, stats.affinity_rebinds,
             stats.affinity_worker_lost);
  fmt::print("  {:<16}{} ({} succeeded)\n", "requests", stats.requests, stats.succeeded);
  fmt::print("  {:<16}{}\n", "errors",
             errors.empty() ? "none" : fmt::format("{}", fmt::join(errors, ", ")));
  fmt::print("  {:<16}{}\n", "restarts", stats.restarts);
  const Json json = to_json(stats);
  fmt::print("  {}\n", style_.dim(fmt::format("as JSON (exec --batch --stats): \"affinity\":{}, "
                                              "\"sessions\":{}",
                                              to_line(json.value("affinity", Json())),
                                              to_line(json.value("sessions", Json())))));
  fmt::print("  {}\n", style_.dim(fmt::format("{:<20} {:>8}  {:<9} {:>8} {:>8}", "WORKER", "PID",
                                              "STATE", "REQUESTS", "RESTARTS")));
  for (const auto& worker : stats.workers) {
    fmt::print("  {:<20} {:>8}  {:<9} {:>8} {:>8}\n", worker.id, worker.pid,
               worker_state_name(worker.state), worker.requests, worker.restarts);
  }
  // What the steps above must have left behind.
  check(sessions.expired >= 1, "no expired session counted");
  check(stats.affinity_rebinds >= 1, "no rebind counted");
  check(stats.affinity_worker_lost >= 2, "the session_worker_lost refusals were not counted");
  check(stats.restarts >= 2, "the killed workers' restarts were not counted");
}

}  // namespace snakepit::cli
