// `snakepit bench`: the scenarios that drive a pool. Each returns one round
// as a Record (bench_stats.h); failures land in the record ("errors",
// "error"), never abort the run.
#pragma once

#include <cstddef>
#include <string>

#include "bench_stats.h"
#include "snakepit/snakepit.h"

namespace snakepit::cli::bench {

// Starts a pool of `size` workers of `adapter`, production defaults otherwise.
Result<Snakepit> start_pool(const Adapter& adapter, std::size_t size, Placement placement = Placement::kShared);

// The request a load repeats.
struct Load {
  std::string command = "ping";
  Json args = Json::object();
  std::size_t concurrency = 1;  // requests kept in flight
  long requests = 0;
  int sessions = 0;  // > 0: execute_in_session over this many sessions, round robin
};

// Runs `load` on `pit`: `concurrency` requests in flight (each completion
// issues the next from the loop thread), timed one by one.
Phase run_load(Snakepit& pit, const Load& load);
// A warm-up of `warmup` requests, then run_load: the summarized figures.
Record load_round(Snakepit& pit, const Load& load, long warmup);

// Start-up of `size` workers as one pool (concurrently) and as `size` pools
// of one started one after another: ready_ms, sequential_ms, CPU per worker.
Record startup_round(const Adapter& adapter, std::size_t size);

// One `count` stream of `chunks` small chunks on a pool of one: chunks per
// second; latencies are the gaps between chunk arrivals.
Record stream_round(const Adapter& adapter, long chunks);

// `size` workers of `adapter` started (ready_ms), then `size` pings at once,
// so that each worker is pinged about once ("workers_pinged" says how many).
Record many_workers_round(const Adapter& adapter, std::size_t size);

}  // namespace snakepit::cli::bench
