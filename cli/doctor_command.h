// `snakepit doctor`: checks that the pools a configuration (or the POOL
// flags) describe can run here, one line per check with what to do about a
// failure; --json for one JSON object instead.
#pragma once

#include "pool_flags.h"

namespace CLI {
class App;
}

namespace snakepit::cli {

struct DoctorFlags {
  DoctorFlags() { pool.log_level = "off"; }  // the checks report what the log would say
  PoolFlags pool;
  bool json = false;
};

CLI::App* add_doctor_command(CLI::App& app, DoctorFlags& flags);
// Cross-flag checks after parsing; throws CLI::ParseError subclasses.
void check_doctor_flags(const CLI::App& command, const DoctorFlags& flags);
// 0 when every check passed, 1 otherwise; a configuration that cannot be
// loaded exits with its code's exit code (exit_codes.h).
int run_doctor(const DoctorFlags& flags);

}  // namespace snakepit::cli
