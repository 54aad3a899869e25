// Micro benchmarks of the in-memory session store (make_memory_session_store):
// operations per second at 1 and 2 threads, and heap bytes per session.
//
//   build/bin/snakepit_session_store_bench [--benchmark_min_time=0.2]
//
// The memory figures come from glibc's mallinfo2(): heap in use before and
// after creating 1,000,000 sessions, divided by their number.
#include <malloc.h>

#include <cstddef>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include <benchmark/benchmark.h>
#include <fmt/format.h>

#include "snakepit/session_store.h"

namespace {

using snakepit::Json;
using snakepit::SessionStore;

constexpr std::size_t kSessions = 10'000;  // held by the shared store

std::shared_ptr<SessionStore> new_store(std::size_t max_sessions) {
  snakepit::MemorySessionStoreOptions options;
  options.limits.max_sessions = max_sessions;
  auto store = snakepit::make_memory_session_store(std::move(options));
  if (!store.ok()) {
    fmt::print(stderr, "cannot make a store: {}\n", store.status());
    std::exit(1);
  }
  return *store;
}

std::string session_id(std::size_t i) { return fmt::format("session-{:07}", i); }

const std::vector<std::string>& ids() {
  static const std::vector<std::string> all = [] {
    std::vector<std::string> out;
    for (std::size_t i = 0; i < kSessions; ++i) out.push_back(session_id(i));
    return out;
  }();
  return all;
}

// One store shared by the threads of every benchmark: kSessions sessions
// with one small key each.
SessionStore& shared_store() {
  static const std::shared_ptr<SessionStore> store = [] {
    auto made = new_store(2 * kSessions);
    snakepit::SessionUpdate update;
    update.set = {{"n", 0}};
    for (const std::string& id : ids()) {
      if (!made->create(id).ok() || !made->update(id, update).ok()) std::exit(1);
    }
    return made;
  }();
  return *store;
}

void fail(benchmark::State& state, const snakepit::Status& status) {
  state.SkipWithError(status.to_string().c_str());
}

// get(): a lookup that touches the session and copies its info out.
void BM_Get(benchmark::State& state) {
  SessionStore& store = shared_store();
  const auto& all = ids();
  std::size_t i = static_cast<std::size_t>(state.thread_index()) * 7919;
  for (auto _ : state) {
    auto info = store.get(all[i++ % all.size()]);
    if (!info.ok()) {
      fail(state, info.status());
      break;
    }
    benchmark::DoNotOptimize(info);
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
}

// update(): one small key set (replacing the previous value).
void BM_UpdateOneKey(benchmark::State& state) {
  SessionStore& store = shared_store();
  const auto& all = ids();
  snakepit::SessionUpdate update;
  update.set = {{"n", 12345}};
  std::size_t i = static_cast<std::size_t>(state.thread_index()) * 7919;
  for (auto _ : state) {
    auto version = store.update(all[i++ % all.size()], update);
    if (!version.ok()) {
      fail(state, version.status());
      break;
    }
    benchmark::DoNotOptimize(version);
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
}

// get_or_create() of a new session, then remove(): one item is both.
void BM_GetOrCreateRemove(benchmark::State& state) {
  SessionStore& store = shared_store();
  std::vector<std::string> own;
  for (std::size_t i = 0; i < 1024; ++i) own.push_back(fmt::format("t{}-{:05}", state.thread_index(), i));
  std::size_t i = 0;
  for (auto _ : state) {
    const std::string& id = own[i++ % own.size()];
    bool created = false;
    auto info = store.get_or_create(id, &created);
    if (!info.ok() || !created) {
      fail(state, info.ok() ? snakepit::internal_error("not created") : info.status());
      break;
    }
    if (auto status = store.remove(id); !status.ok()) {
      fail(state, status);
      break;
    }
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
}

std::size_t heap_in_use() {
  const struct mallinfo2 info = mallinfo2();
  return info.uordblks + info.hblkhd;
}

// Heap bytes per session with 1,000,000 sessions: empty (range 0) or with 3
// small keys (range 3). Ids are 15 characters, as short ids usually are.
void BM_BytesPerSession(benchmark::State& state) {
  constexpr std::size_t kCount = 1'000'000;
  const bool with_keys = state.range(0) == 3;
  snakepit::SessionUpdate update;
  update.set = {{"a", 1}, {"b", "x"}, {"c", true}};
  std::vector<std::string> names;
  names.reserve(kCount);
  for (std::size_t i = 0; i < kCount; ++i) names.push_back(session_id(i));
  double per_session = 0;
  for (auto _ : state) {
    auto store = new_store(kCount);
    const std::size_t before = heap_in_use();
    for (const std::string& id : names) {
      if (!store->create(id).ok() || (with_keys && !store->update(id, update).ok())) {
        state.SkipWithError("create or update failed");
        return;
      }
    }
    const std::size_t after = heap_in_use();
    per_session = static_cast<double>(after - before) / kCount;
    state.PauseTiming();
    store.reset();  // freeing a million sessions is not what is measured
    state.ResumeTiming();
  }
  state.counters["bytes_per_session"] = per_session;
  state.counters["sessions_per_s"] =
      benchmark::Counter(static_cast<double>(kCount) * static_cast<double>(state.iterations()),
                         benchmark::Counter::kIsRate);
  fmt::print(stderr, "session store: {:.1f} heap bytes per session ({}) at {} sessions\n", per_session,
             with_keys ? "3 small keys" : "empty", kCount);
}

BENCHMARK(BM_Get)->Threads(1)->Threads(2)->UseRealTime();
BENCHMARK(BM_UpdateOneKey)->Threads(1)->Threads(2)->UseRealTime();
BENCHMARK(BM_GetOrCreateRemove)->Threads(1)->Threads(2)->UseRealTime();
BENCHMARK(BM_BytesPerSession)->Arg(0)->Arg(3)->Iterations(1)->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
