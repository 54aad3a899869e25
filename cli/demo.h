// The generic demo: walks a running pool through ping, echo, compute, info,
// concurrent requests, expected errors and its stats, printing each step for
// a person to read. A step that misbehaves (an error where a result was
// expected, a wrong result, or success where an error was expected) is shown
// and makes the demo fail.
//
// Thread-compatible: one thread runs a Demo.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "console_style.h"
#include "demo_outcome.h"
#include "signal_watcher.h"
#include "snakepit/snakepit.h"

namespace snakepit::cli {

class Demo {
 public:
  Demo(Snakepit& pit, const SignalWatcher& watcher, ConsoleStyle style)
      : pit_(pit), watcher_(watcher), style_(style) {}

  // Runs every step (stops early on a signal). `startup` is how long start()
  // took. Returns the exit code: 0, the first unexpected error's code, or
  // kExitFailure for a wrong result.
  int run(std::chrono::steady_clock::duration startup);

 private:
  void section(int number, std::string_view title);
  // Runs `command` and returns its result, or records a failure and prints it.
  std::optional<Json> call(const std::string& command, const Json& args);
  void fail(std::string what, int code);

  void show_startup(std::chrono::steady_clock::duration startup);
  void show_ping();
  void show_echo();
  void show_compute();
  void show_info();
  void show_concurrency();
  void show_parallel_sleeps();
  void show_expected_errors();
  void show_stats();

  Snakepit& pit_;
  const SignalWatcher& watcher_;
  ConsoleStyle style_;
  DemoOutcome outcome_;
};

}  // namespace snakepit::cli
