#include "pool/pool.h"

#include <algorithm>

#include <fmt/format.h>
#include <spdlog/logger.h>

#include <boost/asio/post.hpp>

#include "process/process_tree.h"

namespace snakepit::internal {
namespace {

using Clock = std::chrono::steady_clock;

std::string reason_of(const Status& cause) {
  const Json& details = cause.details();
  if (details.is_object()) {
    if (auto it = details.find("reason"); it != details.end() && it->is_string()) return it->get<std::string>();
  }
  return "unknown";
}

Millis millis_between(Clock::time_point from, Clock::time_point to) {
  return std::chrono::duration_cast<Millis>(to - from);
}

std::chrono::microseconds micros_between(Clock::time_point from, Clock::time_point to) {
  return std::chrono::duration_cast<std::chrono::microseconds>(to - from);
}

Status session_worker_lost(const Request& request) {
  return unavailable(fmt::format("session {} was bound to worker {}, which is gone with its in-memory state; "
                                 "unbind the session or use hint affinity to go on with another worker",
                                 request.session_id, request.bound_worker),
                     Json{{"reason", "session_worker_lost"},
                          {"session_id", request.session_id},
                          {"worker_id", request.bound_worker}});
}

}  // namespace

std::vector<std::string> Pool::commands() const {
  std::vector<std::string> sorted(commands_.begin(), commands_.end());
  std::sort(sorted.begin(), sorted.end());
  return sorted;
}

Status Pool::unknown_command(const Request& request) const {
  std::vector<std::string_view> known(commands_.begin(), commands_.end());
  std::sort(known.begin(), known.end());
  std::string list = fmt::format("{}", fmt::join(known.begin(), known.begin() + std::min<std::size_t>(known.size(), 40), ", "));
  if (known.size() > 40) list += ", …";
  return invalid_argument(fmt::format("unknown command '{}' (pool {} offers: {})", request.command.substr(0, 128),
                                      options_.name, list),
                          Json{{"reason", "unknown_command"}, {"command", request.command.substr(0, 128)}});
}

Pool::Pool(boost::asio::io_context& io, PoolOptions options, LoggerPtr logger, Launcher& launcher,
           std::shared_ptr<SessionStore> sessions, EventBus& events, RunRegistry* registry,
           std::shared_ptr<const FunctionRegistry> functions, boost::asio::thread_pool& offload,
           PoolShard shard)
    : io_(io),
      options_(std::move(options)),
      logger_(std::move(logger)),
      launcher_(launcher),
      first_slot_(shard.first_slot),
      sessions_(sessions),
      host_calls_(std::move(sessions), std::move(functions)),
      offload_(offload),
      events_(events),
      registry_(registry),
      maintenance_timer_(io),
      grace_timer_(io) {
  spawn_spec_.executable = options_.adapter.executable;
  spawn_spec_.argv.push_back(options_.adapter.executable);
  for (const auto& arg : options_.adapter.args) spawn_spec_.argv.push_back(arg);
  spawn_spec_.working_dir = options_.adapter.working_dir;
  spawn_spec_.protocol_on_stdio = options_.adapter.protocol == Protocol::kSnakepitV0;
  spawn_spec_.cpu = shard.cpu;
  std::vector<std::pair<std::string, std::string>> env;
  if (options_.worker_threads > 0) {
    for (const char* name : {"OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS",
                             "VECLIB_MAXIMUM_THREADS"}) {
      env.emplace_back(name, std::to_string(options_.worker_threads));
    }
  }
  env.insert(env.end(), options_.adapter.env.begin(), options_.adapter.env.end());  // later entries win
  env.emplace_back("SNAKEPIT_PROTOCOL", std::string(protocol_name(options_.adapter.protocol)));
  env.emplace_back("SNAKEPIT_FD_IN", "3");
  env.emplace_back("SNAKEPIT_FD_OUT", "4");
  env.emplace_back("SNAKEPIT_MAX_FRAME", std::to_string(options_.max_frame_bytes));
  if (registry_ != nullptr) {
    for (auto& variable : marker_environment(registry_->marker())) env.push_back(std::move(variable));
  }
  spawn_spec_.env = build_environment(env);
  // The adapter's own list, when it has one, is what the pool serves.
  commands_.insert(options_.adapter.commands.begin(), options_.adapter.commands.end());
  for (std::size_t i = 0; i < options_.size; ++i) {
    slots_.push_back(std::make_unique<Slot>(io_, options_.restart));
  }
}

Pool::~Pool() = default;

void Pool::start(std::function<void(Status)> done) {
  phase_ = Phase::kStarting;
  start_done_ = std::move(done);
  start_time_ = Clock::now();
  for (std::size_t i = 0; i < slots_.size(); ++i) spawn(static_cast<int>(i));
}

void Pool::spawn(int index, bool successor) {
  Slot& slot = *slots_[index];
  ++slot.generation;
  auto worker = std::make_shared<Worker>(io_, WorkerConfig{&options_, logger_}, index,
                                         fmt::format("{}-{}.{}", options_.name, first_slot_ + index, slot.generation), *this);
  if (successor) {
    slot.successor = worker;
  } else {
    slot.worker = worker;
    slot.request_limit = draw_request_limit();
  }
  emit_worker(EventType::kWorkerStarting, *worker);
  SpawnSpec spec = spawn_spec_;
  spec.env.push_back("SNAKEPIT_WORKER_ID=" + worker->id());
  ++pending_spawns_;
  launcher_.launch(std::move(spec), io_.get_executor(),
                   [this, index, worker](Result<ChildProcess> child) { attach(index, worker, std::move(child)); });
}

void Pool::attach(int index, const std::shared_ptr<Worker>& worker, Result<ChildProcess> child) {
  --pending_spawns_;
  Slot& slot = *slots_[index];
  if (!child.ok()) {
    Status cause(child.status().code(), fmt::format("worker {} could not be spawned: {}", worker->id(),
                                                    child.status().message()),
                 child.status().details());
    if (!cause.details().is_object()) cause.details() = Json::object();
    cause.details()["reason"] = "spawn_failed";
    cause.details()["worker_id"] = worker->id();
    if (slot.successor == worker) {  // the current worker keeps serving; recycling is retried later
      logger_->warn("{}", cause.message());
      slot.successor.reset();
      maybe_stopped();
      return;
    }
    if (slot.worker == worker) slot.worker.reset();
    if (phase_ == Phase::kStarting) {
      fail_start(cause);
    } else if (phase_ == Phase::kRunning) {
      schedule_restart(index, cause);
    } else {
      maybe_stopped();
    }
    return;
  }
  const pid_t pid = child->pid;
  worker->attach(std::move(*child));
  // Recorded before it is used, so a host killed from now on leaves it findable.
  if (registry_ != nullptr) {
    if (auto recorded = registry_->add_worker(pid, worker->id()); !recorded.ok()) {
      worker->kill(unavailable(fmt::format("worker {} could not be recorded in the run registry: {}", worker->id(),
                                           recorded.message()),
                               Json{{"reason", "registry_failed"}}));
    }
  }
  if (phase_ == Phase::kStopping || phase_ == Phase::kStopped) {
    worker->kill(unavailable("pool is shutting down", Json{{"reason", "stopped"}}));
  }
}

void Pool::fail_start(Status cause) {
  if (phase_ != Phase::kStarting) return;
  logger_->error("pool {} failed to start: {}", options_.name, cause.message());
  start_error_ = std::move(cause);
  phase_ = Phase::kStopping;
  for (auto& slot : slots_) {
    if (slot->worker) slot->worker->kill(unavailable("pool start failed", Json{{"reason", "start_failed"}}));
  }
  maybe_stopped();
}

void Pool::on_worker_ready(Worker& worker) {
  logger_->debug("worker {} ready (pid {})", worker.id(), worker.pid());
  if (phase_ == Phase::kStopping) {
    worker.stop();
    return;
  }
  if (slots_[worker.slot()]->successor.get() == &worker) {
    if (promote_successor(worker.slot())) check_ready_waiters();
    return;
  }
  emit_worker(EventType::kWorkerReady, worker);
  if (options_.adapter.commands.empty()) commands_.insert(worker.commands().begin(), worker.commands().end());
  if (phase_ == Phase::kStarting && all_ready()) {
    phase_ = Phase::kRunning;
    counters_.set_startup_duration(millis_between(start_time_, Clock::now()));
    schedule_maintenance();
    if (auto done = std::move(start_done_)) done(Status{});
  }
  live_[worker.id()] = &worker;
  worker_idle(worker);
  check_ready_waiters();
}

void Pool::submit(RequestPtr request) {
  request->submitted_at = Clock::now();
  if (phase_ != Phase::kRunning) {
    finish(request, unavailable(fmt::format("pool {} is not serving (shutting down)", options_.name),
                                Json{{"reason", "pool_stopping"}}));
    return;
  }
  if (Clock::now() >= request->deadline) {
    finish(request, deadline_exceeded("request deadline passed before it could be queued",
                                      Json{{"reason", "deadline"}}));
    return;
  }
  if (!commands_.empty() && !commands_.contains(request->command)) {
    finish(request, unknown_command(*request));
    return;
  }
  if (!request->session_id.empty()) {
    submit_in_session(std::move(request));
    return;
  }
  dispatch(std::move(request));
}

void Pool::dispatch(RequestPtr request) {
  if (Worker* worker = pop_idle()) {
    if (!run(*worker, std::move(request))) push_idle(*worker);
    return;
  }
  if (!any_slot_alive()) {
    finish(request, unavailable(fmt::format("pool {} has no workers: every slot failed", options_.name),
                                Json{{"reason", "no_workers"}}));
    return;
  }
  enqueue(std::move(request), -1);
}

// The session's bound worker if the affinity mode allows, else any worker.
void Pool::submit_in_session(RequestPtr request) {
  auto session = sessions_->get_or_create(request->session_id, &request->session_created);
  if (!session.ok()) {
    finish(request, session.status());
    return;
  }
  request->bound_worker = std::move(session->worker_id);
  if (request->bound_worker.empty()) {
    dispatch(std::move(request));
    return;
  }
  const Affinity mode = request->affinity.value_or(options_.affinity);
  const auto live = live_.find(request->bound_worker);
  if (live == live_.end()) {
    if (mode == Affinity::kHint) {
      counters_.affinity_miss();
      dispatch(std::move(request));
    } else {
      counters_.affinity_worker_lost();
      finish(request, session_worker_lost(*request));
    }
    return;
  }
  Worker& bound = *live->second;
  if (take_idle(bound)) {
    counters_.affinity_hit();
    if (!run(bound, request)) push_idle(bound);
    return;
  }
  switch (mode) {
    case Affinity::kHint:
      counters_.affinity_miss();
      dispatch(std::move(request));
      return;
    case Affinity::kStrictQueue:
      counters_.affinity_hit();
      enqueue(std::move(request), bound.slot());
      return;
    case Affinity::kStrictFailFast:
      counters_.affinity_miss();
      finish(request, resource_exhausted(fmt::format("session {}: its worker {} is busy (affinity strict_fail_fast)",
                                                     request->session_id, request->bound_worker),
                                         Json{{"reason", "worker_busy"},
                                              {"session_id", request->session_id},
                                              {"worker_id", request->bound_worker}}));
      return;
  }
}

// Records where a session request runs, and moves the session there.
void Pool::note_session_worker(Request& request, const Worker& worker) {
  request.worker_id = worker.id();
  request.worker_pid = worker.pid();
  if (request.bound_worker == worker.id()) return;
  if (!request.bound_worker.empty()) {
    counters_.affinity_rebind();
    request.previous_worker = request.bound_worker;
  }
  // NotFound when the session was deleted meanwhile: the request still runs.
  (void)sessions_->bind(request.session_id, worker.id());
  request.bound_worker = worker.id();
}

void Pool::enqueue(RequestPtr request, int pinned_slot) {
  if (queued_ >= options_.max_queue) {
    counters_.saturated();
    finish(request, resource_exhausted(
                        fmt::format("pool {} is saturated: {} requests already queued", options_.name, queued_),
                        Json{{"reason", "queue_full"}, {"max_queue", options_.max_queue}}));
    return;
  }
  auto& queue = pinned_slot < 0 ? queue_ : slots_[pinned_slot]->pinned;
  request->queue_position = queue.push_back(request);
  request->pinned_slot = pinned_slot;
  queue_peak_ = std::max(queue_peak_, ++queued_);
  request->queued_at = Clock::now();
  emit_request(EventType::kRequestQueued, *request);
  const auto queue_deadline = request->queued_at + options_.queue_timeout;
  const bool queue_timeout_first = queue_deadline < request->deadline;
  request->timer.expires_at(std::min(queue_deadline, request->deadline));
  request->timer.async_wait([this, weak = std::weak_ptr<Request>(request), queue_timeout_first](
                                boost::system::error_code ec) {
    auto r = weak.lock();
    if (ec || !r || !r->queue_position) return;
    unqueue(*r);
    if (queue_timeout_first) counters_.queue_timeout();
    emit_request(EventType::kRequestTimedOut, *r, queue_timeout_first ? "queue_timeout" : "deadline");
    const auto waited = millis_between(r->queued_at, Clock::now()).count();
    finish(r, deadline_exceeded(
                  queue_timeout_first
                      ? fmt::format("request waited {} ms in the queue without a free worker", waited)
                      : fmt::format("request deadline passed after {} ms in the queue", waited),
                  Json{{"reason", queue_timeout_first ? "queue_timeout" : "deadline"}}));
  });
}

void Pool::unqueue(Request& request) {
  auto& queue = request.pinned_slot < 0 ? queue_ : slots_[request.pinned_slot]->pinned;
  queue.remove(*request.queue_position);
  request.queue_position.reset();
  --queued_;
}

bool Pool::run(Worker& worker, RequestPtr request) {
  request->queue_position.reset();
  if (auto status = worker.send_request(request->id, request->command, request->args, request->session_id,
                                        request->stream != nullptr, request);
      !status.ok()) {
    finish(request, std::move(status));
    return false;
  }
  if (!request->session_id.empty()) note_session_worker(*request, worker);
  request->started_at = Clock::now();
  emit_request(EventType::kRequestStarted, *request);
  Slot& slot = *slots_[worker.slot()];
  request->worker_slot = worker.slot();
  ++request->attempts;
  slot.running = request;
  request->timer.expires_at(request->deadline);
  request->timer.async_wait([this, weak = std::weak_ptr<Request>(request), worker = worker.shared_from_this()](
                                boost::system::error_code ec) {
    auto r = weak.lock();
    if (ec || !r || r->finished) return;
    emit_request(EventType::kRequestTimedOut, *r, "deadline");
    finish(r, deadline_exceeded(fmt::format("request {} ('{}') passed its deadline while running on worker {}",
                                            r->id, r->command, worker->id()),
                                Json{{"reason", "deadline"}, {"worker_id", worker->id()}}));
    worker->cancel(r->id);  // the worker is killed if it stays busy past the cancel grace
  });
  if (request->stream) {
    // The consumer makes room again from its own thread: back to the loop.
    request->stream->set_resume([this, weak = std::weak_ptr<Request>(request),
                                 weak_worker = std::weak_ptr<Worker>(worker.shared_from_this())] {
      boost::asio::post(io_, [this, weak, weak_worker] {
        auto r = weak.lock();
        auto w = weak_worker.lock();
        if (!r || !w || w->current_request() != r->id) return;
        w->resume_reading();
        if (!r->finished) arm_chunk_timer(r, *w);
      });
    });
    arm_chunk_timer(request, worker);
  }
  return true;
}

void Pool::arm_chunk_timer(const RequestPtr& request, Worker& worker) {
  if (request->chunk_timeout.count() == 0) return;
  if (!request->gap_timer) request->gap_timer = std::make_unique<boost::asio::steady_timer>(io_);
  request->gap_timer->expires_after(request->chunk_timeout);
  request->gap_timer->async_wait([this, weak = std::weak_ptr<Request>(request), worker = worker.shared_from_this()](
                                     boost::system::error_code ec) {
    auto r = weak.lock();
    if (ec || !r || r->finished) return;
    emit_request(EventType::kRequestTimedOut, *r, "chunk_timeout");
    finish(r, deadline_exceeded(fmt::format("stream {} ('{}') sent no chunk for {} ms", r->id, r->command,
                                            r->chunk_timeout.count()),
                                Json{{"reason", "chunk_timeout"}, {"worker_id", worker->id()}}));
    worker->cancel(r->id);
  });
}

void Pool::on_worker_chunk(Worker& worker, std::uint64_t request_id, Json chunk) {
  Slot& slot = *slots_[worker.slot()];
  const RequestPtr& request = slot.running;
  if (!request || request->id != request_id || request->finished || !request->stream) return;  // late: dropped
  if (request->stream->push(std::move(chunk))) {
    arm_chunk_timer(request, worker);
  } else {
    worker.pause_reading();  // until the consumer catches up; its slowness is not the worker's gap
    if (request->gap_timer) request->gap_timer->cancel();
  }
}

void Pool::cancel(const RequestPtr& request, Status why) {
  if (request->finished) return;
  if (request->queue_position) unqueue(*request);
  emit_request(EventType::kRequestCancelled, *request, reason_of(why));
  finish(request, std::move(why));
  if (request->worker_slot < 0) return;
  Slot& slot = *slots_[request->worker_slot];
  if (slot.running == request && slot.worker) slot.worker->cancel(request->id);
}

void Pool::on_worker_response(Worker& worker, std::uint64_t request_id, Result<Json> result) {
  const int index = worker.slot();
  Slot& slot = *slots_[index];
  if (slot.worker.get() != &worker) return;  // retired workers run nothing
  RequestPtr request = std::move(slot.running);
  if (request && request->id == request_id) {
    in_response_callback_ = true;
    finish(request, std::move(result));
    in_response_callback_ = false;
  }
  // Whatever the callback submitted goes in once this worker is settled.
  struct SubmitAfterResponse {
    Pool& pool;
    ~SubmitAfterResponse() {
      for (auto& next : std::exchange(pool.after_response_, {})) pool.submit(std::move(next));
    }
  } submit_after_response{*this};
  if (phase_ == Phase::kStopping) {
    worker.stop();
    maybe_stopped();
    return;
  }
  if (promote_successor(index)) return;
  if (auto reason = recycle_due(slot, worker, /*periodic=*/false)) start_successor(index, std::move(*reason));
  worker_idle(worker);
}

void Pool::on_worker_heartbeat_missed(Worker& worker, int missed) {
  counters_.heartbeat_missed();
  logger_->warn("worker {} (pid {}) missed heartbeat {} of {}", worker.id(), worker.pid(), missed,
                options_.heartbeat.max_missed);
  if (!events_.active()) return;
  Event event = worker_event(EventType::kHeartbeatMissed, worker);
  event.missed = missed;
  events_.emit(event);
}

void Pool::on_worker_call(Worker& worker, std::uint64_t call_id, Json call) {
  const RequestPtr& request = slots_[worker.slot()]->running;
  const std::string_view session = request ? std::string_view(request->session_id) : std::string_view{};
  HostCalls::Plan plan = host_calls_.plan(session, std::move(call));
  if (!plan.function) {
    worker.send_reply(call_id, std::move(plan.answer));
    return;
  }
  run_host_function(worker, call_id, std::move(plan));
}

void Pool::run_host_function(Worker& worker, std::uint64_t call_id, HostCalls::Plan plan) {
  if (!worker.begin_call(options_.max_calls_in_flight)) {
    worker.send_reply(call_id, resource_exhausted(fmt::format("worker {} has {} host calls in flight already",
                                                              worker.id(), options_.max_calls_in_flight),
                                                  Json{{"reason", "too_many_calls"}}));
    return;
  }
  const RequestPtr& request = slots_[worker.slot()]->running;
  CallContext context;
  context.function = plan.function->name;
  context.worker_id = worker.id();
  context.request_id = worker.current_request().value_or(0);
  if (request) {
    context.session_id = request->session_id;
    context.command = request->command;
  }
  boost::asio::post(offload_, [&io = io_, worker = worker.shared_from_this(), call_id,
                               function = std::move(plan.function), args = std::move(plan.args),
                               context = std::move(context)]() mutable {
    auto run = [&]() -> Result<Json> {
      const Json threw = {{"reason", "host_function_threw"}};
      try {
        return function->body(std::move(args), context);
      } catch (const std::exception& e) {
        return internal_error(fmt::format("host function '{}' threw: {}", function->name, e.what()), threw);
      } catch (...) {
        return internal_error(fmt::format("host function '{}' threw", function->name), threw);
      }
    };
    boost::asio::post(io, [worker = std::move(worker), call_id, request_id = context.request_id,
                           result = run()]() mutable {
      worker->end_call();
      // The request it was made for may be over (the worker killed): then nobody waits.
      if (worker->current_request() == request_id) worker->send_reply(call_id, std::move(result));
    });
  });
}

// Requests pinned to this worker first, then the shared queue.
void Pool::worker_idle(Worker& worker) {
  if (phase_ != Phase::kRunning && phase_ != Phase::kStarting) return;
  for (auto* queue : {&slots_[worker.slot()]->pinned, &queue_}) {
    while (auto next = queue->pop_front()) {
      --queued_;
      RequestPtr request = std::move(*next);
      request->queue_position.reset();
      if (request->finished) continue;
      if (run(worker, std::move(request))) return;
    }
  }
  push_idle(worker);
}

void Pool::push_idle(Worker& worker) {
  slots_[worker.slot()]->idle_index = idle_.size();
  idle_.push_back(&worker);
}

Worker* Pool::pop_idle() {
  if (idle_.empty()) return nullptr;
  Worker* worker = idle_.back();
  idle_.pop_back();
  slots_[worker->slot()]->idle_index = kNotIdle;
  return worker;
}

bool Pool::take_idle(Worker& worker) {
  std::size_t& index = slots_[worker.slot()]->idle_index;
  if (index == kNotIdle || idle_[index] != &worker) return false;
  Worker* last = idle_.back();
  idle_[index] = last;
  slots_[last->slot()]->idle_index = index;
  idle_.pop_back();
  index = kNotIdle;
  return true;
}

void Pool::clear_idle() {
  while (pop_idle() != nullptr) {
  }
}

void Pool::finish(const RequestPtr& request, Result<Json> result) {
  if (request->finished) return;
  request->finished = true;
  request->timer.cancel();
  if (request->gap_timer) request->gap_timer->cancel();
  counters_.request_finished(result.status());
  emit_request(EventType::kRequestFinished, *request, {}, result.status().code());
  auto done = std::move(request->done);
  try {
    done(std::move(result), request.get());
  } catch (const std::exception& e) {
    logger_->error("a request callback threw (callbacks must not throw): {}", e.what());
  } catch (...) {
    logger_->error("a request callback threw (callbacks must not throw)");
  }
}

void Pool::on_worker_exit(Worker& worker, const Status& cause) {
  const int index = worker.slot();
  Slot& slot = *slots_[index];
  const std::string reason = reason_of(cause);
  if (registry_ != nullptr) registry_->remove_worker(worker.pid());
  if (worker.killed_by_host()) emit_worker(EventType::kWorkerKilled, worker, reason, &cause.details());
  emit_worker(EventType::kWorkerExited, worker, reason, &cause.details());
  if (slot.successor.get() == &worker) {  // the replacement died before taking over
    logger_->warn("{}", cause.message());
    auto self = std::move(slot.successor);
    if (phase_ == Phase::kRunning && !slot.worker) schedule_restart(index, cause);
    maybe_stopped();
    return;
  }
  if (auto it = std::find_if(retired_.begin(), retired_.end(), [&](const auto& w) { return w.get() == &worker; });
      it != retired_.end()) {
    auto self = std::move(*it);
    retired_.erase(it);
    maybe_stopped();
    return;
  }
  if (slot.worker.get() != &worker) return;
  take_idle(worker);
  live_.erase(worker.id());
  auto self = std::move(slot.worker);  // keeps `worker` alive through this function
  slot.last_exit = cause.message();
  fail_pinned(slot);
  if (RequestPtr request = std::move(slot.running); request && !request->finished) {
    // A stream is never retried: its consumer has seen chunks already.
    const bool retry = request->idempotent && !request->stream && request->attempts < 2 &&
                       phase_ == Phase::kRunning && Clock::now() < request->deadline;
    if (retry) {
      counters_.retried();
      request->worker_slot = -1;
      request->pinned_slot = -1;
      request->queue_position = queue_.push_front(request);
      queue_peak_ = std::max(queue_peak_, ++queued_);
    } else {
      finish(request, Status(Code::kUnavailable,
                             fmt::format("request {} ('{}') lost its worker: {}", request->id, request->command,
                                         cause.message()),
                             cause.details()));
    }
  }
  switch (phase_) {
    case Phase::kStarting:
      fail_start(Status(cause.code() == Code::kDeadlineExceeded ? cause.code() : Code::kUnavailable,
                        fmt::format("worker {} failed to start: {}", worker.id(), cause.message()), cause.details()));
      return;
    case Phase::kRunning:
      logger_->warn("{}", cause.message());
      // A successor started for recycling takes over (now, or once ready).
      if (slot.successor) {
        promote_successor(index);
      } else {
        schedule_restart(index, cause);
      }
      // A retried request may be first in line while other workers are idle.
      if (!queue_.empty()) {
        if (Worker* idle = pop_idle()) worker_idle(*idle);
      }
      return;
    default:
      maybe_stopped();
      return;
  }
}

void Pool::schedule_restart(int index, const Status& cause) {
  Slot& slot = *slots_[index];
  const auto delay = slot.tracker.on_crash(Clock::now());
  const std::string reason = reason_of(cause);  // outlives the event's view of it
  if (events_.active()) {
    Event event;
    event.type = delay ? EventType::kWorkerRestartScheduled : EventType::kSlotFailed;
    event.pool = options_.name;
    event.slot = index;
    event.reason = reason;
    event.delay = delay.value_or(Millis(0));
    events_.emit(event);
  }
  if (!delay) {
    slot.failed = true;
    logger_->error("pool {} slot {} crashed more than {} times in {} ms; giving up on it", options_.name, index,
                   options_.restart.max_restarts, options_.restart.window.count());
    if (!any_slot_alive()) {
      fail_queue(unavailable(fmt::format("pool {} has no workers: every slot failed", options_.name),
                             Json{{"reason", "no_workers"}}));
    }
    check_ready_waiters();
    return;
  }
  ++slot.restarts;
  counters_.restarted(reason);
  slot.restart_timer.expires_after(*delay);
  slot.restart_timer.async_wait([this, index](boost::system::error_code ec) {
    if (!ec && phase_ == Phase::kRunning) spawn(index);
  });
}

template <typename Fn>
void Pool::drain(DispatchQueue<RequestPtr>& queue, Fn&& fail) {
  while (auto next = queue.pop_front()) {
    --queued_;
    (*next)->queue_position.reset();
    fail(*next);
  }
}

void Pool::fail_queue(const Status& status) {
  auto fail = [&](const RequestPtr& request) { finish(request, status); };
  drain(queue_, fail);
  for (auto& slot : slots_) drain(slot->pinned, fail);
}

// Requests waiting for a worker that is gone: its in-memory state is lost.
void Pool::fail_pinned(Slot& slot) {
  drain(slot.pinned, [&](const RequestPtr& request) {
    counters_.affinity_worker_lost();
    finish(request, session_worker_lost(*request));
  });
}

void Pool::shutdown(Millis grace, std::function<void()> done) {
  if (phase_ == Phase::kStopped) {
    done();
    return;
  }
  stopped_callbacks_.push_back(std::move(done));
  if (phase_ == Phase::kStopping) return;
  const bool was_starting = phase_ == Phase::kStarting;
  phase_ = Phase::kStopping;
  if (was_starting) {
    start_error_ = unavailable("pool was shut down during start-up", Json{{"reason", "pool_stopping"}});
  }
  fail_queue(unavailable(fmt::format("pool {} is shutting down", options_.name), Json{{"reason", "pool_stopping"}}));
  clear_idle();
  maintenance_timer_.cancel();
  for (auto& slot : slots_) {
    slot->restart_timer.cancel();
    if (slot->worker && (!slot->running || slot->running->finished)) slot->worker->stop();
    if (slot->successor) slot->successor->stop();
  }
  // Running requests get `grace` to finish; then they fail and their workers stop.
  grace_timer_.expires_after(grace);
  grace_timer_.async_wait([this](boost::system::error_code ec) {
    if (ec) return;
    for (auto& slot : slots_) {
      if (slot->running) {
        // Left in `running` so the worker's late answer still matches it.
        const RequestPtr& request = slot->running;
        finish(request, unavailable(fmt::format("pool {} shut down before request {} finished", options_.name,
                                                request->id),
                                    Json{{"reason", "pool_stopping"}}));
      }
      if (slot->worker) slot->worker->stop();
    }
  });
  maybe_stopped();
}

void Pool::maybe_stopped() {
  if (phase_ != Phase::kStopping || pending_spawns_ > 0 || !retired_.empty()) return;
  for (const auto& slot : slots_) {
    if (slot->worker || slot->successor) return;
  }
  phase_ = Phase::kStopped;
  grace_timer_.cancel();
  for (auto& waiter : ready_waiters_) waiter.timer->cancel();
  if (auto done = std::move(start_done_)) done(start_error_.ok() ? unavailable("pool stopped") : start_error_);
  for (auto& callback : std::exchange(stopped_callbacks_, {})) callback();
}

bool Pool::any_slot_alive() const {
  return std::any_of(slots_.begin(), slots_.end(), [](const auto& slot) { return !slot->failed; });
}

bool Pool::all_ready() const {
  return std::all_of(slots_.begin(), slots_.end(), [](const auto& slot) {
    if (slot->failed) return true;
    if (!slot->worker) return false;
    const auto state = slot->worker->state();
    return state == WorkerState::kReady || state == WorkerState::kBusy;
  });
}

void Pool::await_ready(Clock::time_point deadline, std::function<void(Status)> done) {
  if (phase_ == Phase::kRunning && all_ready()) {
    done(any_slot_alive() ? Status{} : unavailable("every slot failed", Json{{"reason", "no_workers"}}));
    return;
  }
  auto timer = std::make_shared<boost::asio::steady_timer>(io_, deadline);
  ready_waiters_.push_back({timer, std::move(done)});
  timer->async_wait([this, raw = timer.get()](boost::system::error_code) {
    auto it = std::find_if(ready_waiters_.begin(), ready_waiters_.end(),
                           [raw](const ReadyWaiter& w) { return w.timer.get() == raw; });
    if (it == ready_waiters_.end()) return;
    auto callback = std::move(it->done);
    ready_waiters_.erase(it);
    callback(phase_ == Phase::kStopped ? unavailable("pool stopped")
                                       : deadline_exceeded("workers not ready in time", Json{{"reason", "deadline"}}));
  });
}

void Pool::check_ready_waiters() {
  if (ready_waiters_.empty() || phase_ != Phase::kRunning || !all_ready()) return;
  const Status status = any_slot_alive() ? Status{} : unavailable("every slot failed", Json{{"reason", "no_workers"}});
  for (auto& waiter : std::exchange(ready_waiters_, {})) {
    waiter.timer->cancel();
    waiter.done(status);
  }
}

std::optional<std::string> Pool::recycle_due(const Slot& slot, const Worker& worker, bool periodic) const {
  const RecyclePolicy& policy = options_.recycle;
  if (slot.successor) return std::nullopt;  // already being replaced
  const auto now = Clock::now();
  if (slot.request_limit > 0 && worker.requests_served() >= slot.request_limit) return "max_requests";
  if (policy.max_lifetime.count() > 0 && now - worker.started_at() >= policy.max_lifetime) return "max_lifetime";
  if (periodic && policy.max_idle.count() > 0 && worker.state() == WorkerState::kReady &&
      now - worker.idle_since() >= policy.max_idle) {
    return "max_idle";
  }
  if (policy.max_rss_bytes > 0) {
    const auto rss = process_tree_rss_bytes(worker.pid());
    if (rss && *rss > policy.max_rss_bytes) return "max_rss";
  }
  return std::nullopt;
}

void Pool::start_successor(int index, std::string reason) {
  Slot& slot = *slots_[index];
  if (phase_ != Phase::kRunning || slot.successor) return;
  logger_->info("worker {} is due for recycling ({}); starting its replacement", slot.worker->id(), reason);
  slot.recycle_reason = std::move(reason);
  spawn(index, /*successor=*/true);
}

bool Pool::promote_successor(int index) {
  Slot& slot = *slots_[index];
  if (!slot.successor || slot.successor->state() != WorkerState::kReady) return false;
  // Busy or being stopped: it finishes first (its response or exit comes back here).
  if (slot.worker && slot.worker->state() != WorkerState::kReady) return false;
  auto retiring = std::exchange(slot.worker, std::move(slot.successor));
  slot.request_limit = draw_request_limit();
  Worker& worker = *slot.worker;
  emit_worker(EventType::kWorkerReady, worker);  // before the retirement: capacity never dips
  if (retiring) retire(std::move(retiring), slot.recycle_reason);
  live_[worker.id()] = &worker;
  worker_idle(worker);
  return true;
}

void Pool::retire(std::shared_ptr<Worker> worker, const std::string& reason) {
  take_idle(*worker);
  live_.erase(worker->id());
  counters_.recycled(reason);
  emit_worker(EventType::kWorkerRecycled, *worker, reason);
  logger_->info("worker {} (pid {}) recycled ({}) after {} requests", worker->id(), worker->pid(), reason,
                worker->requests_served());
  worker->stop();
  retired_.push_back(std::move(worker));
}

std::uint64_t Pool::draw_request_limit() {
  const RecyclePolicy& policy = options_.recycle;
  if (policy.max_requests == 0) return 0;
  std::uniform_real_distribution<double> spread(1.0 - policy.max_requests_jitter, 1.0 + policy.max_requests_jitter);
  const double limit = static_cast<double>(policy.max_requests) * spread(rng_);
  return std::max<std::uint64_t>(1, static_cast<std::uint64_t>(limit));
}

void Pool::schedule_maintenance() {
  maintenance_timer_.expires_after(options_.recycle.check_interval);
  maintenance_timer_.async_wait([this](boost::system::error_code ec) {
    if (ec || phase_ != Phase::kRunning) return;
    maintain();
    schedule_maintenance();
  });
}

void Pool::maintain() {
  const auto now = Clock::now();
  for (std::size_t i = 0; i < slots_.size(); ++i) {
    Slot& slot = *slots_[i];
    const int index = static_cast<int>(i);
    if (slot.failed) {
      // Reconcile: the pool returns to its size once the crashes age out.
      if (slot.tracker.may_retry(now)) {
        logger_->info("pool {} slot {}: its crashes left the restart window; starting it again", options_.name, i);
        slot.failed = false;
        spawn(index);
      }
      continue;
    }
    if (!slot.worker) continue;
    const auto state = slot.worker->state();
    if (state != WorkerState::kReady && state != WorkerState::kBusy) continue;
    if (auto reason = recycle_due(slot, *slot.worker, /*periodic=*/true)) start_successor(index, std::move(*reason));
  }
}

Event Pool::worker_event(EventType type, const Worker& worker) const {
  Event event;
  event.type = type;
  event.pool = options_.name;
  event.worker_id = worker.id();
  event.pid = worker.pid();
  event.slot = worker.slot();
  return event;
}

void Pool::emit_worker(EventType type, const Worker& worker, std::string_view reason, const Json* details) {
  if (!events_.active()) return;
  Event event = worker_event(type, worker);
  event.reason = reason;
  event.details = details;
  events_.emit(event);
}

void Pool::emit_request(EventType type, const Request& request, std::string_view reason, Code code) {
  if (!events_.active()) return;
  Event event;
  event.type = type;
  event.code = code;
  event.pool = options_.name;
  event.request_id = request.id;
  event.command = request.command;
  event.session_id = request.session_id;
  event.reason = reason;
  const auto now = Clock::now();
  const bool started = request.started_at != Clock::time_point{};
  event.queue_wait = micros_between(request.submitted_at, started ? request.started_at : now);
  if (started) event.run_time = micros_between(request.started_at, now);
  if (request.worker_slot >= 0 && slots_[request.worker_slot]->worker) {
    const Worker& worker = *slots_[request.worker_slot]->worker;
    event.worker_id = worker.id();
    event.pid = worker.pid();
    event.slot = worker.slot();
  }
  events_.emit(event);
}

PoolStats Pool::stats() const {
  PoolStats stats;
  stats.pool = options_.name;
  stats.size = slots_.size();
  counters_.fill(stats);
  stats.queue_depth = queued_;
  stats.queue_peak = queue_peak_;
  for (std::size_t i = 0; i < slots_.size(); ++i) {
    const Slot& slot = *slots_[i];
    WorkerInfo info;
    info.slot = first_slot_ + static_cast<int>(i);
    info.restarts = slot.restarts;
    info.last_exit = slot.last_exit;
    if (slot.failed) {
      info.state = WorkerState::kFailed;
      ++stats.failed_slots;
    } else if (!slot.worker) {
      info.state = WorkerState::kExited;
    } else {
      info.id = slot.worker->id();
      info.pid = slot.worker->pid();
      info.state = slot.worker->state();
      info.requests = slot.worker->requests_served();
    }
    switch (info.state) {
      case WorkerState::kReady: ++stats.ready; break;
      case WorkerState::kBusy: ++stats.busy; break;
      case WorkerState::kStarting: ++stats.starting; break;
      default: break;
    }
    stats.workers.push_back(std::move(info));
  }
  return stats;
}

}  // namespace snakepit::internal
