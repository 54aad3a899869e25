// Telemetry: a typed stream of what happens to workers and requests.
//
//   options.on_event = [](const snakepit::Event& e) { ... };   // from start-up on
//   auto id = pit->subscribe([](const snakepit::Event& e) { ... });
//
// Handlers run on the pool's loop thread, in order, and must be quick and
// must not throw or block (copy the event elsewhere to do real work). With no
// handler, no event is even built. The counters behind stats() are updated
// at the same points the events are emitted.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "snakepit/json.h"
#include "snakepit/status.h"

namespace snakepit {

enum class EventType {
  kWorkerStarting,          // spawned, waiting for its hello
  kWorkerReady,             // handshake done; serving
  kWorkerExited,            // gone; `reason` and `details` classify the exit
  kWorkerRestartScheduled,  // `delay` until the slot's replacement starts
  kWorkerRecycled,          // retired on purpose (`reason`: max_requests, max_lifetime, max_idle, max_rss)
  kWorkerKilled,            // the host killed it (`reason`: deadline, heartbeat_timeout, protocol_error, ...)
  kSlotFailed,              // crashed beyond the restart intensity limit
  kHeartbeatMissed,         // an idle worker did not answer a ping in time (`missed` so far)
  kRequestQueued,
  kRequestStarted,          // `queue_wait`
  kRequestFinished,         // `code`, `queue_wait`, `run_time`
  kRequestTimedOut,         // deadline, queue or chunk timeout (`reason`)
  kRequestCancelled,        // by its caller (`reason`: cancelled, or stopped by a stream's consumer)
};

std::string_view event_type_name(EventType type);  // "worker_ready", "request_finished", ...

struct Event {
  EventType type = EventType::kWorkerReady;
  std::chrono::system_clock::time_point time;
  std::string_view pool;

  // Worker events, and request events once a worker is involved.
  std::string_view worker_id;
  pid_t pid = 0;
  int slot = -1;

  // Request events.
  std::uint64_t request_id = 0;
  std::string_view command;
  std::string_view session_id;
  Code code = Code::kOk;                // kRequestFinished
  std::chrono::microseconds queue_wait{0};
  std::chrono::microseconds run_time{0};

  std::string_view reason;              // why: exit, kill, recycle, timeout
  std::chrono::milliseconds delay{0};   // kWorkerRestartScheduled
  int missed = 0;                       // kHeartbeatMissed
  const Json* details = nullptr;        // exit details (signal, exit code, stderr tail), or null
};
// Views in an Event are valid during the handler call only.

Json to_json(const Event& event);

using EventHandler = std::function<void(const Event&)>;

}  // namespace snakepit
