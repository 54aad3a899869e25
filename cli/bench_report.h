// `snakepit bench`: what it prints. One JSON line per scenario on stdout as
// soon as the scenario's rounds are done, and at the end a readable table
// (on stderr, so stdout stays JSON lines only).
#pragma once

#include <string>
#include <vector>

#include "bench_stats.h"

namespace snakepit::cli::bench {

void print_line(const Record& record);

// Two tables: start-up (records with ready_ms) and requests (records with
// throughput_rps), each figure next to its ratio to the floor.
std::string format_table(const std::vector<Record>& records);

}  // namespace snakepit::cli::bench
