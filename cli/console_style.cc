#include "console_style.h"

#include <unistd.h>

#include <cstdlib>

namespace snakepit::cli {

ConsoleStyle ConsoleStyle::for_file(std::FILE* out) {
  return ConsoleStyle(isatty(fileno(out)) != 0 && std::getenv("NO_COLOR") == nullptr);
}

std::string ConsoleStyle::paint(std::string_view sgr, std::string_view text) const {
  if (!color_) return std::string(text);
  std::string painted = "\x1b[";
  painted.append(sgr).append("m").append(text).append("\x1b[0m");
  return painted;
}

}  // namespace snakepit::cli
