#include "signal_watcher.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <pthread.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <cstring>

#include "exit_codes.h"

namespace snakepit::cli {
namespace {

// Shorter than the library's default: someone pressed Ctrl-C and is waiting.
constexpr std::chrono::milliseconds kShutdownGrace{2000};

}  // namespace

SignalWatcher::SignalWatcher() {
  sigemptyset(&signals_);
  sigaddset(&signals_, SIGINT);
  sigaddset(&signals_, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals_, nullptr);
  if (pipe2(pipe_, O_CLOEXEC | O_NONBLOCK) != 0) {
    fmt::print(stderr, "snakepit: pipe2: {}\n", std::strerror(errno));
  }
  thread_ = std::thread([this] { run(); });
}

SignalWatcher::~SignalWatcher() {
  // Wake the watcher with a signal aimed at its thread alone; stopping_ tells
  // it apart from a real one. The mask stays blocked: the process is about to
  // exit, and unblocking could let a late signal kill it before it returns
  // its exit code.
  stopping_ = true;
  pthread_kill(thread_.native_handle(), SIGTERM);
  thread_.join();
  if (shutdown_thread_.joinable()) shutdown_thread_.join();
  for (int fd : pipe_) {
    if (fd >= 0) close(fd);
  }
}

void SignalWatcher::attach(Snakepit* pit) {
  std::lock_guard lock(mutex_);
  pit_ = pit;
  if (pit_ != nullptr && signal_ != 0) pit_->shutdown(kShutdownGrace);
}

void SignalWatcher::run() {
  for (;;) {
    int received = 0;
    if (sigwait(&signals_, &received) != 0) continue;
    if (stopping_) return;
    if (signal_ != 0) {
      fmt::print(stderr, "snakepit: second signal, exiting now\n");
      std::_Exit(signal_exit_code(received));
    }
    signal_ = received;
    fmt::print(stderr, "snakepit: {}, shutting down (again to force)\n",
               received == SIGINT ? "interrupted (SIGINT)" : "terminated (SIGTERM)");
    if (pipe_[1] >= 0) {
      [[maybe_unused]] auto ignored = write(pipe_[1], "!", 1);
    }
    shutdown_thread_ = std::thread([this] {
      std::lock_guard lock(mutex_);
      if (pit_ != nullptr) pit_->shutdown(kShutdownGrace);
    });
  }
}

}  // namespace snakepit::cli
