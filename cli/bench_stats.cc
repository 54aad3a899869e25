#include "bench_stats.h"

#include <fmt/format.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <iterator>
#include <sstream>

namespace snakepit::cli::bench {

double micros(Clock::duration d) { return std::chrono::duration<double, std::micro>(d).count(); }

double round1(double x) { return std::round(x * 10) / 10; }

double host_cpu_us() {
  rusage usage{};
  ::getrusage(RUSAGE_SELF, &usage);
  const auto us = [](const timeval& t) { return double(t.tv_sec) * 1e6 + double(t.tv_usec); };
  return us(usage.ru_utime) + us(usage.ru_stime);
}

double process_cpu_us(int pid) {
  std::ifstream in(fmt::format("/proc/{}/stat", pid));
  const std::string stat((std::istreambuf_iterator<char>(in)), {});
  const auto paren = stat.rfind(')');  // the command name may hold spaces
  if (paren == std::string::npos) return 0;
  std::istringstream fields(stat.substr(paren + 2));
  std::string skip;
  for (int field = 3; field < 14; ++field) fields >> skip;  // state .. cmajflt
  double utime = 0, stime = 0;                              // fields 14 and 15, in clock ticks
  if (!(fields >> utime >> stime)) return 0;
  return (utime + stime) * 1e6 / double(::sysconf(_SC_CLK_TCK));
}

double processes_cpu_us(const std::vector<int>& pids) {
  double sum = 0;
  for (int pid : pids) sum += process_cpu_us(pid);
  return sum;
}

double percentile(const std::vector<double>& sorted, double q) {
  if (sorted.empty()) return 0;
  const auto i = static_cast<std::size_t>(q * double(sorted.size() - 1) + 0.5);
  return round1(sorted[std::min(i, sorted.size() - 1)]);
}

void summarize(Phase phase, Record& into) {
  auto& lat = phase.latency_us;
  std::sort(lat.begin(), lat.end());
  const double n = double(std::max<std::size_t>(1, lat.size()));
  into["throughput_rps"] = round1(phase.seconds > 0 ? double(lat.size()) / phase.seconds : 0);
  into["p50_us"] = percentile(lat, 0.5);
  into["p90_us"] = percentile(lat, 0.9);
  into["p99_us"] = percentile(lat, 0.99);
  into["p999_us"] = percentile(lat, 0.999);
  into["errors"] = phase.errors;
  into["host_cpu_us_per_req"] = round1(phase.host_cpu_us / n);
  into["worker_cpu_us_per_req"] = round1(phase.worker_cpu_us / n);
}

namespace {

double median_of(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  // Even counts: the mean of the middle two, so 2 rounds give their midpoint.
  return v.size() % 2 == 1 ? v[v.size() / 2] : (v[v.size() / 2 - 1] + v[v.size() / 2]) / 2;
}

constexpr const char* kSpreadKeys[] = {"throughput_rps", "p50_us", "ready_ms", "sequential_ms"};

}  // namespace

Record combine(const std::vector<Record>& rounds) {
  Record out;
  if (rounds.empty()) return out;
  // Keys in first-seen order; a failed round may lack the figures.
  for (const auto& round : rounds) {
    for (const auto& [key, value] : round.items()) {
      if (out.contains(key)) continue;
      std::vector<double> values;
      for (const auto& r : rounds)
        if (r.contains(key) && r[key].is_number()) values.push_back(r[key].get<double>());
      if (key == "errors") {
        long sum = 0;
        for (const auto& r : rounds) sum += r.value("errors", 0L);
        out[key] = sum;
      } else if (value.is_number_integer() && !values.empty()) {
        out[key] = static_cast<long>(std::llround(median_of(values)));
      } else if (value.is_number() && !values.empty()) {
        out[key] = round1(median_of(values));
      } else {
        out[key] = value;  // names, flags, error messages: the first round's
      }
    }
  }
  out["rounds"] = rounds.size();
  for (const char* key : kSpreadKeys) {
    std::vector<double> values;
    for (const auto& r : rounds)
      if (r.contains(key) && r[key].is_number()) values.push_back(r[key].get<double>());
    if (values.empty()) continue;
    const auto [lo, hi] = std::minmax_element(values.begin(), values.end());
    out[std::string(key) + "_min"] = round1(*lo);
    out[std::string(key) + "_max"] = round1(*hi);
  }
  return out;
}

Record ratios(const Record& ours, const Record& floor, const std::vector<std::string>& keys) {
  Record out = Record::object();
  for (const auto& key : keys) {
    if (!ours.contains(key) || !floor.contains(key) || !ours[key].is_number() || !floor[key].is_number()) continue;
    const double base = floor[key].get<double>();
    if (base > 0) out[key] = std::round(ours[key].get<double>() / base * 100) / 100;
  }
  return out;
}

}  // namespace snakepit::cli::bench
