// What a demo run found: the failures of its steps, in order, and the exit
// code they make (the first failure's); and the step loop and section
// headings. Shared by `demo` and `demo sessions`.
//
// Thread-compatible: one thread uses an outcome.
#pragma once

#include <cstdio>
#include <string>
#include <string_view>
#include <vector>

#include "console_style.h"
#include "exit_codes.h"
#include "signal_watcher.h"

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

// Prints the heading "[number/total] title".
void print_section(const ConsoleStyle& style, int number, int total, std::string_view title);

// Runs `demo`'s steps in order, stopping early on a signal; returns the
// signal's exit code, or the outcome's.
template <typename Demo>
int run_demo_steps(Demo& demo, const std::vector<void (Demo::*)()>& steps, const SignalWatcher& watcher,
                   const DemoOutcome& outcome, const ConsoleStyle& style, std::string_view name) {
  for (auto step : steps) {
    if (watcher.signal() != 0) break;
    (demo.*step)();
    std::fflush(stdout);
  }
  if (watcher.signal() != 0) return signal_exit_code(watcher.signal());
  return outcome.finish(style, name);
}

}  // namespace snakepit::cli
