// The facade: owns the event-loop thread, the launcher, the pool and the
// session store, and turns thread-safe public calls into work posted to the loop.
#include "snakepit/snakepit.h"

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/thread_pool.hpp>
#include <algorithm>
#include <optional>
#include <thread>

#include <fmt/format.h>
#include <spdlog/logger.h>

#include "base/log.h"
#include "calls/function_registry.h"
#include "pool/pool.h"
#include "pool/stream_channel.h"
#include "process/launcher.h"
#include "process/run_registry.h"
#include "process/sigpipe.h"
#include "process/spawn.h"
#include "snakepit/options_validation.h"

namespace snakepit {

namespace asio = boost::asio;
using internal::Pool;
using internal::Request;
using internal::RequestPtr;

namespace internal {

// The door into the loop for anything that may outlive the Snakepit's
// pool (request handles): it knows whether the loop still takes work.
class LoopGate {
 public:
  LoopGate(asio::io_context& io, std::function<void(const RequestPtr&, Status)> cancel)
      : io_(io), cancel_(std::move(cancel)) {}

  // Posts `fn` unless shutdown has begun. Requests posted here always reach
  // the pool before its shutdown does (both go through the loop's FIFO), so
  // the pool handles every one of them.
  template <typename Fn>
  bool post_if_open(Fn&& fn) {
    std::lock_guard lock(mutex_);
    if (closed_) return false;
    asio::post(io_, std::forward<Fn>(fn));
    return true;
  }
  // Posts `fn` while the loop runs (through a shutdown's drain, too).
  template <typename Fn>
  bool post_if_running(Fn&& fn) {
    std::lock_guard lock(mutex_);
    if (!loop_running_) return false;
    asio::post(io_, std::forward<Fn>(fn));
    return true;
  }
  // True for the first caller only.
  bool close() {
    std::lock_guard lock(mutex_);
    return !std::exchange(closed_, true);
  }
  void loop_ended() {
    std::lock_guard lock(mutex_);
    loop_running_ = false;
  }
  void cancel(std::weak_ptr<void> request, Status why) {
    post_if_running([this, request = std::move(request), why = std::move(why)]() mutable {
      if (auto r = request.lock()) cancel_(std::static_pointer_cast<Request>(r), std::move(why));
    });
  }

 private:
  asio::io_context& io_;
  const std::function<void(const RequestPtr&, Status)> cancel_;  // on the loop
  std::mutex mutex_;
  bool closed_ = false;       // GUARDED_BY(mutex_): no new requests
  bool loop_running_ = true;  // GUARDED_BY(mutex_): the loop still takes work
};

}  // namespace internal

namespace {

Status stopped_by_consumer() {
  return cancelled("the stream's consumer stopped it", Json{{"reason", "stopped_by_consumer"}});
}

// Delivers a stream's items to its ChunkHandler; after kStop or an
// exception, later chunks are dropped and the request is cancelled.
struct StreamConsumer {
  ChunkHandler on_chunk;
  RequestHandle request;
  bool stopped = false;
  std::exception_ptr error;

  void deliver(internal::StreamChannel& channel, Json chunk) {
    if (stopped) return;
    StreamControl control = StreamControl::kStop;
    try {
      control = on_chunk(std::move(chunk));
    } catch (...) {
      error = std::current_exception();
    }
    if (control == StreamControl::kContinue) return;
    stopped = true;
    channel.discard_chunks();
    request.cancel(stopped_by_consumer());
  }
};

}  // namespace

void RequestHandle::cancel() const {
  cancel(cancelled("request cancelled by its caller", Json{{"reason", "cancelled"}}));
}

void RequestHandle::cancel(Status why) const {
  if (gate_) gate_->cancel(request_, std::move(why));
}

StreamHandle& StreamHandle::operator=(StreamHandle&& other) noexcept {
  if (this != &other) {
    request_.cancel();
    request_ = std::exchange(other.request_, {});
  }
  return *this;
}

StreamHandle::~StreamHandle() { request_.cancel(); }

struct Snakepit::Impl {
  explicit Impl(Options opts)
      : options(std::move(opts)),
        logger(options.logger ? options.logger : internal::make_default_logger()),
        events(logger),
        work(asio::make_work_guard(io)),
        gate(std::make_shared<internal::LoopGate>(
            io, [this](const RequestPtr& request, Status why) {
              pools[request->pool_index].pool->cancel(request, std::move(why));
            })) {
    if (options.on_event) events.subscribe(options.on_event);
  }

