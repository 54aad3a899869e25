// Start-up and ping measurements for a pool of Python workers (issue notes,
// docs/performance.md). Prints one JSON object per scenario; not a test.
//
//   build/bin/snakepit_pool_bench [--rounds N] [--requests N]
#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "snakepit/snakepit.h"

namespace {

using Clock = std::chrono::steady_clock;
using snakepit::Json;

double ms_since(Clock::time_point start) {
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[v.size() / 2];
}

snakepit::Options pool_options(std::size_t size) {
  snakepit::Options options;
  options.pool.size = size;
  options.pool.adapter = snakepit::adapters::python();
  return options;
}

// Wall time until `size` workers are ready, started as one pool.
double concurrent_start_ms(std::size_t size) {
  const auto start = Clock::now();
  auto pit = snakepit::Snakepit::start(pool_options(size));
  const double ms = ms_since(start);
  if (!pit) {
    fmt::print(stderr, "start failed: {}\n", pit.error());
    std::exit(1);
  }
  return ms;
}

// Wall time until `size` workers are ready, started one after another.
double sequential_start_ms(std::size_t size) {
  std::vector<snakepit::Snakepit> pools;
  const auto start = Clock::now();
  for (std::size_t i = 0; i < size; ++i) {
    auto pit = snakepit::Snakepit::start(pool_options(1));
    if (!pit) std::exit(1);
    pools.push_back(std::move(*pit));
  }
  return ms_since(start);
}

// Requests per second with `concurrency` requests kept in flight: plain
// execute() when `sessions` is 0, else execute_in_session() spread over that
// many sessions.
double ping_throughput(snakepit::Snakepit& pit, int concurrency, int requests, int sessions = 0) {
  std::mutex mutex;
  std::condition_variable done_cv;
  int issued = 0;
  int finished = 0;
  int errors = 0;
  std::function<void()> issue;
  auto next = [&](bool ok) {
    std::lock_guard lock(mutex);
    ++finished;
    if (!ok) ++errors;
    if (issued < requests) {
      ++issued;
      issue();
    }
    if (finished == requests) done_cv.notify_one();
  };
  issue = [&] {
    if (sessions == 0) {
      pit.execute_async("ping", Json::object(), [&next](snakepit::Result<Json> r) { next(r.ok()); });
    } else {
      pit.execute_in_session_async(fmt::format("s{}", issued % sessions), "ping", Json::object(),
                                   [&next](snakepit::Result<snakepit::SessionReply> r) { next(r.ok()); });
    }
  };
  const auto start = Clock::now();
  {
    std::lock_guard lock(mutex);
    for (; issued < std::min(concurrency, requests); ++issued) issue();
  }
  std::unique_lock lock(mutex);
  done_cv.wait(lock, [&] { return finished == requests; });
  const double seconds = ms_since(start) / 1000.0;
  if (errors > 0) fmt::print(stderr, "{} errors\n", errors);
  return requests / seconds;
}

}  // namespace

int main(int argc, char** argv) {
  int rounds = 3;
  int requests = 20000;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (std::strcmp(argv[i], "--rounds") == 0) rounds = std::atoi(argv[i + 1]);
    if (std::strcmp(argv[i], "--requests") == 0) requests = std::atoi(argv[i + 1]);
  }
  for (std::size_t size : {1, 4, 16}) {
    std::vector<double> concurrent, sequential;
    for (int r = 0; r < rounds; ++r) {
      concurrent.push_back(concurrent_start_ms(size));
      sequential.push_back(sequential_start_ms(size));
    }
    fmt::print(R"({{"scenario":"startup","size":{},"concurrent_ms":{:.1f},"sequential_ms":{:.1f},"ratio":{:.2f}}})" "\n",
               size, median(concurrent), median(sequential), median(sequential) / median(concurrent));
  }
  auto pit = snakepit::Snakepit::start(pool_options(2));
  if (!pit) return 1;
  for (int concurrency : {1, 8}) {
    // Plain and session rounds alternate, so both see the same machine.
    std::vector<double> plain, in_session;
    for (int r = 0; r < rounds; ++r) {
      plain.push_back(ping_throughput(*pit, concurrency, requests));
      in_session.push_back(ping_throughput(*pit, concurrency, requests, 100));
    }
    for (const auto& [scenario, rps] : {std::pair{"ping", &plain}, std::pair{"ping_in_session", &in_session}}) {
      fmt::print(R"({{"scenario":"{}","size":2,"concurrency":{},"requests":{},"throughput_rps":{:.0f},"min_rps":{:.0f},"max_rps":{:.0f}}})" "\n",
                 scenario, concurrency, requests, median(*rps), *std::min_element(rps->begin(), rps->end()),
                 *std::max_element(rps->begin(), rps->end()));
    }
    fmt::print(R"({{"scenario":"session_cost","concurrency":{},"session_over_plain":{:.3f}}})" "\n", concurrency,
               median(in_session) / median(plain));
  }
  return 0;
}
