#include "line_reader.h"

#include <poll.h>
#include <unistd.h>

#include <cerrno>

namespace snakepit::cli {

LineReader::LineReader(int fd, int interrupt_fd, std::size_t max_line)
    : fd_(fd), interrupt_fd_(interrupt_fd), max_line_(max_line) {}

std::optional<std::string> LineReader::next() {
  for (;;) {
    const auto newline = buffer_.find('\n', scanned_);
    if (newline != std::string::npos || (eof_ && !buffer_.empty()) || (eof_ && too_long_)) {
      const auto end = newline == std::string::npos ? buffer_.size() : newline;
      std::string line = buffer_.substr(0, end);
      buffer_.erase(0, newline == std::string::npos ? end : end + 1);
      scanned_ = 0;
      if (!line.empty() && line.back() == '\r') line.pop_back();
      last_too_long_ = too_long_ || line.size() > max_line_;
      too_long_ = false;
      if (last_too_long_) line.clear();
      return line;
    }
    if (eof_) return std::nullopt;
    scanned_ = buffer_.size();
    if (buffer_.size() > max_line_) {
      // Keep memory bounded: forget the line, remember that it was too long.
      too_long_ = true;
      buffer_.clear();
      scanned_ = 0;
    }
    if (!fill()) return std::nullopt;
  }
}

bool LineReader::fill() {
  pollfd fds[2] = {{fd_, POLLIN, 0}, {interrupt_fd_, POLLIN, 0}};
  const nfds_t count = interrupt_fd_ >= 0 ? 2 : 1;
  for (;;) {
    if (poll(fds, count, -1) < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    if (count == 2 && (fds[1].revents & POLLIN) != 0) {
      interrupted_ = true;
      return false;
    }
    if (fds[0].revents == 0) continue;
    char chunk[65536];
    const ssize_t n = read(fd_, chunk, sizeof chunk);
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
    if (n <= 0) {
      eof_ = true;  // end of input; a read error ends it too
      return true;  // let next() hand out a last unterminated line
    }
    buffer_.append(chunk, static_cast<std::size_t>(n));
    return true;
  }
}

}  // namespace snakepit::cli
