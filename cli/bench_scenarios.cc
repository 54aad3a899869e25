#include "bench_scenarios.h"

#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <utility>
#include <vector>

namespace snakepit::cli::bench {
namespace {

double ms_since(Clock::time_point start) { return micros(Clock::now() - start) / 1000; }

std::vector<int> worker_pids(const Snakepit& pit) {
  std::vector<int> pids;
  for (const auto& w : pit.list_workers())
    if (w.pid > 0) pids.push_back(w.pid);
  return pids;
}

// Shared with the callbacks (they run on the loop thread), so nothing they
// touch can go away under them; timings go to vectors sized up front, so
// recording one costs no allocation.
struct LoadState {
  Snakepit* pit = nullptr;
  Load load;
  std::vector<std::string> session_ids;
  std::vector<Clock::time_point> sent;
  std::vector<double> latency_us;
  std::atomic<long> next{0}, done{0}, errors{0};
  std::mutex mutex;
  std::condition_variable all_done;
  bool finished = false;
};

Record failed(Record r, const Status& why) {
  r["errors"] = 1;
  r["error"] = why.to_string();
  return r;
}

void issue(const std::shared_ptr<LoadState>& s);

void complete(const std::shared_ptr<LoadState>& s, long i, const Status* error) {
  s->latency_us[static_cast<std::size_t>(i)] = micros(Clock::now() - s->sent[static_cast<std::size_t>(i)]);
  if (error != nullptr && s->errors.fetch_add(1) == 0) {
    fmt::print(stderr, "snakepit bench: {} failed: {}\n", s->load.command, error->to_string());
  }
  issue(s);  // keeps `concurrency` in flight
  if (s->done.fetch_add(1) + 1 == s->load.requests) {
    std::lock_guard lock(s->mutex);
    s->finished = true;
    s->all_done.notify_all();
  }
}

void issue(const std::shared_ptr<LoadState>& s) {
  const long i = s->next.fetch_add(1);
  if (i >= s->load.requests) return;
  s->sent[static_cast<std::size_t>(i)] = Clock::now();
  // A copy per request, as a caller would make (for 1 MiB, a memcpy: small
  // next to the round trip).
  Json args = s->load.args;
  if (s->load.sessions > 0) {
    const auto& id = s->session_ids[static_cast<std::size_t>(i % s->load.sessions)];
    s->pit->execute_in_session_async(id, s->load.command, std::move(args),
                                     [s, i](Result<SessionReply> r) { complete(s, i, r ? nullptr : &r.status()); });
  } else {
    s->pit->execute_async(s->load.command, std::move(args),
                          [s, i](Result<Json> r) { complete(s, i, r ? nullptr : &r.status()); });
  }
}

}  // namespace

Result<Snakepit> start_pool(const Adapter& adapter, std::size_t size, Placement placement) {
  Options options;
  options.placement = placement;
  options.pool.size = size;
  options.pool.adapter = adapter;
  return Snakepit::start(std::move(options));
}

Phase run_load(Snakepit& pit, const Load& load) {
  Phase phase;
  if (load.requests <= 0) return phase;
  auto s = std::make_shared<LoadState>();
  s->pit = &pit;
  s->load = load;
  for (int k = 0; k < load.sessions; ++k) s->session_ids.push_back(fmt::format("bench-{}", k));
  s->sent.resize(static_cast<std::size_t>(load.requests));
  s->latency_us.resize(static_cast<std::size_t>(load.requests));
  const auto pids = worker_pids(pit);

  const double host0 = host_cpu_us(), workers0 = processes_cpu_us(pids);
  const auto start = Clock::now();
  const auto initial = std::min<long>(static_cast<long>(std::max<std::size_t>(1, load.concurrency)), load.requests);
  for (long k = 0; k < initial; ++k) issue(s);
  {
    std::unique_lock lock(s->mutex);
    s->all_done.wait(lock, [&] { return s->finished; });
  }
  phase.seconds = micros(Clock::now() - start) / 1e6;
  phase.host_cpu_us = host_cpu_us() - host0;
  phase.worker_cpu_us = processes_cpu_us(pids) - workers0;
  phase.errors = s->errors.load();
  phase.latency_us = std::move(s->latency_us);
  return phase;
}

Record load_round(Snakepit& pit, const Load& load, long warmup) {
  Load warm = load;
  warm.requests = std::min(warmup, load.requests);
  const long warm_errors = run_load(pit, warm).errors;
  Phase phase = run_load(pit, load);
  phase.errors += warm_errors;
  Record r;
  summarize(std::move(phase), r);
  return r;
}

Record startup_round(const Adapter& adapter, std::size_t size) {
  Record r = {{"size", size}, {"concurrency", size}, {"requests", 0}};
  long errors = 0;
  const double host0 = host_cpu_us();
  auto start = Clock::now();
  {
    auto pit = start_pool(adapter, size);
    r["ready_ms"] = round1(ms_since(start));
    const double host_us = host_cpu_us() - host0;
    if (pit) {
      // Right after ready, a worker's whole CPU time so far is its start-up.
      const double workers_us = processes_cpu_us(worker_pids(*pit));
      pit->shutdown();
      r["host_cpu_us_per_worker"] = round1(host_us / double(size));
      r["worker_cpu_us_per_worker"] = round1(workers_us / double(size));
    } else {
      ++errors;
      r["error"] = pit.error().to_string();
    }
  }
  // The same workers started one after another: N pools of one.
  std::vector<Snakepit> pools;
  start = Clock::now();
  for (std::size_t k = 0; k < size; ++k) {
    auto one = start_pool(adapter, 1);
    if (!one) {
      ++errors;
      r["error"] = one.error().to_string();
      break;
    }
    pools.push_back(std::move(*one));
  }
  r["sequential_ms"] = round1(ms_since(start));
  for (auto& pit : pools) pit.shutdown();
  r["errors"] = errors;
  return r;
}

Record stream_round(const Adapter& adapter, long chunks) {
  Record r = {{"size", 1}, {"concurrency", 1}, {"requests", chunks}};
  auto pit = start_pool(adapter, 1);
  if (!pit) return failed(std::move(r), pit.error());
  const auto consume = [](Json) { return StreamControl::kContinue; };
  const bool warm = pit->execute_stream("count", {{"n", 100}}, consume).ok();

  const auto pids = worker_pids(*pit);
  std::vector<double> gaps(static_cast<std::size_t>(chunks));
  std::size_t seen = 0;
  const double host0 = host_cpu_us(), workers0 = processes_cpu_us(pids);
  const auto start = Clock::now();
  auto last = start;
  auto result = pit->execute_stream("count", {{"n", chunks}}, [&](Json) {
    const auto now = Clock::now();
    if (seen < gaps.size()) gaps[seen++] = micros(now - last);
    last = now;
    return StreamControl::kContinue;
  });
  Phase phase;
  phase.seconds = micros(Clock::now() - start) / 1e6;
  phase.host_cpu_us = host_cpu_us() - host0;
  phase.worker_cpu_us = processes_cpu_us(pids) - workers0;
  gaps.resize(seen);
  phase.latency_us = std::move(gaps);
  phase.errors = (warm ? 0 : 1) + (result && seen == static_cast<std::size_t>(chunks) ? 0 : 1);
  if (!result) r["error"] = result.error().to_string();
  summarize(std::move(phase), r);
  return r;
}

Record many_workers_round(const Adapter& adapter, std::size_t size) {
  Record r = {{"size", size}, {"concurrency", size}, {"requests", size}};
  const double host0 = host_cpu_us();
  const auto start = Clock::now();
  auto pit = start_pool(adapter, size);
  r["ready_ms"] = round1(ms_since(start));
  if (!pit) return failed(std::move(r), pit.error());
  r["host_cpu_us_per_worker"] = round1((host_cpu_us() - host0) / double(size));
  Load ping;
  ping.concurrency = size;
  ping.requests = static_cast<long>(size);
  summarize(run_load(*pit, ping), r);
  std::size_t pinged = 0;
  for (const auto& w : pit->list_workers()) pinged += w.requests > 0 ? 1 : 0;
  r["workers_pinged"] = pinged;
  return r;
}

}  // namespace snakepit::cli::bench
