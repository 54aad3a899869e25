#include "base/log.h"

#include <spdlog/sinks/stdout_sinks.h>

namespace snakepit::internal {

LoggerPtr make_default_logger() {
  auto logger = std::make_shared<spdlog::logger>("snakepit", std::make_shared<spdlog::sinks::stderr_sink_mt>());
  logger->set_level(spdlog::level::warn);
  return logger;
}

}  // namespace snakepit::internal
