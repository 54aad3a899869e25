#include "json_text.h"

#include <algorithm>
#include <cstdint>

namespace snakepit::cli {
namespace {

std::string base64(std::string_view data) {
  static constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((data.size() + 2) / 3 * 4);
  for (std::size_t i = 0; i < data.size(); i += 3) {
    const std::size_t n = std::min<std::size_t>(3, data.size() - i);
    std::uint32_t v = 0;
    for (std::size_t k = 0; k < 3; ++k) v = (v << 8) | (k < n ? static_cast<unsigned char>(data[i + k]) : 0u);
    for (std::size_t k = 0; k < 4; ++k) out += k <= n ? kAlphabet[(v >> (18 - 6 * k)) & 0x3f] : '=';
  }
  return out;
}

bool has_bytes(const Json& value) {
  if (value.is_binary()) return true;
  if (!value.is_structured()) return false;
  for (const auto& item : value) {
    if (has_bytes(item)) return true;
  }
  return false;
}

// Byte strings become {"$base64": "..."}: text output has no raw bytes.
Json printable(const Json& value) {
  if (value.is_binary()) return Json{{"$base64", base64(bytes_view(value))}};
  if (!has_bytes(value)) return value;
  Json out = value.is_array() ? Json::array() : Json::object();
  if (value.is_array()) {
    for (const auto& item : value) out.push_back(printable(item));
  } else {
    for (const auto& [key, item] : value.items()) out[key] = printable(item);
  }
  return out;
}

}  // namespace

std::string to_line(const Json& value) {
  const auto dump = [](const Json& v) { return v.dump(-1, ' ', false, Json::error_handler_t::replace); };
  return has_bytes(value) ? dump(printable(value)) : dump(value);
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