  ~Impl() {
    // Normally shut down already; this covers a failed start.
    work.reset();
    io.stop();
    join_loop();
  }

  void start_loop() {
    loop_thread = std::thread([this] {
      internal::block_sigpipe_in_this_thread();
      io.run();
    });
    loop_thread_id = loop_thread.get_id();
  }

  bool on_loop_thread() const { return std::this_thread::get_id() == loop_thread_id; }

  // Which pool runs a request, after the checks its adapter asks for:
  // errors here reach the caller without a trip to the loop.
  Result<std::size_t> route(const std::string& pool_name, const std::string& command, const Json& args) const {
    auto index = find_pool(pool_name);
    if (!index.ok()) return index.status();
    const PoolEntry& entry = pools[*index];
    if (!entry.start_error.ok()) {
      return unavailable(fmt::format("pool {} failed to start: {}", entry.name(), entry.start_error.message()),
                         Json{{"reason", "pool_failed"}, {"pool", entry.name()},
                              {"start_error", entry.start_error.to_json()}});
    }
    if (const auto& validate = entry.options->adapter.validate_args) {
      Status verdict;
      try {
        verdict = validate(command, args);
      } catch (const std::exception& e) {
        verdict = internal_error(fmt::format("the argument check of pool {} threw: {}", entry.name(), e.what()),
                                 Json{{"reason", "validator_threw"}});
      }
      if (!verdict.ok()) return verdict;
    }
    return *index;
  }

  Result<std::size_t> find_pool(const std::string& pool_name) const {
    if (pool_name.empty()) return default_pool;
    auto found = std::find_if(pools.begin(), pools.end(), [&](const PoolEntry& e) { return e.name() == pool_name; });
    if (found != pools.end()) return static_cast<std::size_t>(found - pools.begin());
    Json names = Json::array();
    for (const auto& entry : pools) names.push_back(entry.name());
    return not_found(fmt::format("no pool named {}", pool_name.substr(0, 64)),
                     Json{{"reason", "unknown_pool"}, {"pool", pool_name.substr(0, 64)}, {"pools", names}});
  }

  // `session` empty: a plain request; `stream` null: not streamed.
  // `handle`, when given, is set before the request can run.
  RequestHandle submit(std::string session, std::string command, Json args, internal::RequestCallback done,
                       const ExecuteOptions& opts, std::shared_ptr<internal::StreamChannel> stream = nullptr,
                       RequestHandle* handle_out = nullptr) {
    auto target = route(opts.pool, command, args);
    if (!target.ok()) {
      done(target.status(), nullptr);
      return {};
    }
    const PoolEntry& entry = pools[*target];
    const auto& timeouts = entry.options->adapter.command_timeouts;
    const auto command_timeout = timeouts.find(command);
    const auto now = std::chrono::steady_clock::now();
    auto deadline = now + opts.timeout.value_or(command_timeout != timeouts.end() ? command_timeout->second
                                                                                  : entry.options->request_timeout);
    if (opts.deadline && *opts.deadline < deadline) deadline = *opts.deadline;
    auto r = std::make_shared<Request>(io);
    r->pool_index = *target;
    r->command = std::move(command);
    r->args = std::move(args);
    r->idempotent = opts.idempotent;
    r->deadline = deadline;
    r->done = internal::OnceCallback(std::move(done));
    r->session_id = std::move(session);
    r->affinity = opts.affinity;
    r->stream = std::move(stream);
    r->chunk_timeout = opts.chunk_timeout.value_or(std::chrono::milliseconds(0));
    RequestHandle handle(r, gate);
    if (handle_out != nullptr) *handle_out = handle;
    // When closed, the request is dropped unrun and its OnceCallback reports Unavailable.
    gate->post_if_open([pool = entry.pool.get(), r = std::move(r)]() mutable {
      r->id = pool->next_request_id();
      pool->submit(std::move(r));
    });
    return handle;
  }

