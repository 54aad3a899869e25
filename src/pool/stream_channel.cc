#include "pool/stream_channel.h"

namespace snakepit::internal {

StreamChannel::StreamChannel(std::size_t window, std::function<void()> wake)
    : window_(window == 0 ? 1 : window), wake_(std::move(wake)) {}

void StreamChannel::set_resume(std::function<void()> resume) {
  MutexLock lock(mutex_);
  resume_ = std::move(resume);
}

bool StreamChannel::push(Json chunk) {
  bool wake = false;
  bool room = true;
  {
    MutexLock lock(mutex_);
    if (final_ || final_taken_ || discarding_) return true;
    chunks_.push_back(std::move(chunk));
    wake = std::exchange(consumer_idle_, false);
    if (chunks_.size() >= window_) {
      producer_paused_ = true;
      room = false;
    }
  }
  ready_.notify_one();
  if (wake && wake_) wake_();
  return room;
}

void StreamChannel::finish(Result<Json> final) {
  bool wake = false;
  {
    MutexLock lock(mutex_);
    if (final_ || final_taken_) return;
    final_ = std::move(final);
    wake = std::exchange(consumer_idle_, false);
  }
  ready_.notify_one();
  if (wake && wake_) wake_();
}

std::optional<StreamChannel::Item> StreamChannel::take_locked(std::function<void()>& resume) {
  if (!chunks_.empty()) {
    Item item{std::move(chunks_.front()), std::nullopt};
    chunks_.pop_front();
    if (producer_paused_ && chunks_.size() <= window_ / 2) {
      producer_paused_ = false;
      resume = resume_;
    }
    return item;
  }
  if (final_) {
    final_taken_ = true;
    Item item{std::nullopt, std::move(final_)};
    final_.reset();
    return item;
  }
  return std::nullopt;
}

std::optional<StreamChannel::Item> StreamChannel::try_pop() {
  std::function<void()> resume;
  std::optional<Item> item;
  {
    MutexLock lock(mutex_);
    item = take_locked(resume);
    if (!item) consumer_idle_ = true;
  }
  if (resume) resume();
  return item;
}

StreamChannel::Item StreamChannel::pop() {
  std::function<void()> resume;
  std::optional<Item> item;
  {
    MutexLock lock(mutex_);
    while (!(item = take_locked(resume))) ready_.wait(mutex_);
  }
  if (resume) resume();
  return std::move(*item);
}

void StreamChannel::discard_chunks() {
  std::function<void()> resume;
  {
    MutexLock lock(mutex_);
    discarding_ = true;
    chunks_.clear();
    if (std::exchange(producer_paused_, false)) resume = resume_;
  }
  if (resume) resume();
}

}  // namespace snakepit::internal
