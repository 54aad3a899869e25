// The kernel's count of OOM kills in the host's cgroup (cgroup v2
// memory.events, line "oom_kill"). Workers are spawned in the host's cgroup,
// so an OOM kill of a worker increments it: read before a worker starts and
// after it exits, the count tells an OOM kill from another SIGKILL
// (ExitInfo::classify_oom).
//
// Stateless and thread-safe; each read opens one or a few small files (no
// caching). The parsers are pure functions over file text.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace snakepit::internal {

// Where cgroup v2 is mounted on a unified-hierarchy system.
inline constexpr std::string_view kCgroupV2Mount = "/sys/fs/cgroup";

// The oom_kill count of this process's cgroup: the cgroup named by the "0::"
// line of /proc/self/cgroup, under kCgroupV2Mount (read_oom_kill_count_under).
// nullopt when unavailable: cgroup v1 or hybrid without a v2 memory
// controller, no permission, a kernel without the counter.
std::optional<std::uint64_t> read_oom_kill_count();

// The oom_kill count of the cgroup `cgroup_path` ("/a/b", as in
// /proc/self/cgroup) of the cgroup v2 hierarchy mounted at `mount`: the
// first of <mount>/a/b/memory.events, <mount>/a/memory.events and
// <mount>/memory.events that can be read and has an oom_kill line. A parent's
// count includes its descendants' (memory.events is hierarchical), and a
// cgroup without the memory controller is charged to its nearest ancestor
// that has it. nullopt when none qualifies.
// REQUIRES: `cgroup_path` is empty or starts with '/'.
std::optional<std::uint64_t> read_oom_kill_count_under(std::string_view mount, std::string_view cgroup_path);

// The cgroup v2 path in the text of a /proc/<pid>/cgroup file: <path> of its
// "0::<path>" line. nullopt when there is no such line (cgroup v1 only) or
// the path is not absolute or has a ".." component (a cgroup outside this
// cgroup namespace).
std::optional<std::string> parse_cgroup_v2_path(std::string_view proc_cgroup);

// The value of the "oom_kill" line in the text of a memory.events file
// ("oom_kill 3"); nullopt when there is none or it is not a number.
std::optional<std::uint64_t> parse_oom_kill(std::string_view memory_events);

}  // namespace snakepit::internal
