// `snakepit demo [sessions]`: the generic demo, or the sessions demo, on a
// pool of Python workers.
#pragma once

#include <string>

#include "pool_flags.h"

namespace CLI {
class App;
}

namespace snakepit::cli {

struct DemoFlags {
  PoolFlags pool;
  std::string part;  // empty: the generic demo; "sessions": the sessions demo
};

// Adds the `demo` subcommand to `app`, storing its flags in `flags`.
CLI::App* add_demo_command(CLI::App& app, DemoFlags& flags);
// Cross-flag checks after parsing; throws CLI::ParseError subclasses.
void check_demo_flags(const CLI::App& command, const DemoFlags& flags);
// Runs the demo; returns the exit code.
int run_demo(const DemoFlags& flags);

}  // namespace snakepit::cli
