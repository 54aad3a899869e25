// The chunks of one streamed request, from the loop (producer) to whoever
// consumes them: the caller's thread (blocking form) or the callback
// executor (async form). Bounded: once `window` chunks wait, push() says so
// and the pool stops reading the worker until the consumer has taken half of
// them (then `resume` runs). Thread-safe.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <optional>

#include "base/thread_annotations.h"
#include "snakepit/json.h"
#include "snakepit/status.h"

namespace snakepit::internal {

class StreamChannel {
 public:
  // `wake` (may be null) runs when items arrive for a consumer that had
  // found the channel empty; never with the lock held.
  StreamChannel(std::size_t window, std::function<void()> wake);

  // Producer side (the loop).
  // How to restart reading the worker once the window has room again.
  void set_resume(std::function<void()> resume);
  // False: the window is full; the caller pauses the producer.
  bool push(Json chunk);
  // The final status; once. Chunks pushed later are dropped.
  void finish(Result<Json> final);

  // Consumer side.
  struct Item {
    std::optional<Json> chunk;
    std::optional<Result<Json>> final;  // the last item
  };
  // The next item, or nullopt when none is ready (the consumer is then
  // idle: the next push wakes it).
  std::optional<Item> try_pop();
  // Blocks until an item is ready.
  Item pop();
  // The consumer wants no more chunks: those waiting and later ones are dropped.
  void discard_chunks();

 private:
  std::optional<Item> take_locked(std::function<void()>& resume) SNAKEPIT_REQUIRES(mutex_);

  const std::size_t window_;
  const std::function<void()> wake_;
  Mutex mutex_;
  std::condition_variable_any ready_;
  std::deque<Json> chunks_ SNAKEPIT_GUARDED_BY(mutex_);
  std::optional<Result<Json>> final_ SNAKEPIT_GUARDED_BY(mutex_);
  std::function<void()> resume_ SNAKEPIT_GUARDED_BY(mutex_);
  bool producer_paused_ SNAKEPIT_GUARDED_BY(mutex_) = false;
  bool consumer_idle_ SNAKEPIT_GUARDED_BY(mutex_) = true;
  bool discarding_ SNAKEPIT_GUARDED_BY(mutex_) = false;
  bool final_taken_ SNAKEPIT_GUARDED_BY(mutex_) = false;
};

}  // namespace snakepit::internal
