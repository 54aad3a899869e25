// Bytes waiting to be written to a worker: frames encoded in place, and
// large byte strings referenced where they lie (written with writev, never
// copied). Small frames append to the last owned segment, so the common case
// is one buffer and one write().
#pragma once

#include <cstddef>
#include <deque>
#include <memory>
#include <string>

#include "protocol/binary_payload.h"

namespace snakepit::internal {

class OutputQueue {
 public:
  OutputQueue() : segments_(1) {}

  // Where the next frame is encoded.
  std::string& tail();
  // Queues `attachment` after what tail() holds now; `owner` keeps its bytes alive.
  void attach(const Attachment& attachment, std::shared_ptr<const void> owner);

  bool empty() const { return bytes() == 0; }
  std::size_t bytes() const;

  enum class WriteResult { kDone, kWouldBlock, kClosed };
  // Writes until done or the fd is full; kClosed (EPIPE and the like) drops everything.
  WriteResult write_to(int fd);
  void clear();

 private:
  struct Segment {
    std::string owned;                     // used when `external` is null
    const char* external = nullptr;
    std::size_t external_size = 0;
    std::shared_ptr<const void> owner;
    std::size_t written = 0;               // of this segment, already written
    std::size_t size() const { return external != nullptr ? external_size : owned.size(); }
    const char* data() const { return external != nullptr ? external : owned.data(); }
  };
  void consume(std::size_t n);

  std::deque<Segment> segments_;  // never empty: the front is reused when everything is written
};

}  // namespace snakepit::internal
