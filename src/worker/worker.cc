#include "worker/worker.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>

#include <fmt/format.h>
#include <spdlog/logger.h>

#include "process/oom_counter.h"
#include "process/sigpipe.h"

namespace snakepit::internal {
namespace {

namespace asio = boost::asio;
using Wait = asio::posix::descriptor_base::wait_type;

constexpr std::size_t kReadChunk = 1 << 16;
constexpr auto kExitPollInterval = std::chrono::milliseconds(50);

// Reads everything currently available on a non-blocking fd.
template <typename Fn>
void drain(int fd, Fn&& consume) {
  char buf[kReadChunk];
  while (fd >= 0) {
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n > 0) {
      consume(buf, static_cast<std::size_t>(n));
    } else if (n < 0 && errno == EINTR) {
      continue;
    } else {
      break;
    }
  }
}

bool has_exited(pid_t pid) {
  siginfo_t info{};
  return ::waitid(P_PID, static_cast<id_t>(pid), &info, WEXITED | WNOHANG | WNOWAIT) == 0 && info.si_pid == pid;
}

}  // namespace

Worker::Worker(asio::io_context& io, WorkerConfig config, int slot, std::string id, WorkerListener& listener)
    : config_(std::move(config)),
      slot_(slot),
      id_(std::move(id)),
      listener_(listener),
      to_worker_(io),
      from_worker_(io),
      stdout_(io),
      stderr_(io),
      pidfd_(io),
      timer_(io),
      exit_poll_(io),
      eof_grace_(io),
      heartbeat_(io) {}

Worker::~Worker() {
  close_descriptors();
  if (!exited() && pid_ > 0) {  // the pool stops workers first; this is the last line of defence
    signal_group(pid_, SIGKILL);
    int status;
    ::waitpid(pid_, &status, 0);
  }
}

void Worker::attach(ChildProcess child) {
  pid_ = child.pid;
  started_at_ = std::chrono::steady_clock::now();
  oom_kills_at_start_ = read_oom_kill_count();
  codec_ = make_codec(config_.pool->adapter.protocol, config_.pool->max_frame_bytes);
  to_worker_.assign(child.to_child.release());
  from_worker_.assign(child.from_child.release());
  if (child.stdout_fd.valid()) stdout_.assign(child.stdout_fd.release());
  stderr_.assign(child.stderr_fd.release());
  if (child.pidfd.valid()) pidfd_.assign(child.pidfd.release());

  timer_.expires_after(config_.pool->startup_timeout);
  timer_.async_wait([self = shared_from_this()](boost::system::error_code ec) {
    if (ec || self->state_ != WorkerState::kStarting) return;
    self->kill(deadline_exceeded(
        fmt::format("worker {} did not complete its handshake within {} ms", self->id_,
                    self->config_.pool->startup_timeout.count()),
        Json{{"reason", "startup_timeout"}}));
  });

  codec_->encode_start(outbox_.tail(), id_);
  flush_writes();
  start_reading();
  const auto max_line = config_.pool->max_log_line;
  // The splitters belong to this Worker: capturing `this` cannot dangle (and
  // a shared_ptr here would be a reference cycle).
  auto log_line = [this](spdlog::level::level_enum level, const char* stream) {
    return [this, level, stream](std::string_view line) {
      config_.logger->log(level, "[{} pid={} {}] {}", id_, pid_, stream, line);
      if (level == spdlog::level::warn) remember_stderr(line);
    };
  };
  stdout_lines_ = std::make_unique<LineSplitter>(max_line, log_line(spdlog::level::info, "stdout"));
  stderr_lines_ = std::make_unique<LineSplitter>(max_line, log_line(spdlog::level::warn, "stderr"));
  if (stdout_.is_open()) capture_output(stdout_, stdout_buffer_, *stdout_lines_);
  capture_output(stderr_, stderr_buffer_, *stderr_lines_);
  watch_exit();
}

Status Worker::send_request(std::uint64_t request_id, std::string_view command, const Json& args,
                            std::string_view session, bool stream, std::shared_ptr<const void> owner) {
  attachments_.clear();
  if (auto status = codec_->encode_request(outbox_.tail(), attachments_, request_id, command, args, session, stream);
      !status.ok()) {
    return status;
  }
  for (const auto& attachment : attachments_) outbox_.attach(attachment, owner);
  current_ = request_id;
  current_is_stream_ = stream;
  state_ = WorkerState::kBusy;
  ping_outstanding_ = 0;  // busy workers are judged by their request's deadline
  flush_writes();
  return {};
}

