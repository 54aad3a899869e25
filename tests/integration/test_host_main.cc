// A host for the host-death tests: starts a pool of 4 workers of the
// misbehaving adapter with the given data dir, puts it in the state the mode
// asks for, prints one JSON line {"workers": [pids], "grandchild": pid}
// and waits to be killed.
//
//   snakepit_test_host DATA_DIR inflight   a request in flight, a grandchild
//   snakepit_test_host DATA_DIR defeat     every worker cleared its parent-death
//                                          signal and ignores SIGTERM and EOF
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <future>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "snakepit/snakepit.h"

int main(int argc, char** argv) {
  using namespace snakepit;
  if (argc != 3) {
    fmt::print(stderr, "usage: snakepit_test_host DATA_DIR inflight|defeat\n");
    return 2;
  }
  const std::string mode = argv[2];
  Options options;
  options.data_dir = argv[1];
  options.pool.size = 4;
  options.pool.heartbeat.interval = Millis(0);
  adapters::PythonOptions python;
  python.python_path = {std::string(SNAKEPIT_SOURCE_DIR) + "/tests/fixtures/adapters"};
  options.pool.adapter = adapters::python("misbehaving", python);
  auto pit = Snakepit::start(options);
  if (!pit) {
    fmt::print(stderr, "start failed: {}\n", pit.error());
    return 1;
  }
  Json out = {{"workers", Json::array()}, {"grandchild", 0}};
  for (const auto& worker : pit->list_workers()) out["workers"].push_back(worker.pid);
  if (mode == "inflight") {
    auto grandchild = pit->execute("spawn_grandchild");
    if (!grandchild) {
      fmt::print(stderr, "spawn_grandchild failed: {}\n", grandchild.error());
      return 1;
    }
    out["grandchild"] = (*grandchild)["grandchild_pid"];
    pit->execute_async("hang", Json::object(), [](Result<Json>) {});
  } else {
    // Four at once. A worker that answered stops reading, and the pool
    // reuses the last idle worker first: the barrier holds every worker
    // until each of the four requests has its own.
    char barrier[] = "/tmp/snakepit-test-host-barrier-XXXXXX";
    if (::mkdtemp(barrier) == nullptr) {
      fmt::print(stderr, "mkdtemp {} failed\n", barrier);
      return 1;
    }
    const Json args = {{"barrier", barrier}, {"count", 4}};
    std::vector<std::future<Result<Json>>> cleared;
    for (int i = 0; i < 4; ++i) cleared.push_back(pit->execute_future("clear_pdeathsig", args));
    bool all_cleared = true;
    for (auto& f : cleared) {
      auto result = f.get();
      if (!result) {
        fmt::print(stderr, "clear_pdeathsig failed: {}\n", result.error());
        all_cleared = false;
      }
    }
    std::filesystem::remove_all(barrier);
    if (!all_cleared) return 1;
  }
  fmt::print("{}\n", out.dump());
  std::fflush(stdout);
  while (true) ::pause();
}
