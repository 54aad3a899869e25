#include "json_text.h"

namespace snakepit::cli {

std::string to_line(const Json& value) {
  return value.dump(-1, ' ', false, Json::error_handler_t::replace);
}

std::optional<Json> parse_json(std::string_view text, std::string& error) {
  try {
    return Json::parse(text);
  } catch (const Json::parse_error& e) {
    // e.what() is "[json.exception.parse_error.101] parse error at line 1, ...":
    // keep the readable part.
    std::string what = e.what();
    const auto start = what.find("] ");
    error = start == std::string::npos ? what : what.substr(start + 2);
    return std::nullopt;
  }
}

}  // namespace snakepit::cli
