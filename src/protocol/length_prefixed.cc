#include "protocol/length_prefixed.h"

#include <fmt/format.h>

namespace snakepit::internal {

std::uint32_t read_be32(const char* p) {
  std::uint32_t v = 0;
  for (int i = 0; i < 4; ++i) v = (v << 8) | static_cast<unsigned char>(p[i]);
  return v;
}
std::uint64_t read_be64(const char* p) {
  std::uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = (v << 8) | static_cast<unsigned char>(p[i]);
  return v;
}
void write_be32(char* p, std::uint32_t v) {
  for (int i = 3; i >= 0; --i, v >>= 8) p[i] = static_cast<char>(v & 0xff);
}
void write_be64(char* p, std::uint64_t v) {
  for (int i = 7; i >= 0; --i, v >>= 8) p[i] = static_cast<char>(v & 0xff);
}

void LengthPrefixedBuffer::append(const char* data, std::size_t size) {
  if (offset_ == buffer_.size()) {
    buffer_.clear();
    offset_ = 0;
  } else if (offset_ > (1u << 16) && offset_ * 2 > buffer_.size()) {
    buffer_.erase(0, offset_);  // compact so a long stream doesn't creep
    offset_ = 0;
  }
  buffer_.append(data, size);
}

Status LengthPrefixedBuffer::fail(Status error) {
  error_ = std::move(error);
  return error_;
}

Result<std::optional<std::string_view>> LengthPrefixedBuffer::next() {
  if (!error_.ok()) return error_;
  if (buffered() < 4) return std::optional<std::string_view>{};
  const std::uint32_t length = read_be32(buffer_.data() + offset_);
  if (length < min_) {
    return fail(invalid_argument(fmt::format("malformed frame: length {} is below the minimum {}", length, min_),
                                 Json{{"reason", "malformed_frame"}, {"length", length}}));
  }
  if (length > max_) {
    return fail(invalid_argument(fmt::format("oversized frame: {} bytes announced, limit {}", length, max_),
                                 Json{{"reason", "oversized_frame"}, {"length", length}}));
  }
  if (buffered() < 4 + std::size_t{length}) {
    buffer_.reserve(offset_ + 4 + length);  // a large frame grows the buffer once
    return std::optional<std::string_view>{};
  }
  std::string_view body(buffer_.data() + offset_ + 4, length);
  offset_ += 4 + std::size_t{length};
  return std::optional<std::string_view>(body);
}

}  // namespace snakepit::internal
