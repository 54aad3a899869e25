// Worker: one OS process and its protocol channel, owned by the event loop.
//
// State machine: Starting → Ready ⇄ Busy → Stopping → Exited. A Worker runs
// one request at a time. It reports to its Listener (the pool): ready,
// response, exit. Every method must be called on the loop thread; handlers
// keep the Worker alive through shared_from_this().
#pragma once

#include <sys/types.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>
#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/log.h"
#include "process/exit_info.h"
#include "process/spawn.h"
#include "protocol/codec.h"
#include "snakepit/options.h"
#include "snakepit/stats.h"
#include "worker/line_splitter.h"
#include "worker/output_queue.h"

namespace snakepit::internal {

class Worker;

class WorkerListener {
 public:
  virtual ~WorkerListener() = default;
  // The handshake succeeded; the worker is Ready.
  virtual void on_worker_ready(Worker& worker) = 0;
  // The running request ended (result or remote error; for a stream, its
  // `end`); the worker is Ready.
  virtual void on_worker_response(Worker& worker, std::uint64_t request_id, Result<Json> result) = 0;
  // A chunk of the running stream request.
  virtual void on_worker_chunk(Worker& worker, std::uint64_t request_id, Json chunk) = 0;
  // The running request asks the host for something (docs/protocol.md,
  // "Calls to the host"); answer with Worker::send_reply(call_id, …).
  virtual void on_worker_call(Worker& worker, std::uint64_t call_id, Json call) = 0;
  // An idle worker did not answer a ping in time (`missed` in a row so far).
  virtual void on_worker_heartbeat_missed(Worker& worker, int missed) = 0;
  // The process is gone and reaped; `cause` explains why (Unavailable).
  virtual void on_worker_exit(Worker& worker, const Status& cause) = 0;
};

struct WorkerConfig {
  const PoolOptions* pool = nullptr;  // outlives the worker
  LoggerPtr logger;
};

class Worker : public std::enable_shared_from_this<Worker> {
 public:
  Worker(boost::asio::io_context& io, WorkerConfig config, int slot, std::string id, WorkerListener& listener);
  ~Worker();

  // Takes over a freshly spawned process: starts reading and the start-up timer.
  void attach(ChildProcess child);
  // REQUIRES: state() == kReady. On error (request too large) nothing is
  // sent and the worker stays Ready. Byte strings in `args` are written from
  // where they lie: `owner` must keep `args` alive and unchanged.
  Status send_request(std::uint64_t request_id, std::string_view command, const Json& args,
                      std::string_view session = {}, bool stream = false,
                      std::shared_ptr<const void> owner = nullptr);
  // Answers a call. A worker whose unread replies pile up is killed.
  void send_reply(std::uint64_t call_id, Result<Json> result);
  // Host calls in flight for this worker: false (nothing counted) at `limit`.
  bool begin_call(int limit) {
    if (calls_in_flight_ >= limit) return false;
    ++calls_in_flight_;
    return true;
  }
  void end_call() { --calls_in_flight_; }
  // Flow control of streams: while paused, nothing more is read from the
  // worker (its writes block once the pipe is full).
  void pause_reading();
  void resume_reading();
  // Asks the worker to abandon its current request; if it is still busy
  // with it after the cancel grace, asks for a stack dump (SIGUSR1) and
  // kills it after the stack-dump grace.
  void cancel(std::uint64_t request_id);
  // Graceful stop: shutdown frame / stdin close, then SIGTERM, then SIGKILL.
  void stop();
  // SIGKILL to the process group now; the exit is reported as `reason`.
  void kill(Status reason);

  WorkerState state() const { return state_; }
  const std::string& id() const { return id_; }
  int slot() const { return slot_; }
  pid_t pid() const { return pid_; }
  std::uint64_t requests_served() const { return requests_served_; }
  std::optional<std::uint64_t> current_request() const { return current_; }
  // When the process was attached, and when it last became idle.
  std::chrono::steady_clock::time_point started_at() const { return started_at_; }
  std::chrono::steady_clock::time_point idle_since() const { return idle_since_; }
  // The commands its hello announced (empty: the protocol has no list).
  const std::vector<std::string>& commands() const { return commands_; }
  // The host ended it (deadline, heartbeat, protocol error, shutdown kill).
  bool killed_by_host() const { return kill_reason_.has_value(); }

 private:
  void start_reading();
  void on_output_closed();
  // Handles the messages the codec holds; false when reading must not go on.
  bool handle_buffered();
  void handle_message(WorkerMessage message);
  void protocol_violation(Status error);
  Status take_commands(const Json& hello);
  void flush_writes();
  void watch_exit();
  void on_exited();
  using OutputBuffer = std::array<char, 4096>;
  void capture_output(boost::asio::posix::stream_descriptor& stream, OutputBuffer& buffer, LineSplitter& lines);
  void close_descriptors();
  bool exited() const { return state_ == WorkerState::kExited; }
  void remember_stderr(std::string_view line);
  void became_idle();
  void arm_heartbeat(std::chrono::steady_clock::duration delay);
  void send_heartbeat();
  void heartbeat_timed_out();

  WorkerConfig config_;
  const int slot_;
  const std::string id_;
  WorkerListener& listener_;

  WorkerState state_ = WorkerState::kStarting;
  pid_t pid_ = 0;
  std::unique_ptr<WorkerCodec> codec_;
  boost::asio::posix::stream_descriptor to_worker_;
  boost::asio::posix::stream_descriptor from_worker_;
  boost::asio::posix::stream_descriptor stdout_;
  boost::asio::posix::stream_descriptor stderr_;
  boost::asio::posix::stream_descriptor pidfd_;
  boost::asio::steady_timer timer_;       // start-up, cancel grace, or stop escalation
  boost::asio::steady_timer exit_poll_;   // fallback when the kernel lacks pidfd
  boost::asio::steady_timer eof_grace_;   // output closed: is the process exiting?
  boost::asio::steady_timer heartbeat_;   // idle: next ping, or the pong's timeout
  OutputQueue outbox_;                    // bytes waiting to be written
  bool write_waiting_ = false;
  bool reading_paused_ = false;
  bool read_waiting_ = false;             // an async wait for input is pending
  bool current_is_stream_ = false;
  int calls_in_flight_ = 0;
  std::vector<std::string> commands_;
  std::vector<Attachment> attachments_;   // scratch: byte strings of the frame being encoded
  std::unique_ptr<LineSplitter> stdout_lines_;
  std::unique_ptr<LineSplitter> stderr_lines_;
  OutputBuffer stdout_buffer_;
  OutputBuffer stderr_buffer_;
  // The last lines of stderr, attached to the exit cause (why did it die?).
  static constexpr std::size_t kStderrTailLines = 8;
  std::vector<std::string> stderr_tail_;
  std::optional<std::uint64_t> current_;
  std::uint64_t requests_served_ = 0;
  std::optional<Status> kill_reason_;     // why we ended it, if we did
  std::chrono::steady_clock::time_point started_at_;
  std::chrono::steady_clock::time_point idle_since_;
  bool heartbeat_armed_ = false;
  std::uint64_t ping_outstanding_ = 0;    // nonce of the unanswered ping, 0: none
  std::uint64_t last_ping_ = 0;
  int missed_pings_ = 0;
  std::optional<std::uint64_t> oom_kills_at_start_;  // the cgroup's OOM kill count at spawn
};

}  // namespace snakepit::internal
