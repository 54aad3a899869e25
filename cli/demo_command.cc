#include "demo_command.h"

#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <chrono>

#include "demo.h"
#include "exit_codes.h"
#include "session_demo.h"
#include "signal_watcher.h"

namespace snakepit::cli {
namespace {

constexpr std::size_t kDemoSize = 4;
constexpr std::size_t kSessionsDemoSize = 3;
constexpr const char* kSessionsPart = "sessions";

}  // namespace

CLI::App* add_demo_command(CLI::App& app, DemoFlags& flags) {
  auto* command = app.add_subcommand(
      "demo",
      "Walk a pool of workers through ping, echo, compute, info, concurrent requests, "
      "expected errors and stats; `demo sessions`: through sessions");
  command
      ->add_option("PART", flags.part,
                   "sessions: the sessions demo (3 workers by default) instead of the generic one")
      ->check(CLI::IsMember({kSessionsPart}));
  add_pool_flags(*command, flags.pool, "default 4; demo sessions: 3");
  return command;
}

void check_demo_flags(const CLI::App& command, const DemoFlags& flags) {
  check_pool_flags(command, flags.pool);
}

int run_demo(const DemoFlags& flags) {
  const bool sessions = flags.part == kSessionsPart;
  const std::size_t default_size = sessions ? kSessionsDemoSize : kDemoSize;
  const auto style = ConsoleStyle::for_file(stdout);
  const std::size_t size = flags.pool.size > 0 ? flags.pool.size : default_size;
  const std::string adapter = !flags.pool.exec_line.empty() ? flags.pool.exec_line
                              : flags.pool.adapter == "node"   ? "node bridge, generic adapter"
                                                               : "python " + flags.pool.module;
  const std::string title = style.heading(sessions ? "Snakepit sessions demo" : "Snakepit demo");
  if (flags.pool.config.empty()) {
    fmt::print("{}\nStarting {} workers ({})...\n", title, size, adapter);
  } else {
    // The demo runs on the file's default pool.
    fmt::print("{}\nStarting the pools of {}...\n", title, flags.pool.config);
  }
  std::fflush(stdout);

  SignalWatcher watcher;  // before start: the pool's threads inherit its mask
  const auto start = std::chrono::steady_clock::now();
  auto pit = start_pool(flags.pool, default_size);
  if (!pit) return exit_code(pit.status().code());
  const auto startup = std::chrono::steady_clock::now() - start;
  PoolGuard guard(watcher, *pit);
  if (sessions) return SessionDemo(*pit, watcher, style).run(startup);
  Demo demo(*pit, watcher, style);
  return demo.run(startup);
}

}  // namespace snakepit::cli
