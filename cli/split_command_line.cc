#include "split_command_line.h"

namespace snakepit::cli {
namespace {

bool is_blank(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

// Characters a backslash escapes inside double quotes, as in sh.
bool escapable_in_double_quotes(char c) { return c == '"' || c == '\\' || c == '$' || c == '`'; }

}  // namespace

Result<std::vector<std::string>> split_command_line(std::string_view line) {
  std::vector<std::string> words;
  std::string word;
  bool in_word = false;  // distinguishes '' (an empty word) from nothing
  for (std::size_t i = 0; i < line.size(); ++i) {
    const char c = line[i];
    if (is_blank(c)) {
      if (in_word) words.push_back(std::move(word));
      word.clear();
      in_word = false;
    } else if (c == '\'') {
      const std::size_t end = line.find('\'', i + 1);
      if (end == std::string_view::npos) {
        return Status(Code::kInvalidArgument, "unbalanced single quote in command line");
      }
      word.append(line.substr(i + 1, end - i - 1));
      in_word = true;
      i = end;
    } else if (c == '"') {
      std::size_t j = i + 1;
      for (; j < line.size() && line[j] != '"'; ++j) {
        if (line[j] == '\\' && j + 1 < line.size() && escapable_in_double_quotes(line[j + 1])) ++j;
        word.push_back(line[j]);
      }
      if (j >= line.size()) {
        return Status(Code::kInvalidArgument, "unbalanced double quote in command line");
      }
      in_word = true;
      i = j;
    } else if (c == '\\') {
      if (i + 1 >= line.size()) {
        return Status(Code::kInvalidArgument, "trailing backslash in command line");
      }
      word.push_back(line[++i]);
      in_word = true;
    } else {
      word.push_back(c);
      in_word = true;
    }
  }
  if (in_word) words.push_back(std::move(word));
  if (words.empty()) return Status(Code::kInvalidArgument, "empty command line");
  return words;
}

}  // namespace snakepit::cli