void Worker::send_reply(std::uint64_t call_id, Result<Json> result) {
  if (exited() || kill_reason_) return;
  attachments_.clear();
  if (!codec_->encode_reply(outbox_.tail(), attachments_, call_id, result)) return;
  if (!attachments_.empty()) {
    // Byte strings are written from where they lie. A Json holds its binary
    // value on the heap, so moving the result keeps the attachments valid.
    auto owned = std::make_shared<const Result<Json>>(std::move(result));
    for (const auto& attachment : attachments_) outbox_.attach(attachment, owned);
  }
  // Replies are written at once unless the worker stops reading its input.
  if (outbox_.bytes() > 2 * std::size_t{config_.pool->max_frame_bytes}) {
    kill(unavailable(fmt::format("worker {} keeps calling the host without reading the replies", id_),
                     Json{{"reason", "unread_replies"}}));
    return;
  }
  flush_writes();
}

void Worker::cancel(std::uint64_t request_id) {
  if (current_ != request_id || state_ != WorkerState::kBusy) return;
  if (codec_->encode_cancel(outbox_.tail(), request_id)) flush_writes();
  resume_reading();  // a stream paused for its consumer must be heard ending
  timer_.expires_after(config_.pool->cancel_grace);
  timer_.async_wait([self = shared_from_this(), request_id](boost::system::error_code ec) {
    if (ec || self->current_ != request_id) return;
    const auto dump_grace = self->config_.pool->stack_dump_grace;
    auto kill = [self] {
      self->kill(unavailable(fmt::format("worker {} was still busy {} ms after cancel; killed", self->id_,
                                         self->config_.pool->cancel_grace.count()),
                             Json{{"reason", "cancel_timeout"}}));
    };
    if (dump_grace.count() == 0) {
      kill();
      return;
    }
    // The Python bridge prints every thread's stack to stderr (our log) on SIGUSR1.
    self->config_.logger->warn("[{} pid={}] stuck {} ms after cancel: asking for a stack dump, then killing it",
                               self->id_, self->pid_, self->config_.pool->cancel_grace.count());
    ::kill(self->pid_, SIGUSR1);
    self->timer_.expires_after(dump_grace);
    self->timer_.async_wait([self, request_id, kill](boost::system::error_code ec2) {
      if (!ec2 && self->current_ == request_id) kill();
    });
  });
}

void Worker::stop() {
  if (exited() || state_ == WorkerState::kStopping) return;
  const bool busy = current_.has_value();
  state_ = WorkerState::kStopping;
  // Still being spawned (a recycling successor, say): there is nothing to
  // talk to yet; the pool kills it when the spawn completes.
  if (!codec_) return;
  if (busy) {
    // A busy worker reads no frame until its command ends: signal it now.
    signal_group(pid_, SIGTERM);
  } else if (codec_->encode_shutdown(outbox_.tail())) {
    flush_writes();
  }
  if (outbox_.empty()) to_worker_.close();  // EOF also asks the worker to exit
  // Escalate: SIGTERM to the group after stop_grace, SIGKILL after kill_grace.
  timer_.expires_after(config_.pool->stop_grace);
  timer_.async_wait([self = shared_from_this()](boost::system::error_code ec) {
    if (ec || self->exited()) return;
    signal_group(self->pid_, SIGTERM);
    self->timer_.expires_after(self->config_.pool->kill_grace);
    self->timer_.async_wait([self](boost::system::error_code ec2) {
      if (!ec2 && !self->exited()) signal_group(self->pid_, SIGKILL);
    });
  });
}

void Worker::kill(Status reason) {
  if (exited()) return;
  if (!kill_reason_) kill_reason_ = std::move(reason);
  state_ = WorkerState::kStopping;
  timer_.cancel();
  heartbeat_.cancel();
  signal_group(pid_, SIGKILL);
}

