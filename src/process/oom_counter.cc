#include "process/oom_counter.h"

#include "process/proc_info.h"

namespace snakepit::internal {
namespace {

// memory.events is a few lines; /proc/self/cgroup a few dozen at most.
constexpr std::size_t kMaxFileBytes = 16 * 1024;

std::optional<std::string> read_small_file(const std::string& path) {
  auto text = read_bounded(path, kMaxFileBytes);
  if (!text.ok()) return std::nullopt;
  return std::move(*text);
}

// Calls `fn(line)` for each line of `text` (without its '\n') until it
// returns true; returns whether one did.
template <typename Fn>
bool any_line(std::string_view text, Fn fn) {
  while (!text.empty()) {
    const auto end = text.find('\n');
    if (fn(text.substr(0, end))) return true;
    if (end == std::string_view::npos) break;
    text.remove_prefix(end + 1);
  }
  return false;
}

bool has_dot_dot_component(std::string_view path) {
  while (!path.empty()) {
    const auto end = path.find('/');
    if (path.substr(0, end) == "..") return true;
    if (end == std::string_view::npos) break;
    path.remove_prefix(end + 1);
  }
  return false;
}

}  // namespace

std::optional<std::string> parse_cgroup_v2_path(std::string_view proc_cgroup) {
  constexpr std::string_view kPrefix = "0::";
  std::optional<std::string> path;
  any_line(proc_cgroup, [&](std::string_view line) {
    if (line.substr(0, kPrefix.size()) != kPrefix) return false;
    line.remove_prefix(kPrefix.size());
    if (line.empty() || line.front() != '/' || has_dot_dot_component(line)) return true;
    path.emplace(line);
    return true;
  });
  return path;
}

std::optional<std::uint64_t> parse_oom_kill(std::string_view memory_events) {
  constexpr std::string_view kKey = "oom_kill ";
  std::optional<std::uint64_t> count;
  any_line(memory_events, [&](std::string_view line) {
    if (line.substr(0, kKey.size()) != kKey) return false;
    std::string_view value = line.substr(kKey.size());
    while (!value.empty() && (value.back() == ' ' || value.back() == '\r')) value.remove_suffix(1);
    if (std::uint64_t n = 0; parse_number(value, n)) count = n;
    return true;
  });
  return count;
}

std::optional<std::uint64_t> read_oom_kill_count_under(std::string_view mount, std::string_view cgroup_path) {
  std::string_view dir = cgroup_path;
  while (true) {
    while (!dir.empty() && dir.back() == '/') dir.remove_suffix(1);
    std::string path;
    path.reserve(mount.size() + dir.size() + 16);
    path.append(mount).append(dir).append("/memory.events");
    if (const auto text = read_small_file(path)) {
      if (const auto count = parse_oom_kill(*text)) return count;
    }
    if (dir.empty()) return std::nullopt;  // tried the mount itself
    const auto slash = dir.rfind('/');
    dir = slash == std::string_view::npos ? std::string_view{} : dir.substr(0, slash);
  }
}

std::optional<std::uint64_t> read_oom_kill_count() {
  const auto text = read_small_file("/proc/self/cgroup");
  if (!text) return std::nullopt;
  const auto path = parse_cgroup_v2_path(*text);
  if (!path) return std::nullopt;
  return read_oom_kill_count_under(kCgroupV2Mount, *path);
}

}  // namespace snakepit::internal
