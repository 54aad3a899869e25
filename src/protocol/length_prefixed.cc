#include "protocol/length_prefixed.h"

#include <algorithm>
#include <cstring>

#include <fmt/format.h>

namespace snakepit::internal {
namespace {
constexpr std::size_t kKeptCapacity = 1 << 20;
}  // namespace

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
  std::memcpy(prepare(size).data(), data, size);
  commit(size);
}

std::span<char> LengthPrefixedBuffer::prepare(std::size_t size) {
  if (offset_ == size_) {
    offset_ = size_ = 0;
    if (capacity_ > kKeptCapacity && size <= kKeptCapacity) {  // a past large message's memory goes back
      data_.reset();
      capacity_ = 0;
    }
  }
  // The rest of a pending message (its length is valid: next() checked it).
  std::size_t want = size;
  if (buffered() >= 4) {
    const std::size_t length = read_be32(data_.get() + offset_);
    if (length >= min_ && length <= max_) want = std::max(want, 4 + length - std::min(buffered(), 4 + length));
  }
  if (capacity_ - size_ < want) {
    const std::size_t live = buffered();
    if (offset_ > 0 && capacity_ - live >= want && live <= capacity_ / 2) {
      std::memmove(data_.get(), data_.get() + offset_, live);  // compact so a long stream doesn't creep
    } else {
      const std::size_t capacity = std::max(live + want, capacity_ * 2);
      auto grown = std::make_unique_for_overwrite<char[]>(capacity);
      if (live > 0) std::memcpy(grown.get(), data_.get() + offset_, live);
      data_ = std::move(grown);
      capacity_ = capacity;
    }
    offset_ = 0;
    size_ = live;
  }
  return {data_.get() + size_, capacity_ - size_};
}

Status LengthPrefixedBuffer::fail(Status error) {
  error_ = std::move(error);
  return error_;
}

Result<std::optional<std::string_view>> LengthPrefixedBuffer::next() {
  if (!error_.ok()) return error_;
  if (buffered() < 4) return std::optional<std::string_view>{};
  const std::uint32_t length = read_be32(data_.get() + offset_);
  if (length < min_) {
    return fail(invalid_argument(fmt::format("malformed frame: length {} is below the minimum {}", length, min_),
                                 Json{{"reason", "malformed_frame"}, {"length", length}}));
  }
  if (length > max_) {
    return fail(invalid_argument(fmt::format("oversized frame: {} bytes announced, limit {}", length, max_),
                                 Json{{"reason", "oversized_frame"}, {"length", length}}));
  }
  if (buffered() < 4 + std::size_t{length}) return std::optional<std::string_view>{};
  std::string_view body(data_.get() + offset_ + 4, length);
  offset_ += 4 + std::size_t{length};
  return std::optional<std::string_view>(body);
}

}  // namespace snakepit::internal
