// Byte-stream buffer for messages prefixed by a 4-byte big-endian length.
// Shared by the native and snakepit-v0 codecs. Bounded: a length above the
// limit is rejected before anything is allocated for it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "snakepit/status.h"

namespace snakepit::internal {

std::uint32_t read_be32(const char* p);
std::uint64_t read_be64(const char* p);
void write_be32(char* p, std::uint32_t v);
void write_be64(char* p, std::uint64_t v);

class LengthPrefixedBuffer {
 public:
  LengthPrefixedBuffer(std::uint32_t min_length, std::uint32_t max_length)
      : min_(min_length), max_(max_length) {}

  void append(const char* data, std::size_t size);
  // Room to read into, at least `size` bytes (the rest of a large message
  // when one is pending, so it arrives in place: no copy); then commit()
  // the bytes read. Uninitialized: nothing is zero-filled.
  std::span<char> prepare(std::size_t size);
  void commit(std::size_t size) { size_ += size; }
  // The next complete message body (valid until the next append()), nullopt
  // when more bytes are needed, or InvalidArgument for a length outside
  // [min, max]; after an error the buffer stays failed.
  Result<std::optional<std::string_view>> next();
  std::size_t buffered() const { return size_ - offset_; }
  // Marks the stream failed (e.g. the body was malformed); next() returns it.
  Status fail(Status error);

 private:
  std::uint32_t min_;
  std::uint32_t max_;
  std::unique_ptr<char[]> data_;
  std::size_t capacity_ = 0;
  std::size_t size_ = 0;    // bytes in data_
  std::size_t offset_ = 0;  // start of the unread bytes
  Status error_;
};

}  // namespace snakepit::internal
