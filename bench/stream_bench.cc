// Streams, byte strings and worker → host calls (issue notes,
// docs/performance.md). Prints one JSON object per scenario; not a test.
//
//   build/bin/snakepit_stream_bench [--rounds N]
#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>

#include "snakepit/snakepit.h"

namespace {

using Clock = std::chrono::steady_clock;
using snakepit::Json;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

struct Spread {
  double median, min, max;
};

Spread spread(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return {v[v.size() / 2], v.front(), v.back()};
}

void print(const char* scenario, const char* unit, const Spread& s, const std::string& extra = {}) {
  fmt::print("{{\"scenario\":\"{}\",\"{}\":{:.1f},\"min\":{:.1f},\"max\":{:.1f}{}}}\n", scenario, unit, s.median,
             s.min, s.max, extra);
}

void die(const snakepit::Status& status) {
  fmt::print(stderr, "failed: {}\n", status);
  std::exit(1);
}

// The floor for a byte round trip: the same bytes through two bare pipes
// (1 MiB, like the pool's) and a child that copies one to the other.
double bare_pipe_round_trip_seconds(const std::string& data) {
  int to_child[2], from_child[2];
  if (::pipe(to_child) != 0 || ::pipe(from_child) != 0) std::exit(1);
  for (int fd : {to_child[1], from_child[0]}) ::fcntl(fd, F_SETPIPE_SZ, 1 << 20);
  const auto start = Clock::now();
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::close(to_child[1]);
    ::close(from_child[0]);
    std::vector<char> buffer(1 << 20);
    ssize_t n;
    while ((n = ::read(to_child[0], buffer.data(), buffer.size())) > 0) {
      for (ssize_t done = 0; done < n;) done += ::write(from_child[1], buffer.data() + done, n - done);
    }
    ::_exit(0);
  }
  ::close(to_child[0]);
  ::close(from_child[1]);
  std::thread writer([&] {
    for (std::size_t done = 0; done < data.size();) {
      const ssize_t n = ::write(to_child[1], data.data() + done, data.size() - done);
      if (n <= 0) break;
      done += static_cast<std::size_t>(n);
    }
    ::close(to_child[1]);
  });
  std::string back(data.size(), '\0');
  for (std::size_t done = 0; done < back.size();) {
    const ssize_t n = ::read(from_child[0], back.data() + done, back.size() - done);
    if (n <= 0) break;
    done += static_cast<std::size_t>(n);
  }
  const double seconds = seconds_since(start);
  writer.join();
  ::close(from_child[0]);
  ::waitpid(pid, nullptr, 0);
  return seconds;
}

}  // namespace

int main(int argc, char** argv) {
  int rounds = 5;
  for (int i = 1; i + 1 < argc; ++i) {
    if (std::strcmp(argv[i], "--rounds") == 0) rounds = std::max(1, std::atoi(argv[i + 1]));
  }
  snakepit::Options options;
  options.pool.size = 1;
  options.pool.adapter = snakepit::adapters::python();
  auto pit = snakepit::Snakepit::start(options);
  if (!pit) die(pit.error());
  if (auto s = pit->register_function({"noop", "", [](Json, const snakepit::CallContext&) -> snakepit::Result<Json> {
                                         return Json(nullptr);
                                       }});
      !s.ok()) {
    die(s);
  }
  const auto keep_going = [](Json) { return snakepit::StreamControl::kContinue; };

  // Small chunks: {"i": n}.
  constexpr int kChunks = 100000;
  std::vector<double> chunk_rates;
  for (int r = 0; r < rounds; ++r) {
    const auto start = Clock::now();
    auto result = pit->execute_stream("count", {{"n", kChunks}}, keep_going);
    if (!result.ok()) die(result.status());
    chunk_rates.push_back(kChunks / seconds_since(start));
  }
  print("stream_small_chunks", "chunks_per_s", spread(chunk_rates), fmt::format(",\"chunks\":{}", kChunks));

  // Worker → host calls: stream_calls makes one call per chunk; the call's
  // cost is what it adds to the same stream without calls.
  constexpr int kCalls = 20000;
  std::vector<double> call_us;
  for (int r = 0; r < rounds; ++r) {
    auto start = Clock::now();
    if (auto result = pit->execute_stream("count", {{"n", kCalls}}, keep_going); !result.ok()) die(result.status());
    const double plain = seconds_since(start);
    start = Clock::now();
    auto result = pit->execute_stream("stream_calls", {{"n", kCalls}, {"function", "noop"}}, keep_going);
    if (!result.ok()) die(result.status());
    call_us.push_back((seconds_since(start) - plain) / kCalls * 1e6);
  }
  print("host_call_round_trip", "us", spread(call_us), fmt::format(",\"calls\":{}", kCalls));

  // 32 MiB there and back, against the same bytes through bare pipes.
  const std::string data(32u << 20, 'x');
  const Json args = {{"data", snakepit::bytes(data)}, {"op", "identity"}};
  const double mib = static_cast<double>(data.size()) / (1 << 20);
  std::vector<double> pool_rate, pipe_rate;
  for (int r = 0; r < rounds; ++r) {
    const auto start = Clock::now();
    auto result = pit->execute("transform", args);
    if (!result.ok()) die(result.status());
    pool_rate.push_back(mib / seconds_since(start));
    pipe_rate.push_back(mib / bare_pipe_round_trip_seconds(data));
  }
  const Spread pool = spread(pool_rate), pipe = spread(pipe_rate);
  print("binary_32mib_round_trip", "mib_per_s", pool, fmt::format(",\"ratio_to_bare_pipe\":{:.2f}", pool.median / pipe.median));
  print("bare_pipe_32mib_round_trip", "mib_per_s", pipe);
  return 0;
}
