// `snakepit exec`: one request (COMMAND [ARGS_JSON]) or a batch of JSON lines
// from stdin (--batch).
#pragma once

#include <cstddef>
#include <string>

#include "pool_flags.h"

namespace CLI {
class App;
}

namespace snakepit::cli {

struct ExecFlags {
  PoolFlags pool;
  std::string command;
  std::string args_json = "{}";
  std::string pool_name;  // --pool: the pool to run on; empty: the default pool
  std::string session;   // --session: run the request in this session
  bool verbose = false;  // --verbose: with --session, where it ran on stderr
  bool stream = false;   // --stream: a line per chunk, then the final status
  bool batch = false;
  std::size_t concurrency = 0;  // 0: the pool's size
  bool stats = false;
};

// Adds the `exec` subcommand to `app`, storing its flags in `flags`.
CLI::App* add_exec_command(CLI::App& app, ExecFlags& flags);
// Cross-flag checks after parsing; throws CLI::ParseError subclasses.
void check_exec_flags(const CLI::App& command, const ExecFlags& flags);
// Runs the parsed command; returns the exit code.
int run_exec(const ExecFlags& flags);

}  // namespace snakepit::cli
