// The facade: owns the event loops (one, or one per CPU with
// Placement::kPerCore), the launcher, the pools and the session store, and
// turns thread-safe public calls into work posted to a loop.
#include "snakepit/snakepit.h"

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/thread_pool.hpp>
#include <pthread.h>
#include <sched.h>
#include <algorithm>
#include <atomic>
#include <cstring>
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
#include "snakepit/pool_stats_sum.h"

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
  bool open() {
    std::lock_guard lock(mutex_);
    return !closed_;
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
  // One event loop: its thread, its door, its telemetry, and its part of
  // every pool. Placement::kShared has one, unpinned; kPerCore one per CPU.
  struct Loop {
    Loop(int cpu_, const internal::LoggerPtr& log)
        : cpu(cpu_),
          events(log),
          work(asio::make_work_guard(io)),
          gate(std::make_shared<internal::LoopGate>(io, [this](const RequestPtr& request, Status why) {
            if (auto& pool = pools[request->pool_index]) pool->cancel(request, std::move(why));
          })) {}

    void start_thread(const internal::LoggerPtr& log) {
      thread = std::thread([this, log] {
        internal::block_sigpipe_in_this_thread();
        if (cpu >= 0) {
          cpu_set_t set;
          CPU_ZERO(&set);
          CPU_SET(cpu, &set);
          if (int error = ::pthread_setaffinity_np(::pthread_self(), sizeof set, &set); error != 0) {
            log->warn("event loop not pinned to CPU {}: {}", cpu, std::strerror(error));
          }
        }
        io.run();
      });
      thread_id = thread.get_id();
    }

    const int cpu;  // -1: not pinned
    asio::io_context io{1};
    internal::EventBus events;
    asio::executor_work_guard<asio::io_context::executor_type> work;
    std::shared_ptr<internal::LoopGate> gate;
    std::thread thread;
    std::thread::id thread_id;
    // In the order of Impl::pools: this loop's part of each (null: the pool
    // was never built), how many workers that part has, and how many of
    // the pool's requests were routed here and have not finished.
    std::vector<std::unique_ptr<Pool>> pools;
    std::vector<std::size_t> workers;
    std::unique_ptr<std::atomic<std::size_t>[]> in_flight;
    // GUARDED_BY(Impl::mutex): its part of every pool as last collected;
    // final once it stopped.
    std::vector<PoolStats> last_stats;
    std::promise<void> stopped_promise;
    std::shared_future<void> stopped = stopped_promise.get_future().share();
  };

  explicit Impl(Options opts)
      : options(std::move(opts)), logger(options.logger ? options.logger : internal::make_default_logger()) {}

  ~Impl() {
    // Normally shut down already; this covers a failed start.
    for (auto& loop : loops) {
      loop->work.reset();
      loop->io.stop();
    }
    join_loops();
  }

  // The CPUs of the loops: one unpinned loop, or one loop per CPU this
  // process may use, at most as many as the smallest pool has workers.
  static std::vector<int> loop_cpus(const Options& options) {
    cpu_set_t allowed;
    CPU_ZERO(&allowed);
    if (options.placement != Placement::kPerCore || ::sched_getaffinity(0, sizeof allowed, &allowed) != 0) {
      return {-1};
    }
    std::size_t smallest = SIZE_MAX;
    for (const auto& pool : options.pools) smallest = std::min(smallest, pool.size);
    std::vector<int> cpus;
    for (int cpu = 0; cpu < CPU_SETSIZE && cpus.size() < smallest; ++cpu) {
      if (CPU_ISSET(cpu, &allowed)) cpus.push_back(cpu);
    }
    return cpus.empty() ? std::vector<int>{-1} : cpus;
  }

  void make_loops() {
    for (int cpu : loop_cpus(options)) loops.push_back(std::make_unique<Loop>(cpu, logger));
    for (auto& loop : loops) loop->in_flight = std::make_unique<std::atomic<std::size_t>[]>(options.pools.size());
  }

  // Builds each pool's part on every loop: `size` split evenly, slots
  // numbered across the loops, the queue limit split like the workers.
  void build_pool(PoolOptions& pool_options, bool executable_found) {
    const std::size_t n = loops.size();
    int first_slot = 0;
    for (std::size_t i = 0; i < n; ++i) {
      Loop& loop = *loops[i];
      const std::size_t share = pool_options.size / n + (i < pool_options.size % n ? 1 : 0);
      loop.workers.push_back(share);
      if (!executable_found) {
        loop.pools.push_back(nullptr);
        continue;
      }
      PoolOptions part = pool_options;
      part.size = share;
      part.max_queue = (pool_options.max_queue * share + pool_options.size - 1) / pool_options.size;
      loop.pools.push_back(std::make_unique<Pool>(loop.io, std::move(part), logger, launcher, sessions, loop.events,
                                                  registry.get(), functions, callbacks,
                                                  internal::PoolShard{first_slot, loop.cpu}));
      first_slot += static_cast<int>(share);
    }
  }

  void start_loops() {
    for (auto& loop : loops) loop->start_thread(logger);
  }

  bool on_loop_thread() const {
    const auto self = std::this_thread::get_id();
    return std::any_of(loops.begin(), loops.end(), [&](const auto& loop) { return loop->thread_id == self; });
  }

  // The loop a request of pool `index` runs on. A session's requests always
  // go to one loop (its worker binding lives there). Otherwise the least
  // busy loop (requests in flight per worker), the caller's own loop on a
  // tie: one request at a time stays on the caller's CPU, and more spread
  // over every CPU instead of queueing on one.
  Loop& pick_loop(std::size_t index, const std::string& session) {
    if (loops.size() == 1) return *loops.front();
    if (!session.empty()) return *loops[std::hash<std::string>{}(session) % loops.size()];
    Loop* local = caller_loop();
    Loop* best = local != nullptr ? local : loops.front().get();
    auto load = [index](const Loop& loop) {
      return static_cast<double>(loop.in_flight[index].load(std::memory_order_relaxed)) /
             static_cast<double>(loop.workers[index]);
    };
    for (auto& loop : loops) {
      if (load(*loop) < load(*best)) best = loop.get();
    }
    return *best;
  }

  // The loop whose thread calls (a completion issuing the next request), or
  // the loop of the CPU the caller runs on; null if none.
  Loop* caller_loop() {
    const auto self = std::this_thread::get_id();
    const int cpu = ::sched_getcpu();
    Loop* on_cpu = nullptr;
    for (auto& loop : loops) {
      if (loop->thread_id == self) return loop.get();
      if (cpu >= 0 && loop->cpu == cpu) on_cpu = loop.get();
    }
    return on_cpu;
  }

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
    const std::size_t index = *target;
    const PoolEntry& entry = pools[index];
    const auto& timeouts = entry.options->adapter.command_timeouts;
    const auto command_timeout = timeouts.find(command);
    const auto now = std::chrono::steady_clock::now();
    auto deadline = now + opts.timeout.value_or(command_timeout != timeouts.end() ? command_timeout->second
                                                                                  : entry.options->request_timeout);
    if (opts.deadline && *opts.deadline < deadline) deadline = *opts.deadline;
    Loop& loop = pick_loop(index, session);
    if (loops.size() > 1) {  // counted for pick_loop until it finishes
      std::atomic<std::size_t>* in_flight = &loop.in_flight[index];
      in_flight->fetch_add(1, std::memory_order_relaxed);
      done = [in_flight, done = std::move(done)](Result<Json> result, const Request* request) {
        in_flight->fetch_sub(1, std::memory_order_relaxed);
        done(std::move(result), request);
      };
    }
    auto r = std::make_shared<Request>(loop.io);
    r->pool_index = index;
    r->command = std::move(command);
    r->args = std::move(args);
    r->idempotent = opts.idempotent;
    r->deadline = deadline;
    r->done = internal::OnceCallback(std::move(done));
    r->session_id = std::move(session);
    r->affinity = opts.affinity;
    r->stream = std::move(stream);
    r->chunk_timeout = opts.chunk_timeout.value_or(std::chrono::milliseconds(0));
    RequestHandle handle(r, loop.gate);
    if (handle_out != nullptr) *handle_out = handle;
    internal::Pool* pool = loop.pools[index].get();
    // Issued by a response's callback on the loop that runs it (a callback
    // chain): straight to the pool, no trip around the loop.
    if (loop.thread_id == std::this_thread::get_id() && pool->in_response_callback() && loop.gate->open()) {
      r->id = pool->next_request_id();
      pool->submit_after_response(std::move(r));
      return handle;
    }
    // When closed, the request is dropped unrun and its OnceCallback reports Unavailable.
    loop.gate->post_if_open([pool, r = std::move(r)]() mutable {
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

  // Every pool's stats, in the order of Options::pools, summed over the loops.
  std::vector<PoolStats> all_stats() {
    std::vector<PoolStats> all(pools.size());
    for (auto& loop : loops) {
      auto part = on_loop(*loop, [this, &loop] { return collect_stats(*loop); });
      std::lock_guard lock(mutex);
      if (part) {
        loop->last_stats = *part;
      } else {
        part = loop->last_stats;
      }
      for (std::size_t i = 0; i < part->size() && i < all.size(); ++i) internal::add_pool_stats(all[i], (*part)[i]);
    }
    const SessionStoreStats session_stats = sessions->stats();
    for (std::size_t i = 0; i < all.size(); ++i) {
      all[i].pool = pools[i].name();
      if (!pools[i].start_error.ok()) all[i].start_error = pools[i].start_error.message();
      all[i].sessions = session_stats;
    }
    return all;
  }

  // On `loop`: its part of every pool.
  std::vector<PoolStats> collect_stats(const Loop& loop) const {
    std::vector<PoolStats> part;
    for (std::size_t i = 0; i < loop.pools.size(); ++i) {
      PoolStats stats;
      if (loop.pools[i]) {
        stats = loop.pools[i]->stats();
      } else {
        stats.size = loop.workers[i];
      }
      part.push_back(std::move(stats));
    }
    return part;
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

  // Drops expired sessions a little at a time, on the first loop.
  void sweep_sessions() {
    sweep_timer->expires_after(options.sessions.sweep_interval);
    sweep_timer->async_wait([this](boost::system::error_code ec) {
      if (ec) return;
      sessions->sweep(options.sessions.sweep_budget);
      sweep_sessions();
    });
  }

  // The first call stops the pools; concurrent and later calls wait for it.
  void shutdown(std::chrono::milliseconds grace) {
    for (auto& loop : loops) {
      if (loop->gate->close()) asio::post(loop->io, [this, loop = loop.get(), grace] { stop_loop(*loop, grace); });
    }
    if (on_loop_thread()) return;  // from a callback: completes once the callback returns
    for (auto& loop : loops) loop->stopped.wait();
    join_loops();
  }

  // On `loop`: every part of a pool on it stops at once; the last one to
  // finish ends the loop.
  void stop_loop(Loop& loop, std::chrono::milliseconds grace) {
    if (&loop == loops.front().get()) sweep_timer->cancel();
    auto remaining = std::make_shared<std::size_t>(loop.pools.size());
    for (auto& pool : loop.pools) {
      auto stopped_one = [this, &loop, remaining] {
        if (--*remaining == 0) finish_stop(loop);
      };
      if (pool) {
        pool->shutdown(grace, stopped_one);
      } else {
        stopped_one();
      }
    }
  }

  // Then the callback threads finish what they have (stream deliveries, host
  // functions), unless we are one of them (shutdown() from an on_done):
  // their pool joins when the Snakepit is destroyed.
  void join_loops() {
    std::call_once(joined, [this] {
      for (auto& loop : loops) {
        if (loop->thread.joinable()) loop->thread.join();
      }
      if (!callbacks.get_executor().running_in_this_thread()) callbacks.join();
    });
  }

  // On `loop`, once its pools are down: keep the last stats, then let the
  // loop run what was posted before this point (FIFO) and end. The last loop
  // down closes the run registry (every worker is gone).
  void finish_stop(Loop& loop) {
    std::vector<PoolStats> last = collect_stats(loop);
    bool last_loop = false;
    {
      std::lock_guard lock(mutex);
      loop.last_stats = std::move(last);
      last_loop = --loops_running == 0;
    }
    if (last_loop) registry->close();
    loop.gate->loop_ended();
    loop.work.reset();
    asio::post(loop.io, [&loop] {
      loop.io.stop();
      loop.stopped_promise.set_value();
    });
  }

  // Runs `fn` on `loop` and returns its result; nullopt once the loop
  // stopped, and on another loop's thread: two loops waiting for each other
  // would never wake.
  template <typename Fn>
  auto on_loop(Loop& loop, Fn fn) -> std::optional<decltype(fn())> {
    if (std::this_thread::get_id() == loop.thread_id) return fn();
    if (on_loop_thread()) return std::nullopt;
    std::promise<decltype(fn())> promise;
    if (!loop.gate->post_if_running([&] { promise.set_value(fn()); })) return std::nullopt;
    return promise.get_future().get();
  }

  // Runs `fn(loop)` on every loop: waits for each, except on a loop thread,
  // which only posts to the others (see on_loop). False once stopped.
  bool on_every_loop(const std::function<void(Loop&)>& fn) {
    const bool from_a_loop = on_loop_thread();
    bool reached = false;
    for (auto& loop : loops) {
      if (from_a_loop && std::this_thread::get_id() != loop->thread_id) {
        reached |= loop->gate->post_if_running([fn, &loop = *loop] { fn(loop); });
      } else {
        reached |= on_loop(*loop, [&] {
                     fn(*loop);
                     return true;
                   }).has_value();
      }
    }
    return reached;
  }

  Options options;
  internal::LoggerPtr logger;
  std::shared_ptr<SessionStore> sessions;
  std::shared_ptr<internal::FunctionRegistry> functions = std::make_shared<internal::FunctionRegistry>();
  std::unique_ptr<internal::RunRegistry> registry;  // outlives the pools
  // One per Options::pools, in order; fixed once start() returned.
  struct PoolEntry {
    const PoolOptions* options;  // in Impl::options
    Status start_error;          // set before start() returns, read-only after
    const std::string& name() const { return options->name; }
  };
  std::vector<PoolEntry> pools;
  std::size_t default_pool = 0;
  std::vector<std::unique_ptr<Loop>> loops;  // fixed once start() returned

  std::unique_ptr<asio::steady_timer> sweep_timer;  // on the first loop
  // Both post into the loops, so they are declared after them (and stopped
  // before them). Stream deliveries of the async API and host functions run
  // on `callbacks`, off the loops.
  internal::Launcher launcher;
  asio::thread_pool callbacks{2};
  std::atomic<std::uint64_t> last_subscriber{0};
  std::mutex mutex;
  std::size_t loops_running = 0;  // GUARDED_BY(mutex)
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
  impl->make_loops();
  impl->loops_running = impl->loops.size();
  impl->sweep_timer = std::make_unique<asio::steady_timer>(impl->loops.front()->io);
  if (impl->options.on_event) {
    auto handler = std::make_shared<const EventHandler>(impl->options.on_event);
    const auto id = ++impl->last_subscriber;
    for (auto& loop : impl->loops) loop->events.subscribe(id, handler);
  }
  for (auto& pool_options : impl->options.pools) {
    Impl::PoolEntry entry{&pool_options, {}};
    if (pool_options.name == impl->options.default_pool) impl->default_pool = impl->pools.size();
    auto resolved = internal::resolve_executable(pool_options.adapter.executable);
    if (resolved.ok()) {
      pool_options.adapter.executable = *resolved;
    } else {
      const Status& error = resolved.status();
      entry.start_error =
          Status(error.code(), fmt::format("pool {}: {}", pool_options.name, error.message()), error.details());
    }
    impl->build_pool(pool_options, resolved.ok());
    impl->pools.push_back(std::move(entry));
  }
  impl->start_loops();
  // Every pool starts at once on every loop; start() returns when all have
  // finished. A pool fails when any of its parts fails.
  std::promise<void> started;
  std::mutex start_mutex;
  std::size_t remaining = impl->loops.size() * impl->pools.size();
  auto finished = [&](std::size_t index, Status status) {
    bool last = false;
    {
      std::lock_guard lock(start_mutex);
      auto& entry = impl->pools[index];
      if (!status.ok() && entry.start_error.ok()) {
        entry.start_error = std::move(status);
        if (impl->pools.size() > 1) impl->logger->error("{}; the other pools serve on", entry.start_error);
      }
      last = --remaining == 0;
    }
    if (last) started.set_value();  // the last touch of this frame: start() may return at once
  };
  for (auto& loop : impl->loops) {
    asio::post(loop->io, [&, loop = loop.get()] {
      for (std::size_t i = 0; i < loop->pools.size(); ++i) {
        if (loop->pools[i]) {
          loop->pools[i]->start([&finished, i](Status status) { finished(i, std::move(status)); });
        } else {
          finished(i, impl->pools[i].start_error);
        }
      }
      if (loop == impl->loops.front().get()) impl->sweep_sessions();
    });
  }
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
  auto shared = std::make_shared<const EventHandler>(std::move(handler));
  const std::uint64_t id = ++impl_->last_subscriber;
  return impl_->on_every_loop([id, shared](Impl::Loop& loop) { loop.events.subscribe(id, shared); }) ? id : 0;
}

void Snakepit::unsubscribe(std::uint64_t id) {
  if (!impl_) return;
  impl_->on_every_loop([id](Impl::Loop& loop) { loop.events.unsubscribe(id); });
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
  // Every loop's part of a pool serves the same commands: ask the caller's loop, if any.
  Impl::Loop* caller = impl_->caller_loop();
  auto& loop = caller != nullptr ? *caller : *impl_->loops.front();
  const Pool* target = loop.pools[*index].get();
  if (target == nullptr) return std::vector<std::string>{};
  return impl_->on_loop(loop, [target] { return target->commands(); }).value_or(std::vector<std::string>{});
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
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  // Every pool that started, on every loop; the first error wins.
  for (auto& loop : impl_->loops) {
    std::promise<Status> ready;
    const bool posted = loop->gate->post_if_open([&] {
      std::vector<Pool*> running;
      for (std::size_t i = 0; i < loop->pools.size(); ++i) {
        if (impl_->pools[i].start_error.ok()) running.push_back(loop->pools[i].get());
      }
      if (running.empty()) ready.set_value({});
      auto remaining = std::make_shared<std::size_t>(running.size());
      auto first_error = std::make_shared<Status>();
      for (Pool* pool : running) {
        pool->await_ready(deadline, [&ready, remaining, first_error](Status s) {
          if (!s.ok() && first_error->ok()) *first_error = std::move(s);
          if (--*remaining == 0) ready.set_value(*first_error);
        });
      }
    });
    if (!posted) return unavailable("pool is shut down", Json{{"reason", "pool_stopping"}});
    if (Status status = ready.get_future().get(); !status.ok()) return status;
  }
  return {};
}

void Snakepit::shutdown(std::chrono::milliseconds grace) {
  if (impl_) impl_->shutdown(grace);
}

}  // namespace snakepit
