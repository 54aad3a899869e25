// The checks `snakepit doctor` runs on one pool: is the interpreter there
// and recent enough, is the bridge there, does the adapter module exist, and
// does a worker actually start and answer. Each check says what to do when
// it fails.
#pragma once

#include <string>
#include <vector>

#include "snakepit/json.h"
#include "snakepit/options.h"

namespace snakepit::cli {

class SignalWatcher;

struct DoctorCheck {
  std::string name;  // "executable", "version", "bridge", "module", "worker", "commands", "ping"
  bool ok = false;
  std::string detail;  // what was found
  std::string fix;     // what to do; empty when ok
};

struct PoolReport {
  std::string pool;
  std::string adapter;  // Adapter::name, e.g. "python:snakepit_bridge.generic"
  std::vector<DoctorCheck> checks;
  bool ok() const;
};

// Runs every check of `pool`. The trial start uses one worker, at most 10 s
// of start-up, and `base`'s data_dir and logger; a signal (`watcher`) shuts
// it down.
PoolReport check_pool(const PoolOptions& pool, const Options& base, SignalWatcher& watcher);

// {"pool", "adapter", "checks": [{"name", "ok", "detail", "fix"}]}
Json to_json(const PoolReport& report);

}  // namespace snakepit::cli
