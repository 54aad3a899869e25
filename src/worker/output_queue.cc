#include "worker/output_queue.h"

#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "process/sigpipe.h"

namespace snakepit::internal {
namespace {
constexpr std::size_t kMaxIovecs = 64;
}  // namespace

std::string& OutputQueue::tail() {
  if (segments_.back().external != nullptr) segments_.emplace_back();
  return segments_.back().owned;
}

void OutputQueue::attach(const Attachment& attachment, std::shared_ptr<const void> owner) {
  if (attachment.size == 0) return;
  Segment& segment = segments_.emplace_back();
  segment.external = attachment.data;
  segment.external_size = attachment.size;
  segment.owner = std::move(owner);
}

std::size_t OutputQueue::bytes() const {
  std::size_t total = 0;
  for (const auto& segment : segments_) total += segment.size() - segment.written;
  return total;
}

OutputQueue::WriteResult OutputQueue::write_to(int fd) {
  while (true) {
    iovec iov[kMaxIovecs];
    std::size_t count = 0;
    for (const auto& segment : segments_) {
      if (count == kMaxIovecs) break;
      const std::size_t left = segment.size() - segment.written;
      if (left == 0) continue;
      iov[count++] = {const_cast<char*>(segment.data() + segment.written), left};
    }
    if (count == 0) {
      clear();
      return WriteResult::kDone;
    }
    const ssize_t n = count == 1 ? ::write(fd, iov[0].iov_base, iov[0].iov_len)
                                 : ::writev(fd, iov, static_cast<int>(count));
    if (n > 0) {
      consume(static_cast<std::size_t>(n));
    } else if (n < 0 && errno == EINTR) {
      continue;
    } else if (n < 0 && errno == EAGAIN) {
      return WriteResult::kWouldBlock;
    } else {
      if (errno == EPIPE) discard_pending_sigpipe();
      clear();
      return WriteResult::kClosed;
    }
  }
}

void OutputQueue::consume(std::size_t n) {
  while (n > 0) {
    Segment& front = segments_.front();
    const std::size_t take = std::min(n, front.size() - front.written);
    front.written += take;
    n -= take;
    if (front.written == front.size()) {
      if (segments_.size() == 1) {
        clear();
        return;
      }
      segments_.pop_front();
    }
  }
}

void OutputQueue::clear() {
  while (segments_.size() > 1) segments_.pop_back();
  Segment& only = segments_.front();
  only.owned.clear();  // keeps its capacity: the hot path does not allocate
  only.external = nullptr;
  only.external_size = 0;
  only.owner.reset();
  only.written = 0;
}

}  // namespace snakepit::internal
