// Configuration of a Snakepit instance and its pool. Every field has a
// production default; Snakepit::start() validates them and names the field
// of any bad value.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "snakepit/events.h"
#include "snakepit/json.h"
#include "snakepit/session_store.h"
#include "snakepit/status.h"

namespace spdlog {
class logger;
}

namespace snakepit {

using Millis = std::chrono::milliseconds;

// How the host talks to a worker.
enum class Protocol {
  kNative,      // binary frames on dedicated pipes (fds 3 and 4); docs/protocol.md
  kSnakepitV0,  // the original Snakepit's JSON frames on stdin/stdout
};

std::string_view protocol_name(Protocol protocol);  // "native", "snakepit-v0"

// Checks a request's arguments before any worker sees them. Runs on the
// caller's thread; must be thread-safe. A non-OK status (InvalidArgument,
// naming what is wrong) is the request's result.
using ArgsValidator = std::function<Status(std::string_view command, const Json& args)>;

// How to start one worker process, and what the host checks before a
// request reaches one. The executable is run directly (execve), never
// through a shell; a name without '/' is looked up in PATH once.
struct Adapter {
  std::string name;        // shown in stats and logs, e.g. "python:snakepit_bridge.generic"
  std::string executable;  // program to run
  std::vector<std::string> args;  // arguments after the program name
  std::vector<std::pair<std::string, std::string>> env;  // added to the host's environment
  std::string working_dir;  // empty: the host's
  Protocol protocol = Protocol::kNative;

