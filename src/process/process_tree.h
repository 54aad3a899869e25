// Resident memory of a worker's whole process tree (the worker and every
// descendant it started), for recycling by max_rss.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>

namespace snakepit::internal {

// Sum of resident bytes over `root` and its descendants (found through
// /proc/<pid>/task/<tid>/children, at most 4096 processes); nullopt when
// `root` is gone.
std::optional<std::uint64_t> process_tree_rss_bytes(pid_t root);

}  // namespace snakepit::internal
