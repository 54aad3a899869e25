// The POOL flags shared by `demo` and `exec`: parsed by CLI11, then turned
// into snakepit::Options.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "snakepit/options.h"
#include "snakepit/snakepit.h"

namespace CLI {
class App;
}
namespace spdlog {
class logger;
}

namespace snakepit::cli {

struct PoolFlags {
  std::size_t size = 0;  // 0: the command's default size
  std::string adapter = "python";
  std::string module = "snakepit_bridge.generic";
  std::vector<std::string> python_path;
  std::string exec_line;  // --exec "PROGRAM ARGS..."
  std::string protocol;   // empty: the adapter's default
  std::int64_t timeout_ms = PoolOptions{}.request_timeout.count();
  std::int64_t queue_timeout_ms = PoolOptions{}.queue_timeout.count();
  std::int64_t startup_timeout_ms = PoolOptions{}.startup_timeout.count();
  std::size_t max_queue = PoolOptions{}.max_queue;
  std::string log_level = "warn";
  std::string affinity;  // empty: the library's default (hint)
  std::string placement = "shared";  // --placement: shared or per_core (Options::placement)
  std::string config;    // --config FILE: the pools come from this file instead
};

// Adds the POOL flags to `command`, with validators so bad values fail the
// parse (exit code 2). `size_help` describes the command's default size.
void add_pool_flags(CLI::App& command, PoolFlags& flags, const std::string& size_help);

// Checks between flags that CLI11 cannot express. Throws CLI::ValidationError,
// to be reported by CLI::App::exit() like any other parse error.
void check_pool_flags(const CLI::App& command, const PoolFlags& flags);

// With --config, the file's pools (a pool without `size` gets
// `default_size` when it is not 0). Errors: InvalidArgument (a flag value
// the validators should have caught, a bad configuration), NotFound /
// FailedPrecondition (the configuration cannot be read).
Result<Options> make_options(const PoolFlags& flags, std::size_t default_size);

// The --log-level logger, not registered globally.
std::shared_ptr<spdlog::logger> make_logger(const std::string& level);

// Starts the pool. On failure prints the error as JSON on stderr, so callers
// only need to turn the status into an exit code.
Result<Snakepit> start_pool(const PoolFlags& flags, std::size_t default_size);

}  // namespace snakepit::cli
