// One line of `snakepit exec --batch` input, and the lines written back.
//
//   in:  {"id": <any>, "command": "compute", "args": {...}, "timeout_ms": 500}
//   out: {"id": <id>, "ok": true, "result": <any>}
//        {"id": <id>, "ok": false, "error": {"code": ..., "message": ..., "details": ...}}
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include "snakepit/snakepit.h"

namespace snakepit::cli {

struct BatchRequest {
  Json id;  // echoed back as given; null when absent or unreadable
  std::string command;
  Json args = Json::object();
  ExecuteOptions options;
  std::string error;  // non-empty: the line is bad, answer with this
};

// Parses input line number `line_number` (1-based, for error messages).
// Unknown keys are errors, so a typo such as "arg" is not silently dropped.
BatchRequest parse_batch_request(std::string_view line, std::size_t line_number);

// The output line for a finished request.
std::string batch_response(const Json& id, const Result<Json>& result);

}  // namespace snakepit::cli