void Worker::start_reading() {
  if (reading_paused_ || read_waiting_) return;
  read_waiting_ = true;
  // A read rather than a readiness wait: Asio tries it at once and else
  // waits on the registration it has, where every wait re-arms epoll (one
  // epoll_ctl per request). The decoder's space stays put until it lands:
  // nothing else touches the decoder while a read is pending.
  const std::span<char> space = codec_->read_space(kReadChunk);
  from_worker_.async_read_some(
      asio::buffer(space.data(), space.size()),
      [self = shared_from_this()](boost::system::error_code ec, std::size_t n) {
        self->read_waiting_ = false;
        if (ec == asio::error::operation_aborted || self->exited()) return;
        if (ec || n == 0) {
          self->on_output_closed();
          return;
        }
        // Read on: Asio tries the read at once (a worker woken by our last
        // write has often answered by then) and waits only if it would block.
        self->codec_->commit(n);
        if (self->handle_buffered()) self->start_reading();
      });
}

void Worker::pause_reading() { reading_paused_ = true; }

void Worker::resume_reading() {
  if (!reading_paused_ || exited()) return;
  reading_paused_ = false;
  if (handle_buffered()) start_reading();
}

bool Worker::handle_buffered() {
  while (!kill_reason_ && !exited()) {
    if (reading_paused_) return false;
    auto message = codec_->next();
    if (!message.ok()) {
      protocol_violation(message.status());
      return false;
    }
    if (!message->has_value()) return true;
    handle_message(std::move(**message));
  }
  return false;
}

void Worker::on_output_closed() {
  // End of file (or a read error): the worker closed its side. Usually it
  // is exiting; if it is still alive shortly after, it broke the protocol.
  eof_grace_.expires_after(std::chrono::milliseconds(200));
  eof_grace_.async_wait([self = shared_from_this()](boost::system::error_code ec) {
    if (ec || self->exited() || has_exited(self->pid_)) return;
    self->protocol_violation(unavailable("closed its protocol output", Json{{"reason", "protocol_eof"}}));
  });
}

void Worker::handle_message(WorkerMessage message) {
  switch (message.type) {
    case WorkerMessage::Type::kHello:
      if (state_ == WorkerState::kStopping) return;  // stopped before it was ready
      if (state_ != WorkerState::kStarting) {
        protocol_violation(invalid_argument("unexpected second hello", Json{{"reason", "unexpected_hello"}}));
        return;
      }
      if (auto status = take_commands(message.body); !status.ok()) {
        protocol_violation(std::move(status));
        return;
      }
      timer_.cancel();
      state_ = WorkerState::kReady;
      became_idle();
      listener_.on_worker_ready(*this);
      return;
    case WorkerMessage::Type::kChunk:
      if (!current_ || current_ != message.id || !current_is_stream_) {
        protocol_violation(invalid_argument(fmt::format("chunk for request {} which is not a running stream", message.id),
                                            Json{{"reason", "unexpected_chunk"}}));
        return;
      }
      listener_.on_worker_chunk(*this, message.id, std::move(message.body));
      return;
    case WorkerMessage::Type::kResponse:
    case WorkerMessage::Type::kEnd: {
      // A worker being stopped may still answer the request it was running.
      const bool is_end = message.type == WorkerMessage::Type::kEnd;
      if (!current_ || current_ != message.id || current_is_stream_ != is_end) {
        protocol_violation(invalid_argument(
            fmt::format("{} for request {} which is not {}", is_end ? "end" : "response", message.id,
                        is_end ? "a running stream" : "running (or is a stream)"),
            Json{{"reason", is_end ? "unexpected_end" : "unexpected_response"}}));
        return;
      }
      current_.reset();
      current_is_stream_ = false;
      ++requests_served_;
      if (state_ == WorkerState::kBusy) {
        timer_.cancel();  // a pending cancel grace
        state_ = WorkerState::kReady;
        became_idle();
      }
      Result<Json> result = message.is_error ? Result<Json>(remote_error_status(message.body, id_))
                                             : Result<Json>(std::move(message.body));
      listener_.on_worker_response(*this, message.id, std::move(result));
      return;
    }
    case WorkerMessage::Type::kPong:
      if (message.id == ping_outstanding_ && ping_outstanding_ != 0) {
        ping_outstanding_ = 0;
        missed_pings_ = 0;
        idle_since_ = std::chrono::steady_clock::now();  // the next ping is due an interval from now
      }
      return;
    case WorkerMessage::Type::kCall:
      if (!current_) {
        protocol_violation(invalid_argument(fmt::format("call {} while no request runs", message.id),
                                            Json{{"reason", "unexpected_call"}}));
        return;
      }
      listener_.on_worker_call(*this, message.id, std::move(message.body));
      return;
  }
}