  // The stream window of the pool a request will run on (an unknown pool
  // fails the request before any chunk).
  std::size_t stream_window(const ExecuteOptions& opts) const {
    auto index = find_pool(opts.pool);
    return pools[index.ok() ? *index : default_pool].options->stream_window;
  }

  // A stream consumed on the calling thread.
  Result<Json> stream(std::string session, std::string command, Json args, const ChunkHandler& on_chunk,
                      const ExecuteOptions& opts) {
    auto channel = std::make_shared<internal::StreamChannel>(stream_window(opts), nullptr);
    StreamConsumer consumer{on_chunk, {}, false, nullptr};
    submit(
        std::move(session), std::move(command), std::move(args),
        [channel](Result<Json> result, const Request*) { channel->finish(std::move(result)); }, opts, channel,
        &consumer.request);
    while (true) {
      auto item = channel->pop();
      if (item.final) {
        if (consumer.error) std::rethrow_exception(consumer.error);
        return std::move(*item.final);
      }
      consumer.deliver(*channel, std::move(*item.chunk));
    }
  }

  // Every pool's stats, in the order of Options::pools.
  std::vector<PoolStats> all_stats() {
    std::vector<PoolStats> all;
    if (auto live = on_loop([this] { return collect_stats(); })) {
      all = std::move(*live);
    } else {
      std::lock_guard lock(mutex);
      all = final_stats;
    }
    const SessionStoreStats session_stats = sessions->stats();
    for (auto& stats : all) stats.sessions = session_stats;
    return all;
  }

  // On the loop.
  std::vector<PoolStats> collect_stats() const {
    std::vector<PoolStats> all;
    for (const auto& entry : pools) {
      PoolStats stats;
      if (entry.pool) {
        stats = entry.pool->stats();
      } else {
        stats.pool = entry.name();
        stats.size = entry.options->size;
      }
      if (!entry.start_error.ok()) stats.start_error = entry.start_error.message();
      all.push_back(std::move(stats));
    }
    return all;
  }

  // Kills what hosts that died left behind, then records this run.
  Status open_registry() {
    const std::string data_dir = options.data_dir.empty() ? internal::default_data_dir() : options.data_dir;
    if (auto swept = internal::sweep_orphans(data_dir); !swept.ok()) {
      logger->warn("orphan sweep of {} failed: {}", data_dir, swept.status());
    } else if (swept->processes_killed > 0 || swept->records_invalid > 0) {
      logger->warn("orphan sweep of {}: {}", data_dir, swept->to_json().dump());
    }
    auto opened = internal::RunRegistry::open(data_dir, options.default_pool);
    if (!opened.ok()) {
      const Status& error = opened.status();
      return Status(error.code(), fmt::format("run registry ({}): {}", data_dir, error.message()), error.details());
    }
    registry = std::move(*opened);
    return {};
  }

  // Drops expired sessions a little at a time, on the loop.
  void sweep_sessions() {
    sweep_timer.expires_after(options.sessions.sweep_interval);
    sweep_timer.async_wait([this](boost::system::error_code ec) {
      if (ec) return;
      sessions->sweep(options.sessions.sweep_budget);
      sweep_sessions();
    });
  }

