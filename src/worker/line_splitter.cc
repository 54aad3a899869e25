#include "worker/line_splitter.h"

namespace snakepit::internal {

void LineSplitter::emit(std::string_view line, bool cut) {
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  if (!cut) {
    sink_(line);
    return;
  }
  std::string marked(line);
  marked += " [cut]";
  sink_(marked);
}

void LineSplitter::feed(std::string_view bytes) {
  while (!bytes.empty()) {
    const auto newline = bytes.find('\n');
    const auto take = newline == std::string_view::npos ? bytes.size() : newline;
    const auto room = max_line_ - partial_.size();
    if (take > room) {  // the line overflows: emit what fits, keep going
      partial_.append(bytes.substr(0, room));
      emit(partial_, true);
      partial_.clear();
      bytes.remove_prefix(room);
      continue;
    }
    if (newline == std::string_view::npos) {
      partial_.append(bytes);
      return;
    }
    if (partial_.empty()) {
      emit(bytes.substr(0, newline), false);
    } else {
      partial_.append(bytes.substr(0, newline));
      emit(partial_, false);
      partial_.clear();
    }
    bytes.remove_prefix(newline + 1);
  }
}

void LineSplitter::flush() {
  if (partial_.empty()) return;
  emit(partial_, false);
  partial_.clear();
}

}  // namespace snakepit::internal
