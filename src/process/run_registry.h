// The run registry and the orphan sweep: no worker process outlives its host,
// even after `kill -9` of the host and even when a worker defeated its
// parent-death signal.
//
// Every host process opens one RunRegistry (one "run", named by 128 random
// bits) and records each worker's pid, start time and process group on disk
// before the worker is used. Every worker carries the run's marker in its
// environment. A later sweep (the next start, or `snakepit sweep`) kills the
// workers of runs whose owner is dead — but only a process that matches in
// pid, start time AND marker; never by pid alone, never a process of a live
// owner. A /proc scan by marker backs up the files (torn records, a deleted
// data dir, a worker spawned but not yet recorded).
//
// On-disk layout (all 0700/0600, owned by our euid, no symlinks followed):
//   <data_dir>/runs/<run_id>/owner.json   {"version", "run_id", "instance",
//       "owner_pid", "owner_start", "created", "boot_id", "pid_ns"}
//   <data_dir>/runs/<run_id>/<pid>.json   {"pid", "start_time", "pgid",
//       "worker_id", "run_id"}
//   <data_dir>/runs/.new-<run_id>/        a run being created (renamed into
//       place once owner.json is written, so a run never appears without it)
//   <run dir>/.tmp-*                      a record being written (renamed)
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/thread_annotations.h"
#include "process/proc_info.h"
#include "process/unique_fd.h"
#include "snakepit/json.h"
#include "snakepit/status.h"

namespace snakepit::internal {

// Environment variables that mark a worker process as belonging to a run.
inline constexpr const char* kRunIdEnv = "SNAKEPIT_RUN_ID";
inline constexpr const char* kInstanceEnv = "SNAKEPIT_INSTANCE";
inline constexpr const char* kOwnerPidEnv = "SNAKEPIT_OWNER_PID";
inline constexpr const char* kOwnerStartEnv = "SNAKEPIT_OWNER_START";

// A record or owner file larger than this is invalid.
inline constexpr std::size_t kMaxRecordBytes = 64 * 1024;

// Identifies the processes of one run; put into every worker's environment.
struct RunMarker {
  std::string run_id;             // 32 lowercase hex digits
  std::string instance;           // free text chosen by the host (may be empty)
  pid_t owner_pid = 0;            // the host process
  std::uint64_t owner_start = 0;  // its start time (clock ticks since boot)

  bool operator==(const RunMarker&) const = default;
};

// {SNAKEPIT_RUN_ID, SNAKEPIT_INSTANCE, SNAKEPIT_OWNER_PID, SNAKEPIT_OWNER_START}
// as overrides for build_environment().
std::vector<std::pair<std::string, std::string>> marker_environment(const RunMarker& marker);

// The marker in /proc/<pid>/environ, if it carries a well-formed one (run id of
// 32 hex digits, owner pid > 0, numeric owner start). nullopt when the process
// is gone, carries no marker, or its environ is unreadable (another uid).
std::optional<RunMarker> read_marker(pid_t pid);
// The same, from a NUL-separated environment block.
std::optional<RunMarker> parse_marker(std::string_view environ_block);

// $SNAKEPIT_DATA_DIR, else $XDG_RUNTIME_DIR/snakepit, else /tmp/snakepit-<euid>.
std::string default_data_dir();

// True if the process `pid` that started at `start_time` still runs (not a
// zombie). The liveness test applied to owners.
inline bool owner_alive(pid_t pid, std::uint64_t start_time) { return process_running(pid, start_time); }

// Who owns a run: by default the calling process.
struct RunOwner {
  pid_t pid = 0;
  std::uint64_t start_time = 0;
};

// This host's run on disk. Thread-safe (one mutex; file operations are short
// and never touch the event loop's state). Owns two directory descriptors
// (O_CLOEXEC) until close().
class RunRegistry {
 public:
  // Creates data_dir (mode 0700, with missing parents) and this run's directory
  // <data_dir>/runs/<run_id>/ holding owner.json. Refuses a data dir (or its
  // runs/ subdirectory) that is a symlink, not a directory, not owned by our
  // euid, or group/other-writable.
  // Errors: FailedPrecondition (naming the path), InvalidArgument (instance
  // longer than 256 bytes or holding control characters), NotFound, Internal.
  static Result<std::unique_ptr<RunRegistry>> open(const std::string& data_dir, std::string instance);
  // The same for another owner (tests and tools: a run of a host that has
  // already died). REQUIRES: owner.pid > 0.
  static Result<std::unique_ptr<RunRegistry>> open_for_owner(const std::string& data_dir, std::string instance,
                                                             RunOwner owner);