  // The first call stops the pool; concurrent and later calls wait for it.
  void shutdown(std::chrono::milliseconds grace) {
    if (gate->close()) {
      asio::post(io, [this, grace] {
        sweep_timer.cancel();
        // Every pool stops at once; the last one to finish ends the loop.
        auto remaining = std::make_shared<std::size_t>(pools.size());
        for (auto& entry : pools) {
          auto stopped_one = [this, remaining] {
            if (--*remaining == 0) finish_stop();
          };
          if (entry.pool) {
            entry.pool->shutdown(grace, stopped_one);
          } else {
            stopped_one();
          }
        }
      });
    }
    if (on_loop_thread()) return;  // from a callback: completes once the callback returns
    stopped.wait();
    join_loop();
  }

  // Then the callback threads finish what they have (stream deliveries, host
  // functions), unless we are one of them (shutdown() from an on_done):
  // their pool joins when the Snakepit is destroyed.
  void join_loop() {
    std::call_once(joined, [this] {
      if (loop_thread.joinable()) loop_thread.join();
      if (!callbacks.get_executor().running_in_this_thread()) callbacks.join();
    });
  }

  // On the loop, once the pool is down: keep the last stats, then let the
  // loop run what was posted before this point (FIFO) and end.
  void finish_stop() {
    registry->close();  // every worker is gone
    std::vector<PoolStats> last = collect_stats();
    {
      std::lock_guard lock(mutex);
      final_stats = std::move(last);
    }
    gate->loop_ended();
    work.reset();
    asio::post(io, [this] {
      io.stop();
      stopped_promise.set_value();
    });
  }

  // Runs `fn` on the loop and returns its result; nullopt once the loop stopped.
  template <typename Fn>
  auto on_loop(Fn fn) -> std::optional<decltype(fn())> {
    if (on_loop_thread()) return fn();
    std::promise<decltype(fn())> promise;
    if (!gate->post_if_running([&] { promise.set_value(fn()); })) return std::nullopt;
    return promise.get_future().get();
  }

