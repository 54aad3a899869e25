#include "doctor_command.h"

#include <fmt/format.h>

#include <CLI/CLI.hpp>

#include "console_style.h"
#include "doctor_checks.h"
#include "exit_codes.h"
#include "json_text.h"
#include "signal_watcher.h"

namespace snakepit::cli {
namespace {

void print_text(const std::vector<PoolReport>& reports) {
  const auto style = ConsoleStyle::for_file(stdout);
  std::size_t total = 0;
  std::size_t failures = 0;
  for (const auto& report : reports) {
    fmt::print("{}\n", style.heading(fmt::format("pool {} ({})", report.pool, report.adapter)));
    for (const auto& check : report.checks) {
      ++total;
      if (!check.ok) ++failures;
      const std::string mark = check.ok ? style.good("ok  ") : style.bad("FAIL");
      fmt::print("  {}  {:<10}  {}\n", mark, check.name, check.detail);
      if (!check.fix.empty()) fmt::print("  {:<4}  {:<10}  fix: {}\n", "", "", check.fix);
    }
  }
  if (failures == 0) {
    fmt::print("{}\n", style.good(fmt::format("all {} checks passed", total)));
  } else {
    fmt::print("{}\n", style.bad(fmt::format("{} of {} checks FAILED", failures, total)));
  }
}

}  // namespace

CLI::App* add_doctor_command(CLI::App& app, DoctorFlags& flags) {
  auto* command =
      app.add_subcommand("doctor",
                         "Check that the pools of --config (or the POOL flags) can run here: interpreter and version, "
                         "bridge, adapter module, a worker's start and its commands");
  add_pool_flags(*command, flags.pool, "ignored: doctor starts one worker per pool");
  command->add_flag("--json", flags.json,
                    "Print one JSON object {\"ok\", \"pools\": [{\"pool\", \"checks\": [{\"name\", \"ok\", "
                    "\"detail\", \"fix\"}]}]}");
  return command;
}

void check_doctor_flags(const CLI::App& command, const DoctorFlags& flags) { check_pool_flags(command, flags.pool); }

int run_doctor(const DoctorFlags& flags) {
  auto options = make_options(flags.pool, 1);
  if (!options) {
    fmt::print(stderr, "{}\n", options.status().to_json().dump());
    return exit_code(options.status().code());
  }
  SignalWatcher watcher;  // before any start: the pools' threads inherit its mask
  const std::vector<PoolOptions> pools = options->pools.empty() ? std::vector{options->pool} : options->pools;
  std::vector<PoolReport> reports;
  for (const auto& pool : pools) {
    if (watcher.signal() != 0) break;
    reports.push_back(check_pool(pool, *options, watcher));
  }
  if (watcher.signal() != 0) return signal_exit_code(watcher.signal());
  bool ok = true;
  Json pools_json = Json::array();
  for (const auto& report : reports) {
    ok = ok && report.ok();
    pools_json.push_back(to_json(report));
  }
  if (flags.json) {
    fmt::print("{}\n", to_line(Json{{"ok", ok}, {"pools", std::move(pools_json)}}));
  } else {
    print_text(reports);
  }
  return ok ? kExitOk : kExitFailure;
}

}  // namespace snakepit::cli