  // Commands the pool serves. Non-empty: any other command is refused with
  // InvalidArgument (reason unknown_command) without using a worker. Workers
  // that announce their commands in `hello` are checked the same way.
  std::vector<std::string> commands;
  // Default deadline per command, in place of PoolOptions::request_timeout
  // (ExecuteOptions::timeout still wins). Ranges as request_timeout.
  std::map<std::string, Millis, std::less<>> command_timeouts;
  // Optional argument check (see ArgsValidator).
  ArgsValidator validate_args;
};

namespace adapters {

struct PythonOptions {
  // Interpreter to run. Empty: "python3" from PATH, resolved once to the real
  // interpreter (sys.executable) so version-manager shims cost nothing per worker.
  std::string interpreter;
  // Directory holding the snakepit_bridge package. Empty: $SNAKEPIT_BRIDGE_PATH,
  // else the bridge shipped with this build.
  std::string bridge_path;
  // Extra PYTHONPATH entries (where the adapter module lives).
  std::vector<std::string> python_path;
};

// A Python worker: the equivalent of `python3 -m snakepit_bridge --adapter <module>`.
Adapter python(std::string module = "snakepit_bridge.generic", PythonOptions options = {});

struct NodeOptions {
  // Node.js to run. Empty: "node" from PATH.
  std::string interpreter;
  // Directory holding the Node bridge (main.js). Empty: $SNAKEPIT_NODE_BRIDGE_PATH,
  // else the bridge shipped with this build.
  std::string bridge_path;
};

// A Node.js worker: `node <bridge>/main.js --adapter <module>`, where
// `module` is a path to the adapter's file, a module name Node can
// require(), or "generic" for the bridge's generic adapter.
Adapter node(std::string module = "generic", NodeOptions options = {});

// Any program speaking the given protocol: argv[0] is the executable.
Adapter exec(std::vector<std::string> argv, Protocol protocol = Protocol::kNative);

}  // namespace adapters

// Restart of crashed workers: exponential backoff with jitter, and an
// intensity limit per slot (more than max_restarts in `window` marks the slot
// failed; the pool keeps serving with the rest).
struct RestartPolicy {
  Millis backoff_initial{100};
  Millis backoff_max{5000};
  double jitter = 0.2;  // ± fraction of each delay
  int max_restarts = 5;
  Millis window{30000};
};

// Liveness of idle workers: after `interval` without traffic the host sends
// `ping`; a worker that misses `max_missed` pongs in a row (each within
// `timeout`) is killed and replaced. Busy workers are judged by their
// request's deadline instead. Native protocol only.
struct HeartbeatPolicy {
  Millis interval{5000};  // 0: no heartbeats
  Millis timeout{5000};
  int max_missed = 2;
};

// Planned retirement. A worker due for it gets a replacement started at
// once and keeps serving until the replacement is ready (so max_requests may
// be exceeded by what it serves meanwhile); then it finishes its current
// request and stops. The pool never has fewer ready workers than its size,
// and recycling fails no request.
struct RecyclePolicy {
  std::uint64_t max_requests = 0;    // per worker; 0: no limit
  double max_requests_jitter = 0.1;  // ± fraction, drawn per worker, so workers do not retire together
  Millis max_lifetime{0};            // 0: no limit
  Millis max_idle{0};                // 0: no limit
  std::uint64_t max_rss_bytes = 0;   // resident memory of the worker's process tree; 0: no limit
  Millis check_interval{1000};       // of lifetime, idleness and memory (also checked after each request)
};

// Where a session's requests run (execute_in_session). The first request
// binds the session to the worker that ran it.
enum class Affinity {
  kHint,            // the bound worker if ready, else any worker (the session rebinds)
  kStrictQueue,     // wait for the bound worker; other requests use the others
  kStrictFailFast,  // the bound worker or ResourceExhausted (reason worker_busy)
};
// In strict modes, a session whose worker died or was recycled gets
// Unavailable (reason session_worker_lost) until it is unbound
// (Snakepit::unbind_session) or a hint-mode request rebinds it: the worker's
// in-memory state is gone, and the caller must know.

std::string_view affinity_name(Affinity affinity);  // "hint", "strict_queue", "strict_fail_fast"
std::optional<Affinity> affinity_from_name(std::string_view name);

struct PoolOptions {
  std::string name = "default";
  std::size_t size = 0;  // 0: 2 × hardware threads
  Adapter adapter;       // empty executable: adapters::python()
  Millis startup_timeout{30000};  // spawn until hello, per worker
  Millis request_timeout{30000};  // default deadline of a request (queue + run)
  Millis queue_timeout{10000};    // longest wait in the queue
  std::size_t max_queue = 10000;  // queued requests beyond this: ResourceExhausted
  RestartPolicy restart;
  Millis cancel_grace{2000};  // after `cancel`, a still-busy worker gets SIGUSR1 (stack dump), then SIGKILL
  Millis stack_dump_grace{200};  // between SIGUSR1 and SIGKILL; 0: no stack dump
  Millis stop_grace{2000};    // after `shutdown`, SIGTERM to the process group
  Millis kill_grace{2000};    // after SIGTERM, SIGKILL to the process group
  std::uint32_t max_frame_bytes = 64u << 20;  // both directions
  std::size_t max_log_line = 4096;            // worker stdout/stderr lines are cut here
  Affinity affinity = Affinity::kHint;        // of session requests; overridable per call
  HeartbeatPolicy heartbeat;
  RecyclePolicy recycle;
  // Streams: chunks buffered for a consumer that lags; beyond, the worker
  // is paused (its writes block) until the consumer has taken half of them.
  std::size_t stream_window = 32;
  // Calls a worker may have waiting on registered host functions; one more
  // is answered with ResourceExhausted (reason too_many_calls).
  int max_calls_in_flight = 16;
  // Threads each worker's numerical libraries may start: OMP_NUM_THREADS,
  // OPENBLAS_NUM_THREADS, MKL_NUM_THREADS, NUMEXPR_NUM_THREADS and
  // VECLIB_MAXIMUM_THREADS are set to this, so 64 workers do not start
  // 64 × cores threads. 0: inherit the host's. The adapter's env wins.
  int worker_threads = 1;
};

struct SessionOptions {
  // The store holding sessions. Null: an in-memory store with `limits`.
  std::shared_ptr<SessionStore> store;
  SessionLimits limits;
  // Expired sessions are swept on the loop every `sweep_interval`, spending
  // at most `sweep_budget` each time (they are also dropped when touched).
  Millis sweep_interval{1000};
  std::chrono::microseconds sweep_budget{2000};
};

// Where the event loops and the workers run (docs/performance.md, "CPU
// co-location").
enum class Placement {
  // One event loop thread; the OS runs it and the workers on any CPU. The
  // default: right under CPU quotas, on shared machines and for pools larger
  // than the machine.
  kShared,
  // One event loop per CPU this process may use (sched_getaffinity), each
  // pinned to its CPU together with the workers it owns, so a round trip
  // never crosses CPUs. A request goes to the least busy loop (requests in
  // flight per worker), the loop of the caller's CPU on a tie; the requests
  // of one session always go to the same loop. Every pool is split across
  // the loops (its queue limit too), so there are at most as many loops as
  // the smallest pool has workers. Event handlers then run on several loop
  // threads at once.
  kPerCore,
};

struct Options {
  // The pool, when `pools` is empty.
  PoolOptions pool;
  // Several pools side by side, each with its own adapter, size, limits and
  // affinity; requests name theirs (ExecuteOptions::pool). Names must be
  // unique. Non-empty: `pool` is ignored. The pools share the event loop,
  // the session store, host functions and the run registry. A pool that
  // fails to start does not stop the others: start() succeeds if one pool
  // started, and the failed pool's requests get Unavailable (reason
  // pool_failed) with its start error.
  std::vector<PoolOptions> pools;
  // The pool of requests that name none. Empty: the first pool.
  std::string default_pool;
  Placement placement = Placement::kShared;
  SessionOptions sessions;
  // Telemetry from start-up on (more subscribers: Snakepit::subscribe).
  EventHandler on_event;
  // The run registry: every worker is recorded here before it is used, so
  // that workers of a host that died (even by kill -9) are found and killed
  // by the next start or `snakepit cleanup`. Empty: $SNAKEPIT_DATA_DIR, else
  // $XDG_RUNTIME_DIR/snakepit, else /tmp/snakepit-<uid> (created 0700).
  std::string data_dir;
  // Where logs go, worker output included. Null: a logger named "snakepit"
  // writing to stderr at level warn.
  std::shared_ptr<spdlog::logger> logger;
};

}  // namespace snakepit
