// `snakepit cleanup`: kills the workers that dead hosts left behind in the
// run registry's data dir and prints what it did as one JSON object.
#pragma once

#include <string>

namespace CLI {
class App;
}

namespace snakepit::cli {

struct CleanupFlags {
  std::string data_dir;  // empty: the library's default
  bool dry_run = false;
};

CLI::App* add_cleanup_command(CLI::App& app, CleanupFlags& flags);
int run_cleanup(const CleanupFlags& flags);

}  // namespace snakepit::cli
