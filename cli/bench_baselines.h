// `snakepit bench`: the baselines, measured by separate programs so that no
// pool code runs in them: snakepit_pipe_floor (the same worker over bare
// pipes, or bare interpreters spawned), and bench/baselines/mp_baseline.py
// (Python's multiprocessing.Pool and ProcessPoolExecutor). Each prints JSON
// lines, parsed here.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "bench_stats.h"
#include "snakepit/snakepit.h"

namespace snakepit::cli::bench {

struct Tools {
  std::string pipe_floor;   // snakepit_pipe_floor
  std::string tiny_worker;  // snakepit_tiny_worker
  std::string mp_script;    // mp_baseline.py
  Adapter python;           // the pool's Python adapter: the floor starts the same command line
};

// The tools in `tools_dir` (mp_baseline.py there, else in the source tree).
// A missing one stays named: running it reports it missing.
Tools find_tools(const std::string& tools_dir, Adapter python);

enum class FloorWorker {
  kBridge,  // the Python bridge with the generic adapter, as the pool runs it
  kTiny,    // snakepit_tiny_worker
  kBare,    // the interpreter running `pass`: the cost of starting Python
};

// `snakepit_pipe_floor FLAGS -- WORKER`: its JSON lines. NotFound when the
// tool is missing (the message names what to build); Unavailable when it
// failed without printing anything.
Result<std::vector<Record>> run_pipe_floor(const Tools& tools, const std::vector<std::string>& flags,
                                           FloorWorker worker);

// mp_baseline.py --sizes SIZES --requests N: Pool and ProcessPoolExecutor
// startup, one in flight per worker, flooded.
Result<std::vector<Record>> run_mp_baselines(const Tools& tools, const std::string& sizes, long requests);

}  // namespace snakepit::cli::bench
