#include "demo_outcome.h"

#include <fmt/format.h>

#include <cstdio>

namespace snakepit::cli {

void print_section(const ConsoleStyle& style, int number, int total, std::string_view title) {
  fmt::print("\n{}\n", style.heading(fmt::format("[{}/{}] {}", number, total, title)));
}

void DemoOutcome::fail(std::string what, int code) {
  if (exit_code_ == 0) exit_code_ = code;
  failures_.push_back(std::move(what));
}

int DemoOutcome::finish(const ConsoleStyle& style, std::string_view name) const {
  if (failures_.empty()) {
    fmt::print("\n{}\n",
               style.good(fmt::format("{} finished: every step behaved as expected.", name)));
  } else {
    fmt::print("\n{} {}\n", style.bad(fmt::format("{} FAILED ({}):", name, failures_.size())),
               fmt::join(failures_, "; "));
  }
  std::fflush(stdout);
  return exit_code_;
}

}  // namespace snakepit::cli
