// Byte strings next to JSON in one frame (docs/protocol.md, "Binary
// payloads"): payload = json_length:u32be, JSON, attachments; each byte
// string is {"$bytes":[offset,length]} in the JSON. Byte strings are
// Json::binary values on the C++ side.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "snakepit/json.h"
#include "snakepit/status.h"

namespace snakepit::internal {

// A byte string to be written after a frame's JSON; it points into the Json
// it came from, which must outlive the write.
struct Attachment {
  const char* data = nullptr;
  std::size_t size = 0;
};

bool contains_bytes(const Json& value);

// Appends the JSON of `value` with a placeholder for each byte string, which
// goes to `attachments` (not copied) at `offset`; advances `offset`.
void append_json_with_bytes(std::string& out, const Json& value, std::vector<Attachment>& attachments,
                            std::size_t& offset);

// Appends `json_length` (filled in here), the JSON of `value` with
// placeholders for its byte strings, and records each byte string in
// `attachments` (not copied). Returns the number of attachment bytes.
std::size_t append_binary_payload(std::string& out, const Json& value, std::vector<Attachment>& attachments);

// The value of a BINARY payload, byte strings restored. InvalidArgument
// (reason bad_binary) when it is malformed.
Result<Json> parse_binary_payload(std::string_view payload);

}  // namespace snakepit::internal
