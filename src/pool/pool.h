// Pool: the worker slots of one adapter configuration, the dispatch queue,
// session affinity, and supervision (restart with backoff and an intensity
// limit, heartbeats, recycling with the replacement started first).
// Loop-only: every method runs on the event-loop thread; the facade posts
// into it.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/steady_timer.hpp>
#include <cstdint>
#include <functional>
#include <memory>
#include <random>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "base/backoff.h"
#include "base/log.h"
#include "pool/dispatch_queue.h"
#include "pool/event_bus.h"
#include "pool/pool_counters.h"
#include "pool/request.h"
#include "process/launcher.h"
#include "process/run_registry.h"
#include "session/host_calls.h"
#include "worker/worker.h"

namespace snakepit::internal {

// The part of a configured pool one Pool serves when the pool is split
// across event loops (Placement::kPerCore).
struct PoolShard {
  int first_slot = 0;  // its slots are numbered from here, so worker ids stay unique
  int cpu = -1;        // >= 0: its workers run on this CPU only
};

class Pool final : public WorkerListener {
 public:
  // REQUIRES: `options` validated, adapter executable resolved to a path.
  // Registered host functions run on `offload` (never on the loop).
  Pool(boost::asio::io_context& io, PoolOptions options, LoggerPtr logger, Launcher& launcher,
       std::shared_ptr<SessionStore> sessions, EventBus& events, RunRegistry* registry,
       std::shared_ptr<const FunctionRegistry> functions, boost::asio::thread_pool& offload,
       PoolShard shard = {});
  ~Pool() override;

  // Starts every worker concurrently. `done` gets Ok once all are ready, or
  // the first failure once every process of the pool is gone.
  void start(std::function<void(Status)> done);
  // Runs, queues or rejects the request; its callback fires exactly once.
  // A request with a session_id follows the session's affinity.
  void submit(RequestPtr request);
  // True while a response's callback runs: a request submitted then with
  // submit_after_response() needs no trip around the event loop.
  bool in_response_callback() const { return in_response_callback_; }
  // REQUIRES: in_response_callback(). The request is submitted once the
  // worker that answered is idle again, still inside the same handler (so a
  // callback chain costs no extra poll of the loop, and the answering
  // worker can take the next request at once).
  void submit_after_response(RequestPtr request) { after_response_.push_back(std::move(request)); }
  // Ends the request with `why` now: a queued one never runs; a running
  // one's worker gets `cancel` (then the grace-and-kill rule). No effect
  // once it finished.
  void cancel(const RequestPtr& request, Status why);
  // Completes with Ok once every non-failed slot has a live worker, or
  // DeadlineExceeded at `deadline`.
  void await_ready(std::chrono::steady_clock::time_point deadline, std::function<void(Status)> done);
  // Graceful stop (see Snakepit::shutdown). `done` runs once all processes are gone.
  void shutdown(Millis grace, std::function<void()> done);

  PoolStats stats() const;
  std::vector<std::string> commands() const;  // sorted
  std::uint64_t next_request_id() { return ++last_request_id_; }

  // WorkerListener
  void on_worker_ready(Worker& worker) override;
  void on_worker_response(Worker& worker, std::uint64_t request_id, Result<Json> result) override;
  void on_worker_call(Worker& worker, std::uint64_t call_id, Json call) override;
  void on_worker_chunk(Worker& worker, std::uint64_t request_id, Json chunk) override;
  void on_worker_heartbeat_missed(Worker& worker, int missed) override;
  void on_worker_exit(Worker& worker, const Status& cause) override;

 private:
  enum class Phase { kIdle, kStarting, kRunning, kStopping, kStopped };
  static constexpr std::size_t kNotIdle = SIZE_MAX;

  struct Slot {
    explicit Slot(boost::asio::io_context& io, const RestartPolicy& policy) : tracker(policy), restart_timer(io) {}
    int generation = 0;
    std::shared_ptr<Worker> worker;  // null while waiting for a restart, or failed
    // The replacement of a worker due for recycling: starting, then ready
    // and waiting for `worker` to finish its request.
    std::shared_ptr<Worker> successor;
    std::string recycle_reason;
    std::uint64_t request_limit = 0;  // max_requests with this worker's jitter; 0: none
    bool failed = false;
    int restarts = 0;
    std::string last_exit;
    RequestPtr running;  // the request its worker runs (kept after a deadline until the worker answers)
    DispatchQueue<RequestPtr> pinned;  // strict_queue requests waiting for this worker
    std::size_t idle_index = kNotIdle;           // position in idle_
    RestartTracker tracker;
    boost::asio::steady_timer restart_timer;
  };

