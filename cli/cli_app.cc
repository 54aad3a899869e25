#include "cli_app.h"

#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <exception>

#include "bench_command.h"
#include "cleanup_command.h"
#include "demo_command.h"
#include "doctor_command.h"
#include "exec_command.h"
#include "exit_codes.h"

namespace snakepit::cli {
namespace {

int parse_and_run(int argc, char** argv) {
  CLI::App app("snakepit: run commands on a pool of supervised worker processes", "snakepit");
  app.footer(exit_codes_help());
  app.require_subcommand(0, 1);
  DemoFlags demo_flags;
  ExecFlags exec_flags;
  CleanupFlags cleanup_flags;
  DoctorFlags doctor_flags;
  BenchFlags bench_flags;
  auto* demo = add_demo_command(app, demo_flags);
  auto* exec = add_exec_command(app, exec_flags);
  auto* cleanup = add_cleanup_command(app, cleanup_flags);
  auto* doctor = add_doctor_command(app, doctor_flags);
  auto* bench = add_bench_command(app, bench_flags);
  demo->footer(exit_codes_help());
  doctor->footer(
      "Examples:\n"
      "  snakepit doctor\n"
      "  snakepit doctor --config snakepit.toml --json\n"
      "  snakepit doctor --adapter node --module ./adapter.js\n\n"
      "Exit code: 0 when every check passed, 1 otherwise; a --config that cannot be loaded: its "
      "code's (10 InvalidArgument, 11 NotFound, 16 FailedPrecondition).\n");
  exec->footer(
      "Examples:\n"
      "  snakepit exec ping\n"
      "  snakepit exec compute '{\"operation\": \"add\", \"a\": 1, \"b\": 2}'\n"
      "  snakepit exec --session user-42 -v session_put '{\"key\": \"k\", \"value\": 1}'\n"
      "  printf '%s\\n' '{\"id\": 1, \"command\": \"ping\"}' | snakepit exec --batch --stats\n\n" +
      exit_codes_help());

  try {
    app.parse(argc, argv);
    if (demo->parsed()) check_demo_flags(*demo, demo_flags);
    if (exec->parsed()) check_exec_flags(*exec, exec_flags);
    if (doctor->parsed()) check_doctor_flags(*doctor, doctor_flags);
  } catch (const CLI::ParseError& e) {
    // app.exit() prints help (code 0) or the error; every error is a usage error.
    return app.exit(e) == 0 ? kExitOk : kExitUsage;
  }
  if (demo->parsed()) return run_demo(demo_flags);
  if (exec->parsed()) return run_exec(exec_flags);
  if (cleanup->parsed()) return run_cleanup(cleanup_flags);
  if (doctor->parsed()) return run_doctor(doctor_flags);
  if (bench->parsed()) return run_bench(bench_flags);
  fmt::print(stderr, "{}", app.help());
  return kExitUsage;
}

}  // namespace

int run(int argc, char** argv) {
  try {
    return parse_and_run(argc, argv);
  } catch (const std::exception& e) {
    fmt::print(stderr, "snakepit: internal error: {}\n", e.what());
  } catch (...) {
    fmt::print(stderr, "snakepit: internal error\n");
  }
  return kExitFailure;
}

}  // namespace snakepit::cli
