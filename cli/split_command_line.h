// Splits a command line such as `python3 -u "my worker.py" --name 'a b'` into
// argv words without a shell: no variables, globs or redirections, so what
// the user typed is exactly what the worker gets.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "snakepit/status.h"

namespace snakepit::cli {

// Rules (a subset of POSIX sh quoting):
//   - unquoted blanks (space, tab, newline) separate words;
//   - '...' keeps everything literally up to the next ';
//   - "..." keeps everything literally except \" and \\ (and \` \$);
//   - outside quotes, a backslash keeps the next character literally;
//   - '' and "" make an empty word.
// Errors: InvalidArgument for an unbalanced quote, a trailing backslash, or
// a line with no words.
Result<std::vector<std::string>> split_command_line(std::string_view line);

}  // namespace snakepit::cli
