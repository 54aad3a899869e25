#include "protocol/frame.h"

#include <array>

#include <fmt/format.h>

namespace snakepit::internal {
namespace {

constexpr std::array<std::string_view, 12> kKindNames = {
    "invalid", "hello", "request", "response", "chunk", "end",
    "call",    "reply", "cancel",  "ping",     "pong",  "shutdown",
};

}  // namespace

std::string_view frame_kind_name(FrameKind kind) {
  const auto index = static_cast<std::size_t>(kind);
  return index < kKindNames.size() ? kKindNames[index] : "invalid";
}

void append_frame(std::string& out, FrameKind kind, std::uint8_t flags, std::uint64_t id,
                  std::string_view payload) {
  char header[kLengthBytes + kHeaderBytes];
  write_be32(header, static_cast<std::uint32_t>(kHeaderBytes + payload.size()));
  header[4] = static_cast<char>(kind);
  header[5] = static_cast<char>(flags);
  header[6] = 0;
  header[7] = 0;
  write_be64(header + 8, id);
  out.append(header, sizeof header);
  out.append(payload);
}

std::string encode_frame(const Frame& frame) {
  std::string out;
  out.reserve(kLengthBytes + kHeaderBytes + frame.payload.size());
  append_frame(out, frame.kind, frame.flags, frame.id, frame.payload);
  return out;
}

Result<std::optional<FrameView>> FrameDecoder::next_view() {
  auto body = buffer_.next();
  if (!body.ok()) return body.status();
  if (!body->has_value()) return std::optional<FrameView>{};
  const std::string_view bytes = **body;
  const auto kind = static_cast<std::uint8_t>(bytes[0]);
  const auto flags = static_cast<std::uint8_t>(bytes[1]);
  if (kind < static_cast<std::uint8_t>(FrameKind::kHello) || kind > static_cast<std::uint8_t>(FrameKind::kShutdown)) {
    return buffer_.fail(invalid_argument(fmt::format("malformed frame: unknown kind {}", kind),
                                         Json{{"reason", "unknown_kind"}}));
  }
  if ((flags & ~frame_flags::kKnown) != 0) {
    return buffer_.fail(invalid_argument(fmt::format("malformed frame: unknown flags 0x{:02x}", flags),
                                         Json{{"reason", "unknown_flags"}}));
  }
  return std::optional<FrameView>(
      FrameView{static_cast<FrameKind>(kind), flags, read_be64(bytes.data() + 4), bytes.substr(kHeaderBytes)});
}

}  // namespace snakepit::internal
