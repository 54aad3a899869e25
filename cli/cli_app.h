// The snakepit command line: parses arguments with CLI11 and runs the chosen
// command. Kept out of main.cc so it can be driven from tests.
#pragma once

namespace snakepit::cli {

// Returns the process exit code (see exit_codes.h); never throws.
int run(int argc, char** argv);

}  // namespace snakepit::cli
