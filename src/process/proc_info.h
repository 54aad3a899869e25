// Reading /proc: the facts the orphan sweep judges a process by (start time,
// state, process group, owner uid, pid namespace, environment). Every read is
// bounded and opens with O_CLOEXEC; nothing here follows a path that a user
// of another uid controls. Stateless, thread-safe.
#pragma once

#include <sys/types.h>

#include <charconv>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "snakepit/status.h"

namespace snakepit::internal {

// The fields of /proc/<pid>/stat the sweep uses.
struct ProcStat {
  pid_t pid = 0;
  char state = '?';              // field 3: R, S, D, T, Z (zombie), X (dead), ...
  pid_t ppid = 0;                // field 4
  pid_t pgrp = 0;                // field 5
  std::uint64_t start_time = 0;  // field 22: clock ticks since boot

  // Still running: not a zombie, not dead.
  bool running() const { return state != 'Z' && state != 'X' && state != 'x'; }
};

// Parses the text of a /proc/<pid>/stat file (the comm field may hold spaces
// and parentheses: the last ')' ends it). Errors: InvalidArgument.
Result<ProcStat> parse_proc_stat(std::string_view text);

// /proc/<pid>/stat. Errors: NotFound (no such process), Internal.
Result<ProcStat> read_proc_stat(pid_t pid);

// /proc/<pid>/stat field 22 (start time in clock ticks since boot).
// Errors: NotFound if the process is gone (a zombie still has one).
Result<std::uint64_t> process_start_time(pid_t pid);

// True if `pid` is the process that started at `start_time` and it has not
// exited (a zombie counts as exited). Never true for pid <= 0.
bool process_running(pid_t pid, std::uint64_t start_time);

// The effective uid owning /proc/<pid> (the process's euid while dumpable).
std::optional<uid_t> process_uid(pid_t pid);

// "pid:[4026531836]" for /proc/<pid>/ns/pid (0: this process); empty if
// unreadable.
std::string pid_namespace(pid_t pid = 0);

// Current boot id (/proc/sys/kernel/random/boot_id); empty if unreadable.
std::string boot_id();

// The environment of `pid` as NUL-separated "KEY=VALUE" entries, at most
// `max_bytes` (what lies beyond is not returned). Errors: NotFound (gone),
// FailedPrecondition (not readable: another uid, or not dumpable), Internal.
inline constexpr std::size_t kMaxEnvironBytes = 1 << 20;
Result<std::string> read_environ(pid_t pid, std::size_t max_bytes = kMaxEnvironBytes);

// The value of `key` in a NUL-separated environment block; nullopt if absent.
std::optional<std::string_view> environ_value(std::string_view block, std::string_view key);

// Every pid listed in /proc (processes, not threads), in directory order.
std::vector<pid_t> list_pids();

// Parses all of `text` as a decimal number; false for anything else.
template <typename T>
bool parse_number(std::string_view text, T& out) {
  if (text.empty()) return false;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  return ec == std::errc{} && end == text.data() + text.size();
}

// Reads at most `max_bytes` of the regular or /proc file `path`. Sets
// `truncated` when the file holds more. Errors: errno_status of open/read.
Result<std::string> read_bounded(const std::string& path, std::size_t max_bytes, bool* truncated = nullptr);
// The same from an open descriptor; `what` names it in errors.
Result<std::string> read_fd_bounded(int fd, std::size_t max_bytes, bool* truncated, std::string_view what);

}  // namespace snakepit::internal
