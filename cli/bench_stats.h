// `snakepit bench`: the arithmetic under every figure. Percentiles from
// per-request timings, medians of rounds with their spread, and CPU time
// (getrusage for this process, /proc/<pid>/stat for workers) so that a
// figure comes with what it cost.
#pragma once

#include <chrono>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace snakepit::cli::bench {

// One JSON line; ordered so every line reads scenario, size, concurrency...
using Record = nlohmann::ordered_json;
using Clock = std::chrono::steady_clock;

double micros(Clock::duration d);
double round1(double x);  // one decimal: finer digits are noise here

// CPU time (user + system) of this process, every thread included.
double host_cpu_us();
// CPU time of a live process from /proc/<pid>/stat; 0 once it is gone.
double process_cpu_us(int pid);
double processes_cpu_us(const std::vector<int>& pids);

// Nearest-rank percentile of an ascending vector (q in 0..1).
double percentile(const std::vector<double>& sorted, double q);

// A measured phase of `latency_us.size()` requests.
struct Phase {
  std::vector<double> latency_us;
  double seconds = 0;
  long errors = 0;
  double host_cpu_us = 0;
  double worker_cpu_us = 0;
};

// throughput_rps, p50_us ... p999_us, errors, host/worker CPU per request,
// in the documented order (after whatever `into` already holds).
void summarize(Phase phase, Record& into);

// Rounds of one scenario → one record: the median of every number, errors
// summed, "rounds", and "<key>_min"/"<key>_max" for the headline figures.
Record combine(const std::vector<Record>& rounds);

// ours[key] / floor[key] for each key both hold (rounded to 0.01), as
// "key": ratio; throughput below 1 and times above 1 mean slower than the floor.
Record ratios(const Record& ours, const Record& floor, const std::vector<std::string>& keys);

}  // namespace snakepit::cli::bench
