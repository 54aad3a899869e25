#include "exit_codes.h"

#include <fmt/format.h>

#include <array>

namespace snakepit::cli {
namespace {

struct CodeExit {
  Code code;
  int exit;
};

// Fixed numbers, never reordered: scripts depend on them.
constexpr std::array<CodeExit, 8> kCodeExits{{
    {Code::kInvalidArgument, 10},
    {Code::kNotFound, 11},
    {Code::kDeadlineExceeded, 12},
    {Code::kResourceExhausted, 13},
    {Code::kUnavailable, 14},
    {Code::kCancelled, 15},
    {Code::kFailedPrecondition, 16},
    {Code::kInternal, 17},
}};

}  // namespace

int exit_code(Code code) {
  if (code == Code::kOk) return kExitOk;
  for (const auto& entry : kCodeExits) {
    if (entry.code == code) return entry.exit;
  }
  return kExitFailure;  // a code added to the library but not here yet
}

int signal_exit_code(int signal_number) { return 128 + signal_number; }

std::string exit_codes_help() {
  std::string text =
      "Exit codes:\n"
      "  0    ok\n"
      "  1    internal failure of the CLI itself\n"
      "  2    usage error (bad flag, bad ARGS_JSON, unknown command)\n";
  for (const auto& entry : kCodeExits) {
    text += fmt::format("  {:<4} {}\n", entry.exit, code_name(entry.code));
  }
  text += "  130  interrupted (SIGINT)\n  143  terminated (SIGTERM)\n";
  return text;
}

}  // namespace snakepit::cli
