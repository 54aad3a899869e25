#include "cleanup_command.h"

#include <fmt/format.h>

#include <CLI/CLI.hpp>

#include "exit_codes.h"
#include "snakepit/snakepit.h"

namespace snakepit::cli {

CLI::App* add_cleanup_command(CLI::App& app, CleanupFlags& flags) {
  auto* command = app.add_subcommand(
      "cleanup", "Kill workers left behind by hosts that died (verified by start time and run marker)");
  command->add_option("--data-dir", flags.data_dir,
                      "Run registry directory (default: $SNAKEPIT_DATA_DIR, $XDG_RUNTIME_DIR/snakepit or "
                      "/tmp/snakepit-<uid>)");
  command->add_flag("--dry-run", flags.dry_run, "Report what would be killed; kill nothing");
  return command;
}

int run_cleanup(const CleanupFlags& flags) {
  auto report = cleanup_orphans(flags.data_dir, flags.dry_run);
  if (!report.ok()) {
    fmt::print(stderr, "snakepit cleanup: {}\n", report.status());
    return exit_code(report.status().code());
  }
  fmt::print("{}\n", report->dump());
  return kExitOk;
}

}  // namespace snakepit::cli
