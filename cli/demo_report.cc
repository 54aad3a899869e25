// Demo steps 7 and 8: expected failures and the pool's stats.
#include <fmt/format.h>

#include <algorithm>
#include <vector>

#include "demo.h"
#include "exit_codes.h"
#include "json_text.h"

namespace snakepit::cli {

void Demo::show_expected_errors() {
  section(7, "Expected errors");
  struct Case {
    const char* label;
    const char* command;
    Json args;
    std::vector<Code> codes;  // any of these is the expected outcome
  };
  const std::vector<Case> cases = {
      {"unknown command",
       "no_such_command",
       Json::object(),
       {Code::kInvalidArgument, Code::kNotFound}},
      {"divide by zero",
       "compute",
       {{"operation", "divide"}, {"a", 1}, {"b", 0}},
       {Code::kInvalidArgument, Code::kInternal}},
      {"bad arguments",
       "compute",
       {{"operation", "add"}, {"a", "seven"}, {"b", 3}},
       {Code::kInvalidArgument, Code::kInternal}},
  };
  for (const auto& c : cases) {
    auto result = pit_.execute(c.command, c.args);
    fmt::print("  {}: {} {}\n", c.label, c.command, to_line(c.args));
    if (result.ok()) {
      fmt::print("    {} -> {}\n", style_.bad("UNEXPECTED SUCCESS (an error was expected)"),
                 to_line(*result));
      fail(fmt::format("{} succeeded", c.label), kExitFailure);
      continue;
    }
    const Status& error = result.status();
    const bool expected = std::find(c.codes.begin(), c.codes.end(), error.code()) != c.codes.end();
    const Json& details = error.details();
    const bool has_type =
        details.is_object() && details.contains("type") && details["type"].is_string();
    fmt::print("    {}\n", expected ? style_.expected("-> expected error")
                                    : style_.bad("-> UNEXPECTED ERROR CODE"));
    fmt::print("       code:    {}\n", code_name(error.code()));
    fmt::print("       message: {}\n", error.message());
    fmt::print("       type:    {}\n", has_type ? details["type"].get<std::string>() : "-");
    if (!expected)
      fail(fmt::format("{} gave {}", c.label, code_name(error.code())), exit_code(error.code()));
  }
}

void Demo::show_stats() {
  section(8, "Pool stats");
  const PoolStats stats = pit_.stats();
  std::vector<std::string> errors;
  for (const auto& [code, count] : stats.errors)
    errors.push_back(fmt::format("{}={}", code, count));
  fmt::print("  {:<16}{} ({} succeeded)\n", "requests", stats.requests, stats.succeeded);
  fmt::print("  {:<16}{}\n", "errors",
             errors.empty() ? "none" : fmt::format("{}", fmt::join(errors, ", ")));
  fmt::print("  {:<16}{}\n", "restarts", stats.restarts);
  fmt::print("  {:<16}{} ms\n", "startup", stats.startup_duration.count());
  fmt::print("  {:<16}{}\n", "queue peak", stats.queue_peak);
  fmt::print("  {}\n", style_.dim(fmt::format("{:<20} {:>8}  {:<9} {:>8} {:>8}", "WORKER", "PID",
                                              "STATE", "REQUESTS", "RESTARTS")));
  for (const auto& worker : stats.workers) {
    fmt::print("  {:<20} {:>8}  {:<9} {:>8} {:>8}\n", worker.id, worker.pid,
               worker_state_name(worker.state), worker.requests, worker.restarts);
  }
}

}  // namespace snakepit::cli
