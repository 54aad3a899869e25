// Snakepit: a supervised pool of external worker processes.
//
//   snakepit::Options opts;
//   opts.pool.size = 4;
//   opts.pool.adapter = snakepit::adapters::python("snakepit_bridge.generic");
//   auto pit = snakepit::Snakepit::start(opts);
//   if (!pit) { fmt::print(stderr, "{}\n", pit.error()); return 1; }
//   auto r = pit->execute("ping", {{"test", true}});
//   auto s = pit->execute_in_session("user-42", "session_put", {{"key", "k"}, {"value", 1}});
//
//   pit->execute_stream("count", {{"n", 3}}, [](snakepit::Json chunk) {
//     fmt::print("{}\n", chunk.dump());
//     return snakepit::StreamControl::kContinue;
//   });
//
// Thread-safety: every method may be called from any thread. Async callbacks
// run on the pool's event-loop thread and must not block or throw; use
// execute_future() or execute() to wait. Stream chunks and host functions run
// on Snakepit's callback threads instead (they may take their time). A
// Snakepit must not be destroyed from one of its own callbacks.
//
// Byte strings travel as bytes in arguments, results and chunks: see
// snakepit::bytes() in json.h.
#pragma once

#include <chrono>
#include <functional>
#include <future>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "snakepit/events.h"
#include "snakepit/host_function.h"
#include "snakepit/json.h"
#include "snakepit/options.h"
#include "snakepit/session_store.h"
#include "snakepit/stats.h"
#include "snakepit/status.h"

namespace snakepit {

struct ExecuteOptions {
  // The pool to run on (Options::pools); empty: the default pool. Errors:
  // NotFound (reason unknown_pool), Unavailable (reason pool_failed).
  std::string pool;
  // Total budget (queue wait + run). Unset: the pool's request_timeout.
  std::optional<std::chrono::milliseconds> timeout;
  // Absolute deadline; the earlier of this and `timeout` wins.
  std::optional<std::chrono::steady_clock::time_point> deadline;
  // May be run again on another worker if its worker dies mid-request.
  bool idempotent = false;
  // Session requests: overrides the pool's affinity mode for this call.
  std::optional<Affinity> affinity;
  // Streams: the longest wait for the next chunk (unset: no limit). Time
  // during which the worker is paused for a slow consumer does not count.
  std::optional<std::chrono::milliseconds> chunk_timeout;
};

using ExecuteCallback = std::function<void(Result<Json>)>;

namespace internal {
class LoopGate;
}

// Cancels a request started by an async call. Copyable; thread-safe.
class RequestHandle {
 public:
  RequestHandle() = default;
  // Queued: removed, never runs. Running: the worker gets `cancel`, and is
  // killed if still busy after the cancel grace (PoolOptions::cancel_grace).
  // The request's callback gets Cancelled at once. No effect once the
  // request finished, or on an empty handle.
  void cancel() const;
  // As cancel(); the callback gets `why` (say, Cancelled with your reason).
  void cancel(Status why) const;
  bool valid() const { return gate_ != nullptr; }

 private:
  friend class Snakepit;
  RequestHandle(std::weak_ptr<void> request, std::shared_ptr<internal::LoopGate> gate)
      : request_(std::move(request)), gate_(std::move(gate)) {}
  std::weak_ptr<void> request_;
  std::shared_ptr<internal::LoopGate> gate_;
};

// What a stream's consumer answers to each chunk.
enum class StreamControl { kContinue, kStop };
// Called once per chunk, in order, never concurrently for one stream.
// kStop (or an exception) ends the stream: the worker is told to stop, and
// the stream's final status is Cancelled (reason stopped_by_consumer).
using ChunkHandler = std::function<StreamControl(Json chunk)>;

// An async stream. Destroying it cancels the stream (its caller went away)
// unless it was detached. Move-only.
class StreamHandle {
 public:
  StreamHandle() = default;
  StreamHandle(StreamHandle&&) noexcept = default;
  StreamHandle& operator=(StreamHandle&& other) noexcept;
  ~StreamHandle();
  void cancel() const { request_.cancel(); }
  // Lets the stream run to its end without this handle.
  void detach() { request_ = {}; }

 private:
  friend class Snakepit;
  explicit StreamHandle(RequestHandle request) : request_(std::move(request)) {}
  RequestHandle request_;
};

// The result of a session request, and where it ran.
struct SessionReply {
  Json value;
  std::string worker_id;  // the worker that ran it; the session is bound to it now
  int worker_pid = 0;
  bool session_created = false;  // this request created the session
  // Hint affinity moved the session here from this worker (it was busy, or
  // gone with its in-memory state); empty when the session stayed.
  std::string previous_worker_id;
  bool worker_changed() const { return !previous_worker_id.empty(); }
};

using SessionCallback = std::function<void(Result<SessionReply>)>;

class Snakepit {
 public:
  // Starts every worker concurrently and returns once all are ready.
  // Errors: InvalidArgument (bad option, naming it), NotFound (executable
  // missing), Unavailable (a worker died or broke its handshake),
  // DeadlineExceeded (start-up timeout). On error no process is left behind.
  static Result<Snakepit> start(Options options);

  Snakepit(Snakepit&&) noexcept;
  Snakepit& operator=(Snakepit&&) noexcept;
  ~Snakepit();  // shutdown() with the default grace