  Options options;
  internal::LoggerPtr logger;
  internal::EventBus events;
  asio::io_context io{1};
  asio::executor_work_guard<asio::io_context::executor_type> work;
  std::thread loop_thread;
  std::thread::id loop_thread_id;
  std::shared_ptr<internal::LoopGate> gate;
  internal::Launcher launcher;
  std::shared_ptr<SessionStore> sessions;
  std::shared_ptr<internal::FunctionRegistry> functions = std::make_shared<internal::FunctionRegistry>();
  std::unique_ptr<internal::RunRegistry> registry;  // outlives the pools
  // One per Options::pools, in order; fixed once start() returned.
  struct PoolEntry {
    const PoolOptions* options;  // in Impl::options
    std::unique_ptr<Pool> pool;  // null: never built (its executable was not found)
    Status start_error;          // set before start() returns, read-only after
    const std::string& name() const { return options->name; }
  };
  std::vector<PoolEntry> pools;
  std::size_t default_pool = 0;
  asio::steady_timer sweep_timer{io};
  // Stream deliveries of the async API and host functions: off the loop.
  asio::thread_pool callbacks{2};
  std::mutex mutex;
  std::vector<PoolStats> final_stats;  // GUARDED_BY(mutex): what stats() returns after shutdown
  std::promise<void> stopped_promise;
  std::shared_future<void> stopped = stopped_promise.get_future().share();
  std::once_flag joined;
};

Result<Snakepit> Snakepit::start(Options options) {
  if (auto status = internal::normalize_options(options); !status.ok()) return status;
  std::shared_ptr<SessionStore> sessions = options.sessions.store;
  if (!sessions) {
    MemorySessionStoreOptions store_options;
    store_options.limits = options.sessions.limits;
    auto store = make_memory_session_store(std::move(store_options));
    if (!store.ok()) return store.status();
    sessions = std::move(*store);
  }

  auto impl = std::make_unique<Impl>(std::move(options));
  impl->sessions = std::move(sessions);
  if (auto status = impl->open_registry(); !status.ok()) return status;
  for (auto& pool_options : impl->options.pools) {
    Impl::PoolEntry entry{&pool_options, nullptr, {}};
    if (pool_options.name == impl->options.default_pool) impl->default_pool = impl->pools.size();
    if (auto resolved = internal::resolve_executable(pool_options.adapter.executable); resolved.ok()) {
      pool_options.adapter.executable = *resolved;
      entry.pool = std::make_unique<Pool>(impl->io, pool_options, impl->logger, impl->launcher, impl->sessions,
                                          impl->events, impl->registry.get(), impl->functions, impl->callbacks);
    } else {
      const Status& error = resolved.status();
      entry.start_error =
          Status(error.code(), fmt::format("pool {}: {}", pool_options.name, error.message()), error.details());
    }
    impl->pools.push_back(std::move(entry));
  }
  impl->start_loop();
  // Every pool starts at once; start() returns when all have finished.
  std::promise<void> started;
  asio::post(impl->io, [&] {
    auto remaining = std::make_shared<std::size_t>(impl->pools.size());
    for (auto& entry : impl->pools) {
      auto finished = [&, remaining, entry = &entry](Status status) {
        if (!status.ok()) {
          entry->start_error = std::move(status);
          if (impl->pools.size() > 1) impl->logger->error("{}; the other pools serve on", entry->start_error);
        }
        if (--*remaining == 0) started.set_value();
      };
      if (entry.pool) {
        entry.pool->start(finished);
      } else {
        finished(entry.start_error);
      }
    }
    impl->sweep_sessions();
  });
  started.get_future().wait();
  const bool any_started = std::any_of(impl->pools.begin(), impl->pools.end(),
                                       [](const Impl::PoolEntry& entry) { return entry.start_error.ok(); });
  if (!any_started) {
    Status first = impl->pools.front().start_error;
    impl->shutdown(std::chrono::milliseconds(0));
    return first;
  }
  return Snakepit(std::move(impl));
}

Snakepit::Snakepit(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Snakepit::Snakepit(Snakepit&&) noexcept = default;
Snakepit& Snakepit::operator=(Snakepit&& other) noexcept {
  if (this != &other) {
    if (impl_) impl_->shutdown(std::chrono::milliseconds(5000));
    impl_ = std::move(other.impl_);
  }
  return *this;
}
Snakepit::~Snakepit() {
  if (impl_) impl_->shutdown(std::chrono::milliseconds(5000));
}

namespace {
Status moved_from() { return failed_precondition("this Snakepit was moved from"); }
}  // namespace

Result<Json> Snakepit::execute(const std::string& command, Json args, const ExecuteOptions& options) {
  if (!impl_) return moved_from();
  if (impl_->on_loop_thread()) {
    return failed_precondition("execute() called on the loop thread (from a callback); use execute_async()");
  }
  return execute_future(command, std::move(args), options).get();
}

RequestHandle Snakepit::execute_async(std::string command, Json args, ExecuteCallback done,
                                     const ExecuteOptions& options) {
  if (!impl_) {
    done(moved_from());
    return {};
  }
  return impl_->submit({}, std::move(command), std::move(args),
                       [done = std::move(done)](Result<Json> result, const Request*) { done(std::move(result)); },
                       options);
}

std::future<Result<Json>> Snakepit::execute_future(std::string command, Json args, const ExecuteOptions& options) {
  auto promise = std::make_shared<std::promise<Result<Json>>>();
  auto future = promise->get_future();
  execute_async(std::move(command), std::move(args),
                [promise](Result<Json> result) { promise->set_value(std::move(result)); }, options);
  return future;
}

Result<SessionReply> Snakepit::execute_in_session(const std::string& session_id, const std::string& command,
                                                  Json args, const ExecuteOptions& options) {
  if (!impl_) return moved_from();
  if (impl_->on_loop_thread()) {
    return failed_precondition(
        "execute_in_session() called on the loop thread (from a callback); use execute_in_session_async()");
  }
  return execute_in_session_future(session_id, command, std::move(args), options).get();
}

RequestHandle Snakepit::execute_in_session_async(std::string session_id, std::string command, Json args,
                                                 SessionCallback done, const ExecuteOptions& options) {
  if (!impl_) {
    done(moved_from());
    return {};
  }
  if (session_id.empty()) {  // empty means "no session" inside the pool: refuse it here
    done(validate_session_id(session_id));
    return {};
  }
  auto reply = [done = std::move(done)](Result<Json> result, const Request* request) {
    if (!result.ok()) {
      done(result.status());
      return;
    }
    SessionReply out;
    out.value = std::move(*result);
    if (request != nullptr) {
      out.worker_id = request->worker_id;
      out.worker_pid = request->worker_pid;
      out.session_created = request->session_created;
      out.previous_worker_id = request->previous_worker;
    }
    done(std::move(out));
  };
  return impl_->submit(std::move(session_id), std::move(command), std::move(args), std::move(reply), options);
}

Result<Json> Snakepit::execute_stream(const std::string& command, Json args, const ChunkHandler& on_chunk,
                                      const ExecuteOptions& options) {
  if (!impl_) return moved_from();
  if (impl_->on_loop_thread()) return failed_precondition("execute_stream() called on the loop thread");
  return impl_->stream({}, command, std::move(args), on_chunk, options);
}

Result<Json> Snakepit::execute_stream_in_session(const std::string& session_id, const std::string& command,
                                                 Json args, const ChunkHandler& on_chunk,
                                                 const ExecuteOptions& options) {
  if (!impl_) return moved_from();
  if (impl_->on_loop_thread()) return failed_precondition("execute_stream_in_session() called on the loop thread");
  if (auto valid = validate_session_id(session_id); !valid.ok()) return valid;
  return impl_->stream(session_id, command, std::move(args), on_chunk, options);
}

StreamHandle Snakepit::execute_stream_async(std::string command, Json args, ChunkHandler on_chunk,
                                            ExecuteCallback on_done, const ExecuteOptions& options) {
  if (!impl_) {
    on_done(moved_from());
    return {};
  }
  // Owned by the request's callback until the final status is handed to a
  // delivery; each delivery drains what is there, one at a time.
  struct AsyncStream {
    std::shared_ptr<internal::StreamChannel> channel;
    StreamConsumer consumer;
    ExecuteCallback on_done;
  };
  auto state = std::make_shared<AsyncStream>();
  state->consumer.on_chunk = std::move(on_chunk);
  state->on_done = std::move(on_done);
  auto drain = [](const std::shared_ptr<AsyncStream>& stream) {
    while (auto item = stream->channel->try_pop()) {
      if (!item->final) {
        stream->consumer.deliver(*stream->channel, std::move(*item->chunk));
        continue;
      }
      try {
        stream->on_done(std::move(*item->final));
      } catch (...) {  // documented: callbacks must not throw
      }
      return;
    }
  };
  state->channel = std::make_shared<internal::StreamChannel>(
      impl_->stream_window(options),
      [weak = std::weak_ptr<AsyncStream>(state), &callbacks = impl_->callbacks, drain] {
        if (auto stream = weak.lock()) asio::post(callbacks, [stream, drain] { drain(stream); });
      });
  auto channel = state->channel;
  RequestHandle handle = impl_->submit(
      {}, std::move(command), std::move(args),
      [state](Result<Json> result, const Request*) { state->channel->finish(std::move(result)); }, options, channel,
      &state->consumer.request);
  return StreamHandle(std::move(handle));
}

Status Snakepit::register_function(HostFunction function) {
  if (!impl_) return moved_from();
  return impl_->functions->add(std::move(function));
}

Status Snakepit::register_session_function(std::string session_id, HostFunction function) {
  if (!impl_) return moved_from();
  if (auto valid = validate_session_id(session_id); !valid.ok()) return valid;
  return impl_->functions->add(std::move(function), std::move(session_id));
}

Status Snakepit::unregister_function(std::string_view name, std::string_view session_id) {
  if (!impl_) return moved_from();
  return impl_->functions->remove(name, session_id);
}

std::future<Result<SessionReply>> Snakepit::execute_in_session_future(std::string session_id, std::string command,
                                                                      Json args, const ExecuteOptions& options) {
  auto promise = std::make_shared<std::promise<Result<SessionReply>>>();
  auto future = promise->get_future();
  execute_in_session_async(
      std::move(session_id), std::move(command), std::move(args),
      [promise](Result<SessionReply> result) { promise->set_value(std::move(result)); }, options);
  return future;
}

Status Snakepit::unbind_session(std::string_view session_id) {
  if (!impl_) return moved_from();
  return impl_->sessions->bind(session_id, {});
}

Result<Json> cleanup_orphans(const std::string& data_dir, bool dry_run) {
  const std::string dir = data_dir.empty() ? internal::default_data_dir() : data_dir;
  internal::SweepOptions options;
  options.dry_run = dry_run;
  auto report = internal::sweep_orphans(dir, options);
  if (!report.ok()) return report.status();
  Json out = report->to_json();
  out["data_dir"] = dir;
  return out;
}

std::uint64_t Snakepit::subscribe(EventHandler handler) {
  if (!impl_) return 0;
  return impl_->on_loop([&] { return impl_->events.subscribe(std::move(handler)); }).value_or(0);
}

void Snakepit::unsubscribe(std::uint64_t id) {
  if (!impl_) return;
  (void)impl_->on_loop([&] {
    impl_->events.unsubscribe(id);
    return true;
  });
}

std::shared_ptr<SessionStore> Snakepit::sessions() const { return impl_ ? impl_->sessions : nullptr; }

PoolStats Snakepit::stats() const {
  if (!impl_) return {};
  return impl_->all_stats()[impl_->default_pool];
}

Result<std::vector<std::string>> Snakepit::commands(const std::string& pool) const {
  if (!impl_) return moved_from();
  auto index = impl_->find_pool(pool);
  if (!index.ok()) return index.status();
  const Pool* target = impl_->pools[*index].pool.get();
  if (target == nullptr) return std::vector<std::string>{};
  return impl_->on_loop([target] { return target->commands(); }).value_or(std::vector<std::string>{});
}

std::vector<PoolStats> Snakepit::pool_stats() const { return impl_ ? impl_->all_stats() : std::vector<PoolStats>{}; }

std::vector<WorkerInfo> Snakepit::list_workers() const {
  std::vector<WorkerInfo> workers;
  for (auto& stats : pool_stats()) {
    workers.insert(workers.end(), std::make_move_iterator(stats.workers.begin()),
                   std::make_move_iterator(stats.workers.end()));
  }
  return workers;
}

Status Snakepit::await_ready(std::chrono::milliseconds timeout) const {
  if (!impl_) return moved_from();
  if (impl_->on_loop_thread()) return failed_precondition("await_ready() called on the loop thread");
  std::promise<Status> ready;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  // Every pool that started; the first error wins.
  const bool posted = impl_->gate->post_if_open([&] {
    auto remaining = std::make_shared<std::size_t>(0);
    auto first_error = std::make_shared<Status>();
    std::vector<Pool*> running;
    for (auto& entry : impl_->pools) {
      if (entry.start_error.ok()) running.push_back(entry.pool.get());
    }
    *remaining = running.size();
    if (running.empty()) ready.set_value({});
    for (Pool* pool : running) {
      pool->await_ready(deadline, [&ready, remaining, first_error](Status s) {
        if (!s.ok() && first_error->ok()) *first_error = std::move(s);
        if (--*remaining == 0) ready.set_value(*first_error);
      });
    }
  });
  if (!posted) return unavailable("pool is shut down", Json{{"reason", "pool_stopping"}});
  return ready.get_future().get();
}

void Snakepit::shutdown(std::chrono::milliseconds grace) {
  if (impl_) impl_->shutdown(grace);
}

}  // namespace snakepit
