// One line of `snakepit exec --batch` input, and the lines written back.
//
//   in:  {"id": <any>, "command": "compute", "args": {...}, "timeout_ms": 500,
//         "idempotent": false, "session": "user-42", "pool": "py"}
//   out: {"id": <id>, "ok": true, "result": <any>}
//        {"id": <id>, "ok": true, "result": <any>, "worker": {"id": "default-0.1", "pid": 123},
//         "previous_worker": "default-1.1"}   (session lines; previous_worker if it moved)
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
  std::optional<std::string> session;  // run with execute_in_session
  std::optional<std::string> pool;     // given: options.pool is set (else the runner's default)
  std::string error;                   // non-empty: the line is bad, answer with this
};

// Parses input line number `line_number` (1-based, for error messages).
// Unknown keys are errors, so a typo such as "arg" is not silently dropped.
BatchRequest parse_batch_request(std::string_view line, std::size_t line_number);

// The output line for a finished request.
std::string batch_response(const Json& id, const Result<Json>& result);
// The output line for a finished session request: as batch_response(), plus
// "worker" and, when the session moved, "previous_worker".
std::string batch_session_response(const Json& id, const Result<SessionReply>& reply);

}  // namespace snakepit::cli
