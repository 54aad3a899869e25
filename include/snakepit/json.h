// JSON value type used for command arguments, results and error details.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

namespace snakepit {

using Json = nlohmann::json;

// Byte strings: a Json::binary value travels to and from workers as raw
// bytes (Python `bytes`), never as text or base64.
inline Json bytes(std::vector<std::uint8_t> data) { return Json::binary(std::move(data)); }
inline Json bytes(std::string_view data) {
  const auto* p = reinterpret_cast<const std::uint8_t*>(data.data());
  return Json::binary(std::vector<std::uint8_t>(p, p + data.size()));
}
inline Json bytes(std::span<const std::byte> data) {
  const auto* p = reinterpret_cast<const std::uint8_t*>(data.data());
  return Json::binary(std::vector<std::uint8_t>(p, p + data.size()));
}
// The bytes of a byte string (REQUIRES: value.is_binary()); valid while `value` is.
inline std::string_view bytes_view(const Json& value) {
  const auto& data = value.get_binary();
  return {reinterpret_cast<const char*>(data.data()), data.size()};
}

}  // namespace snakepit
