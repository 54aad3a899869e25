// Exit codes of the snakepit CLI: a contract scripts and tests rely on.
// One per Status code, so a script can tell "bad arguments" from "worker lost"
// without parsing output. Documented in docs/cli.md and `snakepit --help`.
#pragma once

#include <string>

#include "snakepit/status.h"

namespace snakepit::cli {

inline constexpr int kExitOk = 0;
inline constexpr int kExitFailure = 1;  // the CLI itself failed unexpectedly
inline constexpr int kExitUsage = 2;    // bad flags, bad arguments, unknown command

// 0 for Ok, then InvalidArgument 10, NotFound 11, ... Internal 17.
int exit_code(Code code);
// 128 + signal number, as shells report it: SIGINT 130, SIGTERM 143.
int signal_exit_code(int signal_number);
// The exit code table, for --help footers.
std::string exit_codes_help();

}  // namespace snakepit::cli
