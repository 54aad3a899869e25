// What a demo run found: the failures of its steps, in order, and the exit
// code they make (the first failure's). Shared by `demo` and `demo sessions`.
//
// Thread-compatible: one thread uses an outcome.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "console_style.h"

namespace snakepit::cli {

class DemoOutcome {
 public:
  // Records a failure; the first one's `code` becomes the exit code.
  void fail(std::string what, int code);
  bool failed() const { return !failures_.empty(); }

  // Prints "<name> finished: every step behaved as expected." or
  // "<name> FAILED (n): what; what" and returns the exit code.
  int finish(const ConsoleStyle& style, std::string_view name) const;

 private:
  int exit_code_ = 0;
  std::vector<std::string> failures_;
};

}  // namespace snakepit::cli
