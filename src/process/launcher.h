// Launcher: runs spawn_process() on its own threads so a slow fork/exec never
// stalls the event loop, and delivers the result back on the loop.
// The launcher's threads must outlive the workers they spawned: the children
// carry PR_SET_PDEATHSIG, which fires when the spawning *thread* exits.
#pragma once

#include <functional>
#include <memory>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/thread_pool.hpp>

#include "process/spawn.h"

namespace snakepit::internal {

class Launcher {
 public:
  using Done = std::function<void(Result<ChildProcess>)>;

  explicit Launcher(int threads = 2) : threads_(threads) {}
  ~Launcher() { threads_.join(); }

  // Spawns on a launcher thread; `done` runs on `loop`.
  void launch(SpawnSpec spec, boost::asio::any_io_executor loop, Done done);

 private:
  boost::asio::thread_pool threads_;
};

}  // namespace snakepit::internal
