// Writes whole lines to a FILE from one dedicated thread, in the order they
// were pushed. Pool callbacks run on the pool's event loop and must not
// block on a slow reader of stdout, so they only push.
//
// Thread-safety: push() may be called from any thread; close() and the
// destructor from the owner.
#pragma once

#include <condition_variable>
#include <cstdio>
#include <deque>
#include <mutex>
#include <string>
#include <thread>

namespace snakepit::cli {

class LineWriter {
 public:
  explicit LineWriter(std::FILE* out);
  ~LineWriter();  // close()
  LineWriter(const LineWriter&) = delete;
  LineWriter& operator=(const LineWriter&) = delete;

  // Queues `line` (without "\n"); it is written with "\n" and flushed.
  void push(std::string line);
  // Writes everything queued, then stops the thread. Idempotent.
  void close();

 private:
  void run();

  std::FILE* out_;
  std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<std::string> lines_;  // guarded by mutex_
  bool closing_ = false;           // guarded by mutex_
  std::thread thread_;
};

}  // namespace snakepit::cli
