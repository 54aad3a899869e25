// JSON text in and out for the CLI, without exceptions escaping.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "snakepit/json.h"

namespace snakepit::cli {

// Compact one-line JSON. Invalid UTF-8 from a worker is replaced (U+FFFD)
// instead of failing the whole output.
std::string to_line(const Json& value);

// Parses `text`; on failure returns nullopt and sets `error` to a short
// reason with the position, e.g. "syntax error at column 5".
std::optional<Json> parse_json(std::string_view text, std::string& error);

}  // namespace snakepit::cli