  // Starts the slot's worker, or (`successor`) its replacement.
  void spawn(int slot, bool successor = false);
  void attach(int slot, const std::shared_ptr<Worker>& worker, Result<ChildProcess> child);
  // Sends the request to `worker`; false (request finished with an error,
  // worker still idle) when it cannot be sent.
  bool run(Worker& worker, RequestPtr request);
  // Runs on any idle worker, or queues.
  void dispatch(RequestPtr request);
  void submit_in_session(RequestPtr request);
  void note_session_worker(Request& request, const Worker& worker);
  // Queues for any worker (pinned_slot < 0) or for one slot's worker.
  void enqueue(RequestPtr request, int pinned_slot);
  void unqueue(Request& request);
  void worker_idle(Worker& worker);
  void push_idle(Worker& worker);
  Worker* pop_idle();
  bool take_idle(Worker& worker);  // removes `worker` from idle_ if there
  void clear_idle();
  void finish(const RequestPtr& request, Result<Json> result);
  Status unknown_command(const Request& request) const;
  // Streams: the optional limit on the gap between chunks.
  void arm_chunk_timer(const RequestPtr& request, Worker& worker);
  void run_host_function(Worker& worker, std::uint64_t call_id, HostCalls::Plan plan);
  void schedule_restart(int slot, const Status& cause);
  void fail_start(Status cause);
  void stop_workers();
  void maybe_stopped();
  void check_ready_waiters();
  bool all_ready() const;
  bool any_slot_alive() const;
  // Recycling: a due worker gets a successor; once the successor is ready
  // and the worker idle, the successor takes its place.
  std::optional<std::string> recycle_due(const Slot& slot, const Worker& worker, bool periodic) const;
  void start_successor(int slot, std::string reason);
  bool promote_successor(int slot);  // false until the successor is ready and the current worker idle
  void retire(std::shared_ptr<Worker> worker, const std::string& reason);
  std::uint64_t draw_request_limit();
  // Periodic: recycling by age, idleness and memory; failed slots retried
  // once their crashes left the restart window.
  void schedule_maintenance();
  void maintain();
  Event worker_event(EventType type, const Worker& worker) const;
  void emit_worker(EventType type, const Worker& worker, std::string_view reason = {},
                   const Json* details = nullptr);
  void emit_request(EventType type, const Request& request, std::string_view reason = {}, Code code = Code::kOk);
  // Empties `queue`, handing each request to `fail`.
  template <typename Fn>
  void drain(DispatchQueue<RequestPtr>& queue, Fn&& fail);
  void fail_queue(const Status& status);
  void fail_pinned(Slot& slot);

  boost::asio::io_context& io_;
  PoolOptions options_;
  LoggerPtr logger_;
  Launcher& launcher_;
  const int first_slot_;
  SpawnSpec spawn_spec_;

  Phase phase_ = Phase::kIdle;
  std::vector<std::unique_ptr<Slot>> slots_;
  std::vector<Worker*> idle_;
  DispatchQueue<RequestPtr> queue_;
  std::size_t queued_ = 0;  // in queue_ and every slot's pinned queue; at most max_queue
  std::size_t queue_peak_ = 0;
  std::unordered_map<std::string, Worker*> live_;  // ready or busy workers by id
  // What the workers' hellos announced; a request for anything else is
  // refused before it reaches a worker. Empty: not known (snakepit-v0).
  std::unordered_set<std::string> commands_;
  std::shared_ptr<SessionStore> sessions_;
  HostCalls host_calls_;
  boost::asio::thread_pool& offload_;
  EventBus& events_;
  RunRegistry* registry_;  // null: workers are not recorded
  std::vector<std::shared_ptr<Worker>> retired_;  // recycled, stopping
  boost::asio::steady_timer maintenance_timer_;
  std::mt19937_64 rng_{std::random_device{}()};
  PoolCounters counters_;
  std::uint64_t last_request_id_ = 0;
  bool in_response_callback_ = false;
  std::vector<RequestPtr> after_response_;  // see submit_after_response()
  int pending_spawns_ = 0;
  std::chrono::steady_clock::time_point start_time_;
  std::function<void(Status)> start_done_;
  Status start_error_;
  boost::asio::steady_timer grace_timer_;
  std::vector<std::function<void()>> stopped_callbacks_;
  struct ReadyWaiter {
    std::shared_ptr<boost::asio::steady_timer> timer;
    std::function<void(Status)> done;
  };
  std::vector<ReadyWaiter> ready_waiters_;
};

}  // namespace snakepit::internal
