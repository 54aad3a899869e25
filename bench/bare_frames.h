// Native-protocol frames over bare fds (docs/protocol.md, "Framing"), for
// the benchmark tools that must not use the library they measure: the floor
// driver (pipe_floor.cc) and the tiny worker (tiny_worker.cc).
#pragma once

#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <string_view>
#include <vector>

namespace bare {

enum Kind : std::uint8_t {
  kHello = 1, kRequest, kResponse, kChunk, kEnd, kCall, kReply, kCancel, kPing, kPong, kShutdown
};
constexpr std::uint8_t kFlagError = 0x01, kFlagBinary = 0x02, kFlagStream = 0x04;
constexpr std::size_t kHeader = 12;  // kind, flags, reserved, id

inline std::uint32_t get32(const char* p) {
  const auto* u = reinterpret_cast<const unsigned char*>(p);
  return (std::uint32_t{u[0]} << 24) | (std::uint32_t{u[1]} << 16) | (std::uint32_t{u[2]} << 8) | u[3];
}
inline void put32(char* p, std::uint32_t v) {
  for (int i = 0; i < 4; ++i) p[i] = static_cast<char>(v >> (24 - 8 * i));
}
inline std::uint64_t get64(const char* p) { return (std::uint64_t{get32(p)} << 32) | get32(p + 4); }
inline void put64(char* p, std::uint64_t v) {
  put32(p, static_cast<std::uint32_t>(v >> 32));
  put32(p + 4, static_cast<std::uint32_t>(v));
}

// Writes every iovec; large frames exceed the pipe, so writev may stop part
// way through one. False when the reader is gone.
inline bool write_all(int fd, iovec* iov, int count) {
  while (count > 0) {
    const ssize_t n = ::writev(fd, iov, count);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    for (auto done = static_cast<std::size_t>(n); done > 0;) {
      const std::size_t step = std::min(done, iov->iov_len);
      iov->iov_base = static_cast<char*>(iov->iov_base) + step;
      iov->iov_len -= step;
      done -= step;
      if (iov->iov_len == 0) ++iov, --count;
    }
    while (count > 0 && iov->iov_len == 0) ++iov, --count;
  }
  return true;
}

struct Frame {
  std::uint8_t kind = 0, flags = 0;
  std::uint64_t id = 0;
  std::string_view payload;  // valid until the next read
};

// Buffered frame reader: one read() usually brings a whole frame (or several).
class FrameReader {
 public:
  enum class Next { kFrame, kEnd, kBadLength };

  FrameReader(int fd, std::size_t max_frame) : fd_(fd), max_frame_(max_frame), buf_(64 << 10) {}

  Next next(Frame& f) {
    if (!fill(4)) return Next::kEnd;
    const std::size_t length = get32(buf_.data() + begin_);
    if (length < kHeader || length > max_frame_) return Next::kBadLength;
    if (!fill(4 + length)) return Next::kEnd;
    const char* p = buf_.data() + begin_ + 4;
    f.kind = static_cast<std::uint8_t>(p[0]);
    f.flags = static_cast<std::uint8_t>(p[1]);
    f.id = get64(p + 4);
    f.payload = {p + kHeader, length - kHeader};
    begin_ += 4 + length;
    return Next::kFrame;
  }

 private:
  bool fill(std::size_t need) {  // false on end of input
    if (begin_ + need > buf_.size()) {
      std::memmove(buf_.data(), buf_.data() + begin_, end_ - begin_);
      end_ -= begin_;
      begin_ = 0;
      if (need > buf_.size()) buf_.resize(need);
    }
    while (end_ - begin_ < need) {
      const ssize_t n = ::read(fd_, buf_.data() + end_, buf_.size() - end_);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return false;
      end_ += static_cast<std::size_t>(n);
    }
    return true;
  }

  int fd_;
  std::size_t max_frame_;
  std::vector<char> buf_;
  std::size_t begin_ = 0, end_ = 0;
};

}  // namespace bare