Status Worker::take_commands(const Json& hello) {
  constexpr std::size_t kMaxCommands = 10000;
  constexpr std::size_t kMaxCommandName = 256;
  const Json& commands = hello["commands"];
  if (commands.size() > kMaxCommands) {
    return invalid_argument(fmt::format("hello announces {} commands; at most {}", commands.size(), kMaxCommands),
                            Json{{"reason", "bad_hello"}});
  }
  commands_.clear();
  for (const auto& name : commands) {
    if (!name.is_string() || name.get_ref<const std::string&>().empty() ||
        name.get_ref<const std::string&>().size() > kMaxCommandName) {
      return invalid_argument(fmt::format("hello: each command must be a string of 1 to {} bytes", kMaxCommandName),
                              Json{{"reason", "bad_hello"}});
    }
    commands_.push_back(name.get<std::string>());
  }
  return {};
}

void Worker::protocol_violation(Status error) {
  config_.logger->warn("[{} pid={}] protocol error: {}", id_, pid_, error.message());
  Json details = {{"reason", "protocol_error"}, {"worker_id", id_}, {"pid", pid_}};
  if (error.details().is_object() && error.details().contains("reason")) {
    details["protocol_error"] = error.details()["reason"];
  }
  kill(unavailable(fmt::format("worker {} broke the protocol: {}", id_, error.message()), std::move(details)));
}

void Worker::flush_writes() {
  if (write_waiting_ || outbox_.empty() || !to_worker_.is_open()) return;
  switch (outbox_.write_to(to_worker_.native_handle())) {
    case OutputQueue::WriteResult::kWouldBlock:
      write_waiting_ = true;
      to_worker_.async_wait(Wait::wait_write, [self = shared_from_this()](boost::system::error_code ec) {
        self->write_waiting_ = false;
        if (!ec && !self->exited()) self->flush_writes();
      });
      return;
    case OutputQueue::WriteResult::kClosed:
      // The worker closed its input (EPIPE): it is exiting or broken. Its exit
      // or the request deadline settles the request; what we could not send is dropped.
      to_worker_.close();
      return;
    case OutputQueue::WriteResult::kDone:
      if (state_ == WorkerState::kStopping && !kill_reason_) to_worker_.close();
      return;
  }
}

void Worker::watch_exit() {
  if (pidfd_.is_open()) {
    pidfd_.async_wait(Wait::wait_read, [self = shared_from_this()](boost::system::error_code ec) {
      if (!ec) self->on_exited();
    });
    return;
  }
  exit_poll_.expires_after(kExitPollInterval);
  exit_poll_.async_wait([self = shared_from_this()](boost::system::error_code ec) {
    if (ec) return;
    if (has_exited(self->pid_)) {
      self->on_exited();
    } else {
      self->watch_exit();
    }
  });
}

void Worker::capture_output(asio::posix::stream_descriptor& stream, OutputBuffer& buffer, LineSplitter& lines) {
  // `stream`, `buffer` and `lines` are members: `self` keeps them alive.
  stream.async_read_some(asio::buffer(buffer), [self = shared_from_this(), &stream, &buffer, &lines](
                                                   boost::system::error_code ec, std::size_t n) {
    if (n > 0) lines.feed(std::string_view(buffer.data(), n));
    if (ec) return;  // EOF, or closed by on_exited(), which flushes the lines
    self->capture_output(stream, buffer, lines);
  });
}

