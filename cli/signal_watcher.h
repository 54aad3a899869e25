// Turns SIGINT and SIGTERM into a clean pool shutdown.
//
// The constructor blocks both signals in the calling thread; threads started
// afterwards (the pool's) inherit the mask, so the signals can only be taken
// by sigwait() on the watcher's own thread. No work runs in a signal handler.
// Construct it before starting the pool, on the main thread.
//
// The first signal shuts the attached pool down (on a helper thread, so the
// watcher keeps listening); a second one exits at once with 128 + signal,
// leaving the workers to their parent-death signal.
//
// Thread-safety: attach() and signal() may be called from any thread.
#pragma once

#include <atomic>
#include <csignal>
#include <mutex>
#include <thread>

#include "snakepit/snakepit.h"

namespace snakepit::cli {

class SignalWatcher {
 public:
  SignalWatcher();
  ~SignalWatcher();
  SignalWatcher(const SignalWatcher&) = delete;
  SignalWatcher& operator=(const SignalWatcher&) = delete;

  // The pool to shut down on a signal; nullptr detaches. A signal that came
  // before attach() shuts the new pool down at once.
  void attach(Snakepit* pit);
  // The signal received (SIGINT or SIGTERM), 0 if none yet.
  int signal() const { return signal_.load(); }
  // Becomes readable once a signal came, so a poll() on input can wake up.
  int interrupt_fd() const { return pipe_[0]; }

 private:
  void run();

  sigset_t signals_{};
  std::atomic<int> signal_{0};
  std::atomic<bool> stopping_{false};
  int pipe_[2] = {-1, -1};
  std::mutex mutex_;
  Snakepit* pit_ = nullptr;      // guarded by mutex_
  std::thread shutdown_thread_;  // started by the first signal
  std::thread thread_;
};

// Keeps a pool attached to the watcher for the guard's lifetime. Declare it
// after the pool so it detaches before the pool is destroyed.
class PoolGuard {
 public:
  PoolGuard(SignalWatcher& watcher, Snakepit& pit) : watcher_(watcher) { watcher_.attach(&pit); }
  ~PoolGuard() { watcher_.attach(nullptr); }
  PoolGuard(const PoolGuard&) = delete;
  PoolGuard& operator=(const PoolGuard&) = delete;

 private:
  SignalWatcher& watcher_;
};

}  // namespace snakepit::cli
