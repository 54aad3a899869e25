// Native protocol framing (docs/protocol.md):
//   uint32 length (BE) | kind u8 | flags u8 | reserved u16 | id u64 (BE) | payload
// `length` counts header + payload. Decoding is incremental and bounded: an
// announced length above the limit is rejected before any allocation.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "protocol/length_prefixed.h"
#include "snakepit/status.h"

namespace snakepit::internal {

enum class FrameKind : std::uint8_t {
  kHello = 1,
  kRequest = 2,
  kResponse = 3,
  kChunk = 4,
  kEnd = 5,
  kCall = 6,
  kReply = 7,
  kCancel = 8,
  kPing = 9,
  kPong = 10,
  kShutdown = 11,
};

std::string_view frame_kind_name(FrameKind kind);

namespace frame_flags {
inline constexpr std::uint8_t kError = 0x01;
inline constexpr std::uint8_t kBinary = 0x02;
inline constexpr std::uint8_t kStream = 0x04;
inline constexpr std::uint8_t kKnown = kError | kBinary | kStream;
}  // namespace frame_flags

inline constexpr std::size_t kLengthBytes = 4;
inline constexpr std::size_t kHeaderBytes = 12;

// A decoded frame whose payload still lies in the decoder's buffer: valid
// until the next append() (no copy on the request path).
struct FrameView {
  FrameKind kind = FrameKind::kHello;
  std::uint8_t flags = 0;
  std::uint64_t id = 0;
  std::string_view payload;
};

struct Frame {
  FrameKind kind = FrameKind::kHello;
  std::uint8_t flags = 0;
  std::uint64_t id = 0;
  std::string payload;
};

// Appends the encoded frame to `out` (no allocation beyond out's growth).
void append_frame(std::string& out, FrameKind kind, std::uint8_t flags, std::uint64_t id,
                  std::string_view payload);
std::string encode_frame(const Frame& frame);

// Incremental decoder over a byte stream. Feed bytes with append(); take
// frames with next() until it returns nullopt. After an error the decoder
// stays failed (the stream cannot be resynchronised).
class FrameDecoder {
 public:
  explicit FrameDecoder(std::uint32_t max_frame_bytes) : buffer_(kHeaderBytes, max_frame_bytes) {}

  void append(const char* data, std::size_t size) { buffer_.append(data, size); }
  // Reading in place: see LengthPrefixedBuffer::prepare().
  std::span<char> prepare(std::size_t size) { return buffer_.prepare(size); }
  void commit(std::size_t size) { buffer_.commit(size); }
  // The next complete frame, nullopt if more bytes are needed, or
  // InvalidArgument for a malformed or oversized frame.
  Result<std::optional<FrameView>> next_view();
  std::size_t buffered() const { return buffer_.buffered(); }

 private:
  LengthPrefixedBuffer buffer_;
};

}  // namespace snakepit::internal
