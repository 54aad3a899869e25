// FIFO of waiting requests, bounded by a maximum length, with O(1) removal
// of any element (a request whose queue timeout fired leaves at once and can
// never run later). Loop-only, like everything the pool owns.
#pragma once

#include <cstddef>
#include <list>
#include <optional>

namespace snakepit::internal {

template <typename T>
class DispatchQueue {
 public:
  using Handle = typename std::list<T>::iterator;

  explicit DispatchQueue(std::size_t max_length) : max_(max_length) {}

  // Appends; nullopt when the queue is full.
  std::optional<Handle> push_back(T item) {
    if (items_.size() >= max_) return std::nullopt;
    return track(items_.insert(items_.end(), std::move(item)));
  }
  // Puts a retried request first. May exceed the bound by the number of
  // requests being retried: they were already admitted once.
  Handle push_front(T item) { return track(items_.insert(items_.begin(), std::move(item))); }

  std::optional<T> pop_front() {
    if (items_.empty()) return std::nullopt;
    T item = std::move(items_.front());
    items_.pop_front();
    return item;
  }
  void remove(Handle handle) { items_.erase(handle); }

  bool empty() const { return items_.empty(); }
  std::size_t size() const { return items_.size(); }
  std::size_t peak() const { return peak_; }

 private:
  Handle track(Handle handle) {
    if (items_.size() > peak_) peak_ = items_.size();
    return handle;
  }

  std::size_t max_;
  std::size_t peak_ = 0;
  std::list<T> items_;
};

}  // namespace snakepit::internal
