// Validation of Options, with errors naming the field and the allowed range.
#pragma once

#include "snakepit/options.h"
#include "snakepit/status.h"

namespace snakepit::internal {

// Fills defaults (size 0 → 2 × hardware threads, empty adapter → Python),
// moves a lone `pool` into `pools` (so `pools` lists every pool afterwards)
// and sets `default_pool`; checks every value. Errors: InvalidArgument
// naming the field ("pool.size", or "pools.<name>.size" among several).
Status normalize_options(Options& options);

}  // namespace snakepit::internal
