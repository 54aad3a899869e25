#include "bench_report.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstdio>

namespace snakepit::cli::bench {
namespace {

using Row = std::vector<std::string>;

// A number of `record` (or of its floor_ratio) in `spec`; "-" when absent.
std::string cell(const Record& record, const char* key, const char* spec = "{:.1f}") {
  if (!record.contains(key) || !record[key].is_number()) return "-";
  return fmt::format(fmt::runtime(spec), record[key].get<double>());
}

std::string ratio(const Record& record, const char* key) {
  if (!record.contains("floor_ratio")) return "-";
  return cell(record["floor_ratio"], key, "{:.2f}");
}

std::string range(const Record& record, const std::string& key, const char* spec) {
  const auto lo = key + "_min", hi = key + "_max";
  if (!record.contains(lo) || !record.contains(hi)) return "-";
  return fmt::format(fmt::runtime(std::string(spec) + "-" + spec), record[lo].get<double>(), record[hi].get<double>());
}

// A Markdown table, columns padded, so it reads in a terminal and pastes
// into docs/performance.md as is.
std::string markdown(const Row& header, const std::vector<Row>& rows) {
  std::vector<std::size_t> width(header.size());
  for (std::size_t c = 0; c < header.size(); ++c) {
    width[c] = header[c].size();
    for (const auto& row : rows) width[c] = std::max(width[c], row[c].size());
  }
  const auto line = [&](const Row& row) {
    std::string out = "|";
    for (std::size_t c = 0; c < row.size(); ++c) out += fmt::format(" {:<{}} |", row[c], width[c]);
    return out + "\n";
  };
  std::string out = line(header);
  Row rule;
  for (auto w : width) rule.push_back(std::string(w, '-'));
  out += line(rule);
  for (const auto& row : rows) out += line(row);
  return out;
}

std::string name(const Record& r) { return r.value("scenario", std::string("?")); }
std::string integer(const Record& r, const char* key) { return cell(r, key, "{:.0f}"); }

}  // namespace

void print_line(const Record& record) {
  fmt::print("{}\n", record.dump());
  std::fflush(stdout);
}

std::string format_table(const std::vector<Record>& records) {
  std::vector<Row> startup, requests;
  for (const auto& r : records) {
    if (r.contains("ready_ms")) {
      startup.push_back({name(r), integer(r, "size"), cell(r, "ready_ms"), range(r, "ready_ms", "{:.0f}"),
                         ratio(r, "ready_ms"), cell(r, "sequential_ms"), ratio(r, "sequential_ms"),
                         ratio(r, "ready_ms_vs_bare"), integer(r, "host_cpu_us_per_worker"),
                         integer(r, "worker_cpu_us_per_worker"), integer(r, "errors")});
    }
    if (r.contains("throughput_rps")) {
      requests.push_back({name(r), integer(r, "size"), integer(r, "concurrency"), integer(r, "throughput_rps"),
                          range(r, "throughput_rps", "{:.0f}"), ratio(r, "throughput_rps"), cell(r, "p50_us"),
                          ratio(r, "p50_us"), cell(r, "p90_us"), cell(r, "p99_us"), cell(r, "p999_us"),
                          cell(r, "host_cpu_us_per_req"), cell(r, "worker_cpu_us_per_req"), integer(r, "errors")});
    }
  }
  std::string out;
  if (!startup.empty()) {
    out += "\nStart-up (ms; x floor: ours / the floor's time, above 1 is slower)\n\n";
    out += markdown({"scenario", "size", "ready ms", "min-max", "x floor", "sequential ms", "x floor", "x bare python",
                     "host us/worker", "worker us/worker", "errors"},
                    startup);
  }
  if (!requests.empty()) {
    out += "\nRequests (x floor: throughput ours / floor's, below 1 is slower; p50 ours / floor's)\n\n";
    out += markdown({"scenario", "size", "conc", "req/s", "min-max", "x floor", "p50 us", "x floor", "p90 us", "p99 us",
                     "p99.9 us", "host us/req", "worker us/req", "errors"},
                    requests);
  }
  return out;
}

}  // namespace snakepit::cli::bench
