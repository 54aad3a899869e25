// Reads '\n'-terminated lines from a file descriptor, and stops early when an
// interrupt descriptor becomes readable (see SignalWatcher::interrupt_fd):
// a blocking std::getline could not be woken up by Ctrl-C.
//
// Thread-compatible: one thread uses a reader.
#pragma once

#include <cstddef>
#include <optional>
#include <string>

namespace snakepit::cli {

class LineReader {
 public:
  // `interrupt_fd` < 0: never interrupted. Lines longer than `max_line` bytes
  // are dropped and reported through last_too_long().
  LineReader(int fd, int interrupt_fd, std::size_t max_line);

  // The next line without its "\n" or "\r\n"; a last line without a newline
  // counts. nullopt at end of input, on a read error or on interrupt.
  std::optional<std::string> next();
  // The line last returned by next() was over max_line and is empty.
  bool last_too_long() const { return last_too_long_; }
  bool interrupted() const { return interrupted_; }

 private:
  bool fill();  // reads more input; false at end, error or interrupt

  int fd_;
  int interrupt_fd_;
  std::size_t max_line_;
  std::string buffer_;
  std::size_t scanned_ = 0;  // bytes of buffer_ known to hold no '\n'
  bool eof_ = false;
  bool too_long_ = false;  // dropping the rest of an over-long line
  bool last_too_long_ = false;
  bool interrupted_ = false;
};

}  // namespace snakepit::cli
