// Snapshots of a pool's state, returned by Snakepit::stats() and
// list_workers(). Plain values: safe to keep and copy.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "snakepit/json.h"
#include "snakepit/session_store.h"

namespace snakepit {

enum class WorkerState {
  kStarting,  // spawned, waiting for its hello
  kReady,     // idle
  kBusy,      // running a request
  kStopping,  // shutting down or being killed
  kExited,    // gone; its slot waits for a restart
  kFailed,    // the slot crashed beyond the restart intensity limit
};

std::string_view worker_state_name(WorkerState state);

struct WorkerInfo {
  int slot = 0;             // stable position in the pool
  std::string id;           // "<pool>-<slot>.<generation>", unique per process
  int pid = 0;              // 0 when no process
  WorkerState state = WorkerState::kStarting;
  std::uint64_t requests = 0;  // served by this process
  int restarts = 0;            // of this slot
  std::string last_exit;       // why the previous process of this slot ended
};

struct PoolStats {
  std::string pool;
  std::string start_error;  // why the pool failed to start; empty: it started
  std::size_t size = 0;  // configured
  std::size_t ready = 0;
  std::size_t busy = 0;
  std::size_t starting = 0;
  std::size_t failed_slots = 0;

  std::uint64_t requests = 0;   // completed, with a result or an error
  std::uint64_t succeeded = 0;
  std::map<std::string, std::uint64_t> errors;  // by code name
  std::size_t queue_depth = 0;
  std::size_t queue_peak = 0;
  std::uint64_t queue_timeouts = 0;
  std::uint64_t saturations = 0;  // rejected because the queue was full
  std::uint64_t retries = 0;      // idempotent requests re-run after a worker loss
  std::uint64_t restarts = 0;
  std::map<std::string, std::uint64_t> restart_reasons;
  std::uint64_t recycles = 0;  // workers retired on purpose (RecyclePolicy)
  std::map<std::string, std::uint64_t> recycle_reasons;
  std::uint64_t heartbeats_missed = 0;
  std::chrono::milliseconds startup_duration{0};

  // Session requests: ran on their bound worker / could not (busy or gone) /
  // moved the session to another worker / refused with session_worker_lost.
  std::uint64_t affinity_hits = 0;
  std::uint64_t affinity_misses = 0;
  std::uint64_t affinity_rebinds = 0;
  std::uint64_t affinity_worker_lost = 0;
  SessionStoreStats sessions;

  std::vector<WorkerInfo> workers;
};

Json to_json(const WorkerInfo& info);
Json to_json(const PoolStats& stats);

}  // namespace snakepit
