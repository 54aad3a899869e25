// `snakepit exec --batch`: JSON request lines on stdin, one JSON response line
// per request on stdout in completion order, with up to `concurrency`
// requests in flight on the pool. Lines with "session" run in that session.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <mutex>
#include <string>

#include "line_reader.h"
#include "line_writer.h"
#include "snakepit/snakepit.h"

namespace snakepit::cli {

class BatchRunner {
 public:
  // REQUIRES: concurrency >= 1. Lines without "pool" run on `default_pool`
  // (empty: the Snakepit's default pool).
  BatchRunner(Snakepit& pit, std::size_t concurrency, std::string default_pool = {});
  // Waits for every request in flight before the members go away.
  ~BatchRunner();
  BatchRunner(const BatchRunner&) = delete;
  BatchRunner& operator=(const BatchRunner&) = delete;

  // Reads `input` to its end (or interrupt) and answers every line; returns
  // once all answers are written. With `with_stats`, the pool's stats follow
  // as a last line {"stats": ...} unless the input was interrupted.
  void run(LineReader& input, bool with_stats);

 private:
  void submit(std::size_t line_number, const std::string& line);
  // A request's answer: writes it and frees its place. Any thread.
  void answered(std::string line);
  void wait_until_below(std::size_t limit);

  Snakepit& pit_;
  const std::size_t concurrency_;
  const std::string default_pool_;
  std::mutex mutex_;
  std::condition_variable done_;
  std::size_t in_flight_ = 0;  // guarded by mutex_
  LineWriter out_;             // declared last: closed first, after the waits
};

}  // namespace snakepit::cli
