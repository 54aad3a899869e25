// Runs a short helper program to completion and returns its stdout (used
// once per Snakepit start to resolve the real Python interpreter).
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "snakepit/status.h"

namespace snakepit::internal {

// Errors: NotFound (no such program), DeadlineExceeded (killed at timeout),
// Unavailable (non-zero exit), ResourceExhausted (output above max_output).
Result<std::string> run_capture(const std::vector<std::string>& argv, std::chrono::milliseconds timeout,
                                std::size_t max_output = 1 << 16);

}  // namespace snakepit::internal
