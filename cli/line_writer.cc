#include "line_writer.h"

namespace snakepit::cli {

LineWriter::LineWriter(std::FILE* out) : out_(out), thread_([this] { run(); }) {}

LineWriter::~LineWriter() { close(); }

void LineWriter::push(std::string line) {
  {
    std::lock_guard lock(mutex_);
    lines_.push_back(std::move(line));
  }
  wake_.notify_one();
}

void LineWriter::close() {
  {
    std::lock_guard lock(mutex_);
    closing_ = true;
  }
  wake_.notify_one();
  if (thread_.joinable()) thread_.join();
}

void LineWriter::run() {
  std::unique_lock lock(mutex_);
  for (;;) {
    wake_.wait(lock, [this] { return closing_ || !lines_.empty(); });
    if (lines_.empty()) return;  // closing, and everything written
    std::string line = std::move(lines_.front());
    lines_.pop_front();
    lock.unlock();  // a slow reader must not block push()
    line.push_back('\n');
    std::fwrite(line.data(), 1, line.size(), out_);
    std::fflush(out_);
    lock.lock();
  }
}

}  // namespace snakepit::cli
