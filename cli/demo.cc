#include "demo.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <future>
#include <map>

#include "exit_codes.h"
#include "json_text.h"

namespace snakepit::cli {
namespace {

using Clock = std::chrono::steady_clock;

double millis(Clock::duration elapsed) {
  return std::chrono::duration<double, std::milli>(elapsed).count();
}

// A compute result is a bare number, or an object holding it as "result".
std::optional<double> number_of(const Json& result) {
  if (result.is_number()) return result.get<double>();
  if (result.is_object() && result.contains("result") && result["result"].is_number()) {
    return result["result"].get<double>();
  }
  return std::nullopt;
}

bool same_number(double a, double b) {
  return std::fabs(a - b) <= 1e-9 * std::max(1.0, std::fabs(b));
}

std::string indented(const std::string& text, std::string_view prefix) {
  std::string out(prefix);
  for (char c : text) {
    out.push_back(c);
    if (c == '\n') out.append(prefix);
  }
  return out;
}

}  // namespace

int Demo::run(Clock::duration startup) {
  const std::vector<void (Demo::*)()> steps = {&Demo::show_ping,        &Demo::show_echo,
                                               &Demo::show_compute,     &Demo::show_info,
                                               &Demo::show_concurrency, &Demo::show_expected_errors,
                                               &Demo::show_stats};
  show_startup(startup);
  return run_demo_steps(*this, steps, watcher_, outcome_, style_, "Demo");
}

void Demo::section(int number, std::string_view title) { print_section(style_, number, 8, title); }

std::optional<Json> Demo::call(const std::string& command, const Json& args) {
  auto result = pit_.execute(command, args);
  if (result.ok()) return std::move(*result);
  if (watcher_.signal() == 0) {
    fmt::print("  {} {} {} -> {}\n", style_.bad("UNEXPECTED ERROR:"), command, to_line(args),
               to_line(result.status().to_json()));
    fail(command + " failed", exit_code(result.status().code()));
  }
  return std::nullopt;
}

void Demo::fail(std::string what, int code) { outcome_.fail(std::move(what), code); }

void Demo::show_startup(Clock::duration startup) {
  section(1, "Start-up");
  const auto workers = pit_.list_workers();
  fmt::print("  Started {} workers concurrently in {} ms ({:.0f} ms including set-up)\n",
             workers.size(), pit_.stats().startup_duration.count(), millis(startup));
  fmt::print("  {}\n", style_.dim(fmt::format("{:<20} {:>8}  {}", "WORKER", "PID", "STATE")));
  for (const auto& worker : workers) {
    fmt::print("  {:<20} {:>8}  {}\n", worker.id, worker.pid, worker_state_name(worker.state));
  }
}

void Demo::show_ping() {
  section(2, "ping");
  const Json args = {{"test", true}};
  if (auto result = call("ping", args)) {
    fmt::print("  ping {} -> {}\n", to_line(args), to_line(*result));
  }
}

void Demo::show_echo() {
  section(3, "echo");
  const Json sent = {{"message", "hello from C++"},
                     {"numbers", Json::array({1, 2, 3})},
                     {"nested", {{"pi", 3.14159}, {"ok", true}, {"none", nullptr}}}};
  auto result = call("echo", sent);
  if (!result) return;
  // Bridges of the original Snakepit wrap the arguments as {"echoed": ...}.
  const bool wrapped = result->is_object() && result->contains("echoed");
  const Json& received = wrapped ? (*result)["echoed"] : *result;
  fmt::print("  sent:     {}\n  received: {}\n", to_line(sent), to_line(received));
  if (received == sent) {
    fmt::print("  equal:    {}\n", style_.good("yes"));
  } else {
    fmt::print("  equal:    {}\n", style_.bad("NO"));
    fail("echo returned different arguments", kExitFailure);
  }
}

void Demo::show_compute() {
  section(4, "compute");
  struct Operation {
    const char* name;
    const char* symbol;
    double expected;
  };
  const Operation operations[] = {
      {"add", "+", 10}, {"subtract", "-", 4}, {"multiply", "*", 21}, {"divide", "/", 7.0 / 3.0}};
  for (const auto& op : operations) {
    auto result = call("compute", {{"operation", op.name}, {"a", 7}, {"b", 3}});
    if (!result) continue;
    const auto value = number_of(*result);
    const bool wrapped = result->is_object() && result->contains("result");
    fmt::print("  7 {} 3 = {}\n", op.symbol, to_line(wrapped ? (*result)["result"] : *result));
    if (!value || !same_number(*value, op.expected)) {
      fmt::print("  {} expected {}\n", style_.bad("WRONG RESULT:"), op.expected);
      fail(fmt::format("compute {} gave a wrong result", op.name), kExitFailure);
    }
  }
}

void Demo::show_info() {
  section(5, "info");
  if (auto result = call("info", Json::object())) {
    fmt::print("{}\n", indented(result->dump(2, ' ', false, Json::error_handler_t::replace), "  "));
  }
}

void Demo::show_concurrency() {
  section(6, "Concurrency");
  constexpr int kRequests = 16;
  auto start = Clock::now();
  std::vector<std::future<Result<Json>>> computes;
  for (int i = 1; i <= kRequests; ++i) {
    computes.push_back(
        pit_.execute_future("compute", {{"operation", "multiply"}, {"a", i}, {"b", i}}));
  }
  int correct = 0;
  for (int i = 1; i <= kRequests; ++i) {
    auto result = computes[static_cast<std::size_t>(i - 1)].get();
    const auto value = result.ok() ? number_of(*result) : std::nullopt;
    if (value && same_number(*value, i * i)) ++correct;
  }
  fmt::print("  {} concurrent computes (i * i for i = 1..{}): {} correct in {:.1f} ms\n", kRequests,
             kRequests, correct, millis(Clock::now() - start));
  if (correct != kRequests) fail("concurrent computes", kExitFailure);

  // ping answers with the worker's pid, showing how requests spread.
  start = Clock::now();
  std::vector<std::future<Result<Json>>> pings;
  for (int i = 0; i < kRequests; ++i) pings.push_back(pit_.execute_future("ping"));
  std::map<std::string, int> by_pid;
  int failed = 0;
  for (auto& ping : pings) {
    auto result = ping.get();
    if (!result.ok()) {
      ++failed;
    } else {
      const bool has_pid = result->is_object() && result->contains("pid");
      ++by_pid[has_pid ? to_line((*result)["pid"]) : "?"];
    }
  }
  fmt::print("  {} concurrent pings in {:.1f} ms, served by {} worker processes:\n", kRequests,
             millis(Clock::now() - start), by_pid.size());
  for (const auto& [pid, count] : by_pid) fmt::print("    pid {:<8} {:>3} requests\n", pid, count);
  if (failed > 0) fail(fmt::format("{} concurrent pings failed", failed), kExitFailure);
  show_parallel_sleeps();
}

void Demo::show_parallel_sleeps() {
  // Computes finish in microseconds, so one worker can drain them all;
  // requests that take a while show the pool really runs them side by side.
  constexpr int kSleeps = 8;
  constexpr int kSleepMs = 100;
  const auto start = Clock::now();
  std::vector<std::future<Result<Json>>> sleeps;
  for (int i = 0; i < kSleeps; ++i)
    sleeps.push_back(pit_.execute_future("sleep", {{"ms", kSleepMs}}));
  int failed = 0;
  std::optional<Status> first_error;
  for (auto& sleep : sleeps) {
    auto result = sleep.get();
    if (!result.ok() && !first_error) first_error = result.status();
    failed += result.ok() ? 0 : 1;
  }
  const double elapsed = millis(Clock::now() - start);
  const Json* details = first_error ? &first_error->details() : nullptr;
  const bool unknown = details && details->is_object() &&
                       (details->value("reason", "") == "unknown_command" || details->value("type", "") == "UnknownCommand");
  if (unknown) {
    fmt::print("  (this adapter has no sleep command: parallel sleeps skipped)\n");
    return;
  }
  fmt::print("  {} concurrent sleeps of {} ms: {:.0f} ms in total (one after another: {} ms)\n",
             kSleeps, kSleepMs, elapsed, kSleeps * kSleepMs);
  if (first_error)
    fail(fmt::format("{} sleeps failed: {}", failed, first_error->message()),
         exit_code(first_error->code()));
}

}  // namespace snakepit::cli
