#include "process/process_tree.h"

#include <dirent.h>
#include <unistd.h>

#include <fstream>
#include <string>
#include <vector>

namespace snakepit::internal {
namespace {

constexpr std::size_t kMaxProcesses = 4096;

std::optional<std::uint64_t> resident_bytes(pid_t pid) {
  std::ifstream statm("/proc/" + std::to_string(pid) + "/statm");
  std::uint64_t size = 0;
  std::uint64_t resident = 0;
  if (!(statm >> size >> resident)) return std::nullopt;
  return resident * static_cast<std::uint64_t>(::sysconf(_SC_PAGESIZE));
}

// Children of every thread of `pid` (a thread may be the parent of a child).
void append_children(pid_t pid, std::vector<pid_t>& out) {
  const std::string tasks = "/proc/" + std::to_string(pid) + "/task";
  DIR* dir = ::opendir(tasks.c_str());
  if (dir == nullptr) return;
  while (const dirent* entry = ::readdir(dir)) {
    if (entry->d_name[0] == '.') continue;
    std::ifstream children(tasks + "/" + entry->d_name + "/children");
    pid_t child = 0;
    while (out.size() < kMaxProcesses && children >> child) out.push_back(child);
  }
  ::closedir(dir);
}

}  // namespace

std::optional<std::uint64_t> process_tree_rss_bytes(pid_t root) {
  auto total = resident_bytes(root);
  if (!total) return std::nullopt;
  std::vector<pid_t> pending;
  append_children(root, pending);
  for (std::size_t i = 0; i < pending.size(); ++i) {
    if (auto bytes = resident_bytes(pending[i])) *total += *bytes;
    append_children(pending[i], pending);
  }
  return total;
}

}  // namespace snakepit::internal
