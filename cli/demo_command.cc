#include "demo_command.h"

#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <chrono>

#include "demo.h"
#include "exit_codes.h"
#include "signal_watcher.h"

namespace snakepit::cli {
namespace {

constexpr std::size_t kDemoSize = 4;

}  // namespace

CLI::App* add_demo_command(CLI::App& app, DemoFlags& flags) {
  auto* command = app.add_subcommand(
      "demo",
      "Walk a pool of workers through ping, echo, compute, info, concurrent requests, "
      "expected errors and stats");
  add_pool_flags(*command, flags.pool, "default 4");
  return command;
}

void check_demo_flags(const CLI::App& command, const DemoFlags& flags) {
  check_pool_flags(command, flags.pool);
}

int run_demo(const DemoFlags& flags) {
  const auto style = ConsoleStyle::for_file(stdout);
  const std::size_t size = flags.pool.size > 0 ? flags.pool.size : kDemoSize;
  const std::string adapter =
      flags.pool.exec_line.empty() ? "python " + flags.pool.module : flags.pool.exec_line;
  fmt::print("{}\nStarting {} workers ({})...\n", style.heading("Snakepit demo"), size, adapter);
  std::fflush(stdout);

  SignalWatcher watcher;  // before start: the pool's threads inherit its mask
  const auto start = std::chrono::steady_clock::now();
  auto pit = start_pool(flags.pool, kDemoSize);
  if (!pit) return exit_code(pit.status().code());
  const auto startup = std::chrono::steady_clock::now() - start;
  PoolGuard guard(watcher, *pit);
  Demo demo(*pit, watcher, style);
  return demo.run(startup);
}

}  // namespace snakepit::cli