  ~RunRegistry();
  RunRegistry(const RunRegistry&) = delete;
  RunRegistry& operator=(const RunRegistry&) = delete;

  const RunMarker& marker() const { return marker_; }
  const std::string& run_dir() const { return run_dir_; }  // <data_dir>/runs/<run_id>

  // Records a worker BEFORE it is used: <run dir>/<pid>.json {pid, start_time,
  // pgid, worker_id, run_id}, written atomically (temp file + rename). Start
  // time and process group are read from /proc, so `pid` must be an unreaped
  // child. Errors: NotFound (no such process), FailedPrecondition (closed),
  // InvalidArgument (pid <= 1 or this process), errno_status of the file
  // operations.
  Status add_worker(pid_t pid, std::string_view worker_id);
  // Forgets a worker (after it was reaped). A missing record is fine.
  void remove_worker(pid_t pid);
  // Normal shutdown: removes this run's directory. Idempotent; the destructor
  // calls it.
  void close();

 private:
  RunRegistry(std::string run_dir, RunMarker marker, UniqueFd runs_fd, UniqueFd run_fd);

  const std::string run_dir_;
  const RunMarker marker_;
  Mutex mutex_;
  UniqueFd runs_fd_ SNAKEPIT_GUARDED_BY(mutex_);
  UniqueFd run_fd_ SNAKEPIT_GUARDED_BY(mutex_);
  std::uint64_t temp_counter_ SNAKEPIT_GUARDED_BY(mutex_) = 0;
};

struct SweepReport {
  bool dry_run = false;              // counts below are what would have been done
  int runs_seen = 0;                 // run directories looked at
  int runs_removed = 0;              // run directories removed (owner dead, workers gone)
  int processes_killed = 0;          // verified orphans signalled (records and /proc scan)
  int records_invalid = 0;           // torn/corrupt/oversized owner or worker records
  int skipped_live_owner = 0;        // runs left alone because their owner runs
  int skipped_foreign = 0;           // runs of another pid namespace, left alone
  std::vector<std::string> actions;  // one human-readable line per thing done or refused
  Json to_json() const;
};

struct SweepOptions {
  bool dry_run = false;  // report what would be done, do nothing
  // Also kill any process of our euid (same pid namespace) whose marker names
  // a dead owner, whatever the files say.
  bool scan_proc = true;
  // Non-empty: the /proc scan above considers only markers of this instance.
  std::string scan_instance;
  std::chrono::milliseconds term_grace{500};  // SIGTERM → SIGKILL
};

// Sweeps <data_dir>/runs (see the file comment). Blocking (reads /proc, waits
// up to term_grace + 2 s for signalled processes): call it off the event loop,
// typically once before the first worker starts.
//
// A run's owner is dead when its pid is gone or a zombie, its start time
// differs from owner_start, or the machine rebooted since (boot_id). A run
// recorded in another pid namespace is not judged (skipped_foreign); a run of
// a live owner is never touched (skipped_live_owner). For a dead owner's run,
// each recorded worker is signalled only if ALL match: the pid runs, its start
// time equals the record's, its environ carries that run's SNAKEPIT_RUN_ID,
// and the owner named in that marker is dead too. A group leader (recorded
// pgid == pid == current pgrp) is signalled as a group (killpg). All targets
// get SIGTERM at once, then up to `term_grace` to exit (leader and every
// group member), then SIGKILL. The run directory is then removed (kept when a
// verified orphan survived SIGKILL, for the next sweep).
//
// A torn/corrupt/oversized/symlinked record (or owner.json) counts in
// records_invalid and is never trusted: the sweep instead kills processes of
// our euid carrying that run's marker whose marked owner is dead. The same
// marker scan runs when a recorded worker is gone (its group may live on). A
// run with an invalid owner.json is left in place. With `scan_proc`, every
// process of our euid in our pid namespace whose marker names a dead owner
// is killed, whatever the files say.
//
// Never signals this process or its process group, never pid <= 1. Known
// limits: a process that drops the marker from its environment (execve with
// a new env), makes itself non-dumpable, or changes uid is invisible to the
// marker checks and is not killed; a descendant of an orphan that inherited
// its marker counts as part of that run.
// A missing data dir or runs/ is not an error.
// Errors: InvalidArgument (empty path), FailedPrecondition (data dir or runs/
// is a symlink, not ours, or writable by group/others), errno_status of
// opening it.
Result<SweepReport> sweep_orphans(const std::string& data_dir, const SweepOptions& options = {});

}  // namespace snakepit::internal
