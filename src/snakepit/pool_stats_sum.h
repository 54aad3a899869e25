// One pool's stats when its workers are split across event loops
// (Placement::kPerCore): the parts added up.
#pragma once

#include "snakepit/stats.h"

namespace snakepit::internal {

// Adds `part` into `total`: counts and maps are summed, workers appended;
// queue_peak and startup_duration keep the larger value (each loop's peak
// and start-up are its own). Names, start errors and session stats are
// the caller's to set.
void add_pool_stats(PoolStats& total, const PoolStats& part);

}  // namespace snakepit::internal