void Worker::on_exited() {
  if (exited()) return;
  // Leftovers of the group (grandchildren) go with the leader. The leader is
  // a zombie until reaped below, so its pid (= pgid) cannot be reused yet.
  signal_group(pid_, SIGKILL);
  // A response written just before exit is still in the pipe: take it.
  if (from_worker_.is_open() && !kill_reason_) {
    drain(from_worker_.native_handle(), [this](const char* data, std::size_t n) { codec_->feed(data, n); });
    reading_paused_ = false;  // the stream's last chunks are delivered, bounded by the pipe's size
    while (!kill_reason_) {
      auto message = codec_->next();
      if (!message.ok() || !message->has_value()) break;
      handle_message(std::move(**message));
    }
  }
  int wait_status = 0;
  while (::waitpid(pid_, &wait_status, 0) < 0 && errno == EINTR) {
  }
  ExitInfo exit = ExitInfo::from_wait_status(wait_status);
  const bool was_stopping = state_ == WorkerState::kStopping;
  // A SIGKILL we did not send: did the kernel's OOM killer send it?
  if (!kill_reason_ && !was_stopping) exit.classify_oom(oom_kills_at_start_, read_oom_kill_count());
  state_ = WorkerState::kExited;

  // What the worker printed last (a traceback, say) is still in the pipes.
  for (const auto& [stream, splitter] : {std::pair{&stdout_, stdout_lines_.get()}, std::pair{&stderr_, stderr_lines_.get()}}) {
    if (!stream->is_open()) continue;
    LineSplitter* lines = splitter;  // C++20 lambdas cannot capture structured bindings (clang 14)
    drain(stream->native_handle(), [lines](const char* data, std::size_t n) { lines->feed({data, n}); });
    lines->flush();
  }
  Status cause;
  if (kill_reason_) {
    cause = std::move(*kill_reason_);
  } else if (was_stopping) {
    cause = unavailable(fmt::format("worker {} stopped ({})", id_, exit.describe()), Json{{"reason", "stopped"}});
  } else {
    cause = unavailable(fmt::format("worker {} {}", id_, exit.describe()), Json{{"reason", exit.reason()}});
  }
  if (!cause.details().is_object()) cause.details() = Json::object();
  cause.details()["worker_id"] = id_;
  cause.details()["pid"] = pid_;
  cause.details().update(exit.to_json());
  if (!stderr_tail_.empty()) cause.details()["stderr_tail"] = stderr_tail_;
  close_descriptors();
  listener_.on_worker_exit(*this, cause);
}

void Worker::became_idle() {
  idle_since_ = std::chrono::steady_clock::now();
  missed_pings_ = 0;
  // Armed once, not per request: when it fires it waits out the rest of the
  // interval if the worker was busy meanwhile (no timer churn on the hot path).
  if (!heartbeat_armed_) arm_heartbeat(config_.pool->heartbeat.interval);
}

void Worker::arm_heartbeat(std::chrono::steady_clock::duration delay) {
  const auto interval = config_.pool->heartbeat.interval;
  if (interval.count() == 0) return;
  heartbeat_armed_ = true;
  heartbeat_.expires_after(delay);
  heartbeat_.async_wait([self = shared_from_this(), interval](boost::system::error_code ec) {
    self->heartbeat_armed_ = false;
    if (ec || self->state_ != WorkerState::kReady) return;  // re-armed when it is idle again
    if (self->ping_outstanding_ != 0) {
      self->heartbeat_timed_out();
      return;
    }
    const auto idle = std::chrono::steady_clock::now() - self->idle_since_;
    if (idle < interval) {
      self->arm_heartbeat(interval - idle);
    } else {
      self->send_heartbeat();
    }
  });
}

void Worker::send_heartbeat() {
  if (!codec_->encode_ping(outbox_.tail(), ++last_ping_)) return;  // the protocol has no ping
  ping_outstanding_ = last_ping_;
  flush_writes();
  arm_heartbeat(config_.pool->heartbeat.timeout);
}

void Worker::heartbeat_timed_out() {
  ++missed_pings_;
  listener_.on_worker_heartbeat_missed(*this, missed_pings_);
  const auto& policy = config_.pool->heartbeat;
  if (missed_pings_ >= policy.max_missed) {
    kill(unavailable(fmt::format("worker {} answered none of {} pings ({} ms each); killed", id_, missed_pings_,
                                 policy.timeout.count()),
                     Json{{"reason", "heartbeat_timeout"}}));
    return;
  }
  send_heartbeat();
}

void Worker::remember_stderr(std::string_view line) {
  if (stderr_tail_.size() == kStderrTailLines) stderr_tail_.erase(stderr_tail_.begin());
  stderr_tail_.emplace_back(line);
}

void Worker::close_descriptors() {
  timer_.cancel();
  exit_poll_.cancel();
  eof_grace_.cancel();
  heartbeat_.cancel();
  boost::system::error_code ignored;
  for (auto* stream : {&to_worker_, &from_worker_, &pidfd_, &stdout_, &stderr_}) stream->close(ignored);
}

}  // namespace snakepit::internal
