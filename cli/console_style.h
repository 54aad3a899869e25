// Emphasis for human-readable output: ANSI colours only when writing to a
// terminal, plain text otherwise (pipes, files, tests).
#pragma once

#include <cstdio>
#include <string>
#include <string_view>

namespace snakepit::cli {

class ConsoleStyle {
 public:
  // Colours when `out` is a terminal and NO_COLOR is not set.
  static ConsoleStyle for_file(std::FILE* out);
  explicit ConsoleStyle(bool color) : color_(color) {}

  std::string heading(std::string_view text) const { return paint("1", text); }
  std::string good(std::string_view text) const { return paint("32", text); }
  std::string expected(std::string_view text) const { return paint("33", text); }
  std::string bad(std::string_view text) const { return paint("1;31", text); }
  std::string dim(std::string_view text) const { return paint("2", text); }

 private:
  std::string paint(std::string_view sgr, std::string_view text) const;
  bool color_;
};

}  // namespace snakepit::cli
