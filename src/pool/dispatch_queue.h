// FIFO of waiting requests with O(1) removal of any element (a request whose
// queue timeout fired leaves at once and can never run later). The pool
// bounds the total over its queues (the shared one and each worker's pinned
// one). Loop-only, like everything the pool owns.
#pragma once

#include <cstddef>
#include <list>
#include <optional>

namespace snakepit::internal {

template <typename T>
class DispatchQueue {
 public:
  using Handle = typename std::list<T>::iterator;

  Handle push_back(T item) { return items_.insert(items_.end(), std::move(item)); }
  // Puts a retried request first.
  Handle push_front(T item) { return items_.insert(items_.begin(), std::move(item)); }

  std::optional<T> pop_front() {
    if (items_.empty()) return std::nullopt;
    T item = std::move(items_.front());
    items_.pop_front();
    return item;
  }
  void remove(Handle handle) { items_.erase(handle); }

  bool empty() const { return items_.empty(); }
  std::size_t size() const { return items_.size(); }

 private:
  std::list<T> items_;
};

}  // namespace snakepit::internal
