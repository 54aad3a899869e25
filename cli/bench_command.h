// `snakepit bench`: the load generator. Drives pools through the scenario
// groups (startup, ping, session, payload, stream, tiny, baselines), runs
// the floors and Python's own pools in the same run, interleaved round by
// round, and prints one JSON line per scenario (medians of the rounds, with
// their spread and the ratio to the floor) plus a table on stderr.
// docs/performance.md describes every scenario and figure.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

namespace CLI {
class App;
}

namespace snakepit::cli {

struct BenchFlags {
  std::vector<std::string> scenarios;  // groups; empty: all
  int rounds = 3;
  long requests = 0;  // per measured ping run; 0: the default (smaller with --quick)
  bool quick = false;
  bool json = false;      // JSON lines only: no table, no progress
  std::string tools_dir;  // empty: the directory of this executable
  std::string python;     // empty: python3 resolved as the pool does
  std::vector<std::size_t> ping_pools;        // pool sizes of the ping group; empty: the plan's
  std::vector<std::size_t> ping_concurrency;  // requests in flight of the ping group; empty: the plan's
  std::vector<std::string> placements;        // "shared", "per_core"; empty: both
};

CLI::App* add_bench_command(CLI::App& app, BenchFlags& flags);
// 0 when every scenario ran with 0 errors, 1 otherwise.
int run_bench(const BenchFlags& flags);

}  // namespace snakepit::cli
