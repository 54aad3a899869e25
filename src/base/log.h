// Logging glue: each Snakepit instance logs through its own spdlog logger
// (no process-global registry entry), so several pools can coexist.
#pragma once

#include <memory>

#include <spdlog/logger.h>

namespace snakepit::internal {

using LoggerPtr = std::shared_ptr<spdlog::logger>;

// A logger named "snakepit" writing to stderr at level warn.
LoggerPtr make_default_logger();

}  // namespace snakepit::internal