  // Runs `command` on a worker and waits for its result.
  // Errors: InvalidArgument (unknown command, bad arguments), DeadlineExceeded,
  // ResourceExhausted (queue full), Unavailable (worker lost, pool stopping),
  // Internal (the command raised; details carry type and traceback).
  Result<Json> execute(const std::string& command, Json args = Json::object(),
                       const ExecuteOptions& options = {});
  // As execute(); `done` is called exactly once, on the loop thread. The
  // handle cancels the request.
  RequestHandle execute_async(std::string command, Json args, ExecuteCallback done,
                              const ExecuteOptions& options = {});
  std::future<Result<Json>> execute_future(std::string command, Json args = Json::object(),
                                           const ExecuteOptions& options = {});

  // Runs `command` in a session, creating the session on first use, on the
  // worker its affinity mode picks (PoolOptions::affinity, or
  // options.affinity). The command sees the session id and its data
  // (ctx.session in the Python bridge). Errors: those of execute(), and
  // InvalidArgument (bad session id), ResourceExhausted (reason
  // session_quota; reason worker_busy in strict_fail_fast), Unavailable
  // (reason session_worker_lost in strict modes: see Affinity).
  Result<SessionReply> execute_in_session(const std::string& session_id, const std::string& command,
                                          Json args = Json::object(), const ExecuteOptions& options = {});
  // As execute_in_session(); `done` is called exactly once, on the loop
  // thread. The handle cancels the request.
  RequestHandle execute_in_session_async(std::string session_id, std::string command, Json args,
                                         SessionCallback done, const ExecuteOptions& options = {});
  std::future<Result<SessionReply>> execute_in_session_future(std::string session_id, std::string command,
                                                              Json args = Json::object(),
                                                              const ExecuteOptions& options = {});
  // Streams: runs `command` and hands each chunk it yields to `on_chunk`
  // on the calling thread, as it arrives, then returns the final status (the
  // command's final value, or its error after the chunks sent before it).
  // A consumer slower than the worker pauses the worker (PoolOptions::
  // stream_window); nothing piles up in memory. Errors: those of execute(),
  // Cancelled (reason stopped_by_consumer) when on_chunk stopped it,
  // DeadlineExceeded (reason deadline for the whole stream, chunk_timeout
  // for the gap), Unavailable when the worker died mid-stream. An exception
  // from on_chunk stops the stream and is rethrown once it ended.
  Result<Json> execute_stream(const std::string& command, Json args, const ChunkHandler& on_chunk,
                              const ExecuteOptions& options = {});
  Result<Json> execute_stream_in_session(const std::string& session_id, const std::string& command, Json args,
                                         const ChunkHandler& on_chunk, const ExecuteOptions& options = {});
  // As execute_stream(); `on_chunk` and then `on_done` (exactly once) run
  // on a callback thread, one at a time for this stream.
  StreamHandle execute_stream_async(std::string command, Json args, ChunkHandler on_chunk, ExecuteCallback on_done,
                                    const ExecuteOptions& options = {});

  // Host functions workers may call (host_function.h). Errors:
  // InvalidArgument (name, body), FailedPrecondition (reason
  // already_registered).
  Status register_function(HostFunction function);
  // Visible only to requests of that session, and before a global function
  // of the same name. Kept until unregistered (not dropped with the session).
  Status register_session_function(std::string session_id, HostFunction function);
  // Errors: NotFound.
  Status unregister_function(std::string_view name, std::string_view session_id = {});

  // Forgets the session's worker: its next request binds it anew (what a
  // caller does after session_worker_lost). Errors: NotFound, InvalidArgument.
  Status unbind_session(std::string_view session_id);
  // The session store: data, listing, deletion. Thread-safe. Null only for
  // a moved-from Snakepit.
  std::shared_ptr<SessionStore> sessions() const;

  // Adds a telemetry handler (events.h; Options::on_event sees start-up
  // too) and returns its id; 0 once shut down. Handlers run on the loop
  // thread; with Placement::kPerCore on every loop's, possibly at once.
  std::uint64_t subscribe(EventHandler handler);
  void unsubscribe(std::uint64_t id);

  // The default pool's stats; pool_stats() has every pool's, in the order
  // of Options::pools (a pool that failed to start has its start_error).
  // With Placement::kPerCore each pool's parts are added up; called from a
  // callback, the parts on other loops are as last collected (a loop never
  // waits for another).
  PoolStats stats() const;
  std::vector<PoolStats> pool_stats() const;
  // The workers of every pool.
  std::vector<WorkerInfo> list_workers() const;
  // The commands a pool serves (empty name: the default pool), sorted: the
  // adapter's list, else what its workers announced; empty when unknown
  // (snakepit-v0 workers). Errors: NotFound (reason unknown_pool).
  Result<std::vector<std::string>> commands(const std::string& pool = {}) const;
  // Waits until every non-failed slot of every pool that started has a
  // ready or busy worker.
  // Errors: DeadlineExceeded.
  Status await_ready(std::chrono::milliseconds timeout) const;

  // Stops accepting requests, fails queued ones (Unavailable), lets running
  // ones finish within `grace`, then stops every worker (shutdown frame →
  // SIGTERM → SIGKILL to its process group). Idempotent.
  void shutdown(std::chrono::milliseconds grace = std::chrono::milliseconds(5000));

 private:
  struct Impl;
  explicit Snakepit(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// Kills the workers that dead hosts left behind in `data_dir` (empty: the
// default of Options::data_dir): a process is killed only if its pid, start
// time and run marker match the record and its host is gone; live hosts'
// workers are never touched. Snakepit::start() does this too. Returns the
// report: {"data_dir", "runs_seen", "runs_removed", "processes_killed",
// "records_invalid", "skipped_live_owner", "actions": [...]}.
Result<Json> cleanup_orphans(const std::string& data_dir = {}, bool dry_run = false);

}  // namespace snakepit
