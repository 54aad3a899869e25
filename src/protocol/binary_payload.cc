#include "protocol/binary_payload.h"

#include <fmt/format.h>

#include "protocol/codec.h"
#include "protocol/length_prefixed.h"

namespace snakepit::internal {
namespace {

constexpr const char* kPlaceholderKey = "$bytes";

Status bad_binary(std::string message) {
  return invalid_argument(std::move(message), Json{{"reason", "bad_binary"}});
}

}  // namespace

void append_json_with_bytes(std::string& out, const Json& value, std::vector<Attachment>& attachments,
                            std::size_t& offset) {
  if (value.is_binary()) {
    const auto& bytes = value.get_binary();
    out += fmt::format("{{\"{}\":[{},{}]}}", kPlaceholderKey, offset, bytes.size());
    attachments.push_back({reinterpret_cast<const char*>(bytes.data()), bytes.size()});
    offset += bytes.size();
    return;
  }
  if (!contains_bytes(value)) {
    out += dump_json(value);
    return;
  }
  if (value.is_array()) {
    out += '[';
    bool first = true;
    for (const auto& item : value) {
      if (!std::exchange(first, false)) out += ',';
      append_json_with_bytes(out, item, attachments, offset);
    }
    out += ']';
    return;
  }
  out += '{';
  bool first = true;
  for (const auto& [key, item] : value.items()) {
    if (!std::exchange(first, false)) out += ',';
    out += dump_json(Json(key));
    out += ':';
    append_json_with_bytes(out, item, attachments, offset);
  }
  out += '}';
}

namespace {

// Replaces placeholders in `value` by the bytes they stand for.
Status restore(Json& value, std::string_view attachments) {
  if (value.is_object()) {
    if (value.size() == 1) {
      auto it = value.find(kPlaceholderKey);
      if (it != value.end()) {
        const Json& range = *it;
        if (!range.is_array() || range.size() != 2 || !range[0].is_number_unsigned() ||
            !range[1].is_number_unsigned()) {
          return bad_binary("a {\"$bytes\": …} placeholder must hold [offset, length]");
        }
        const auto offset = range[0].get<std::uint64_t>();
        const auto length = range[1].get<std::uint64_t>();
        if (offset > attachments.size() || length > attachments.size() - offset) {
          return bad_binary(fmt::format("byte string [{}, +{}] lies outside the {} attachment bytes", offset, length,
                                        attachments.size()));
        }
        const auto* data = reinterpret_cast<const std::uint8_t*>(attachments.data() + offset);
        value = Json::binary(std::vector<std::uint8_t>(data, data + length));
        return {};
      }
    }
    for (auto& item : value) {
      if (auto status = restore(item, attachments); !status.ok()) return status;
    }
  } else if (value.is_array()) {
    for (auto& item : value) {
      if (auto status = restore(item, attachments); !status.ok()) return status;
    }
  }
  return {};
}

}  // namespace

bool contains_bytes(const Json& value) {
  switch (value.type()) {
    case Json::value_t::binary:
      return true;
    case Json::value_t::array:
    case Json::value_t::object:
      for (const auto& item : value) {
        if (contains_bytes(item)) return true;
      }
      return false;
    default:
      return false;
  }
}

std::size_t append_binary_payload(std::string& out, const Json& value, std::vector<Attachment>& attachments) {
  const std::size_t length_at = out.size();
  out.append(4, '\0');
  std::size_t offset = 0;
  append_json_with_bytes(out, value, attachments, offset);
  write_be32(out.data() + length_at, static_cast<std::uint32_t>(out.size() - length_at - 4));
  return offset;
}

Result<Json> parse_binary_payload(std::string_view payload) {
  if (payload.size() < 4) return bad_binary("binary payload shorter than its 4-byte JSON length");
  const std::uint32_t json_length = read_be32(payload.data());
  if (json_length > payload.size() - 4) {
    return bad_binary(fmt::format("binary payload announces {} bytes of JSON but holds {}", json_length,
                                  payload.size() - 4));
  }
  const std::string_view text = payload.substr(4, json_length);
  Json value = Json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
  if (value.is_discarded()) return bad_binary("the JSON part of a binary payload is not valid JSON");
  if (auto status = restore(value, payload.substr(4 + json_length)); !status.ok()) return status;
  return value;
}

}  // namespace snakepit::internal
