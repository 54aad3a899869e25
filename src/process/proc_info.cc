#include "process/proc_info.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>

#include <fmt/format.h>

#include "base/errno_status.h"
#include "process/unique_fd.h"

namespace snakepit::internal {
namespace {

constexpr std::size_t kMaxStatBytes = 4096;

bool all_digits(std::string_view text) {
  if (text.empty()) return false;
  for (char c : text) {
    if (c < '0' || c > '9') return false;
  }
  return true;
}

}  // namespace

Result<std::string> read_bounded(const std::string& path, std::size_t max_bytes, bool* truncated) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK));
  if (!fd.valid()) {
    if (truncated != nullptr) *truncated = false;
    return errno_status(fmt::format("open {}", path), errno);
  }
  return read_fd_bounded(fd.get(), max_bytes, truncated, path);
}

Result<std::string> read_fd_bounded(int fd, std::size_t max_bytes, bool* truncated, std::string_view what) {
  if (truncated != nullptr) *truncated = false;
  std::string out;
  char buffer[4096];
  while (out.size() <= max_bytes) {
    const ssize_t n = ::read(fd, buffer, sizeof buffer);
    if (n < 0) {
      if (errno == EINTR) continue;
      return errno_status(fmt::format("read {}", what), errno);
    }
    if (n == 0) return out;
    out.append(buffer, static_cast<std::size_t>(n));
  }
  out.resize(max_bytes);
  if (truncated != nullptr) *truncated = true;
  return out;
}

Result<ProcStat> parse_proc_stat(std::string_view text) {
  const auto open_paren = text.find(" (");
  const auto close_paren = text.rfind(')');
  if (open_paren == std::string_view::npos || close_paren == std::string_view::npos || close_paren < open_paren) {
    return invalid_argument("malformed /proc stat line");
  }
  ProcStat stat;
  if (!parse_number(text.substr(0, open_paren), stat.pid)) return invalid_argument("malformed pid in /proc stat line");
  // Fields 3.. follow ") ", separated by single spaces.
  std::string_view rest = text.substr(close_paren + 1);
  std::string_view fields[20];
  std::size_t count = 0;
  while (count < 20) {
    while (!rest.empty() && (rest.front() == ' ' || rest.front() == '\n')) rest.remove_prefix(1);
    if (rest.empty()) break;
    const auto end = rest.find_first_of(" \n");
    fields[count++] = rest.substr(0, end);
    rest = end == std::string_view::npos ? std::string_view{} : rest.substr(end);
  }
  if (count < 20 || fields[0].size() != 1) return invalid_argument("truncated /proc stat line");
  stat.state = fields[0][0];
  if (!parse_number(fields[1], stat.ppid) || !parse_number(fields[2], stat.pgrp) ||
      !parse_number(fields[19], stat.start_time)) {
    return invalid_argument("malformed field in /proc stat line");
  }
  return stat;
}

Result<ProcStat> read_proc_stat(pid_t pid) {
  if (pid <= 0) return not_found(fmt::format("no process {}", pid));
  auto text = read_bounded(fmt::format("/proc/{}/stat", pid), kMaxStatBytes);
  if (!text.ok()) {
    // ESRCH can surface when the process disappears between open and read.
    const Json& err = text.status().details();
    if (text.status().code() == Code::kNotFound || (err.is_object() && err.value("errno", 0) == ESRCH)) {
      return not_found(fmt::format("no process {}", pid), Json{{"pid", pid}});
    }
    return text.status();
  }
  auto stat = parse_proc_stat(*text);
  if (!stat.ok()) return internal_error(fmt::format("/proc/{}/stat: {}", pid, stat.status().message()));
  return stat;
}

Result<std::uint64_t> process_start_time(pid_t pid) {
  auto stat = read_proc_stat(pid);
  if (!stat.ok()) return stat.status();
  return stat->start_time;
}

bool process_running(pid_t pid, std::uint64_t start_time) {
  auto stat = read_proc_stat(pid);
  return stat.ok() && stat->running() && stat->start_time == start_time;
}

std::optional<uid_t> process_uid(pid_t pid) {
  struct stat st {};
  if (pid <= 0 || ::stat(fmt::format("/proc/{}", pid).c_str(), &st) != 0) return std::nullopt;
  return st.st_uid;
}

std::string pid_namespace(pid_t pid) {
  const std::string path = pid > 0 ? fmt::format("/proc/{}/ns/pid", pid) : std::string("/proc/self/ns/pid");
  char buffer[128];
  const ssize_t n = ::readlink(path.c_str(), buffer, sizeof buffer);
  if (n <= 0 || static_cast<std::size_t>(n) >= sizeof buffer) return {};
  return std::string(buffer, static_cast<std::size_t>(n));
}

std::string boot_id() {
  auto text = read_bounded("/proc/sys/kernel/random/boot_id", 128);
  if (!text.ok()) return {};
  std::string id = std::move(*text);
  while (!id.empty() && (id.back() == '\n' || id.back() == ' ')) id.pop_back();
  return id;
}

Result<std::string> read_environ(pid_t pid, std::size_t max_bytes) {
  if (pid <= 0) return not_found(fmt::format("no process {}", pid));
  auto block = read_bounded(fmt::format("/proc/{}/environ", pid), max_bytes);
  if (!block.ok() && block.status().details().is_object() && block.status().details().value("errno", 0) == ESRCH) {
    return not_found(fmt::format("no process {}", pid), Json{{"pid", pid}});
  }
  return block;
}

std::optional<std::string_view> environ_value(std::string_view block, std::string_view key) {
  while (!block.empty()) {
    const auto end = block.find('\0');
    const std::string_view entry = block.substr(0, end);
    if (entry.size() > key.size() && entry.substr(0, key.size()) == key && entry[key.size()] == '=') {
      return entry.substr(key.size() + 1);
    }
    if (end == std::string_view::npos) break;
    block.remove_prefix(end + 1);
  }
  return std::nullopt;
}

std::vector<pid_t> list_pids() {
  std::vector<pid_t> pids;
  const int fd = ::open("/proc", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return pids;
  DIR* dir = ::fdopendir(fd);  // owns fd from here on
  if (dir == nullptr) {
    ::close(fd);
    return pids;
  }
  while (const dirent* entry = ::readdir(dir)) {
    const std::string_view name(entry->d_name);
    pid_t pid = 0;
    if (all_digits(name) && parse_number(name, pid) && pid > 0) pids.push_back(pid);
  }
  ::closedir(dir);
  return pids;
}

}  // namespace snakepit::internal
