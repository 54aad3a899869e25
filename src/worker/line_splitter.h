// Splits a byte stream into lines of bounded length. Pure logic, so it is
// unit tested; OutputCapture feeds it from a worker's stdout/stderr.
#pragma once

#include <cstddef>
#include <functional>
#include <string>
#include <string_view>

namespace snakepit::internal {

class LineSplitter {
 public:
  using Sink = std::function<void(std::string_view line)>;

  LineSplitter(std::size_t max_line, Sink sink) : max_line_(max_line), sink_(std::move(sink)) {}

  // Emits every complete line (without '\n'). A line longer than max_line
  // is emitted in pieces of max_line bytes, each marked " [cut]".
  void feed(std::string_view bytes);
  // Emits a trailing partial line, if any (call at end of stream).
  void flush();

 private:
  void emit(std::string_view line, bool cut);

  std::size_t max_line_;
  Sink sink_;
  std::string partial_;
};

}  // namespace snakepit::internal
