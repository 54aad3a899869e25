// Clang's thread-safety analysis (-Wthread-safety, on in the TSan build):
// annotations, and a std::mutex the analysis understands. No-ops elsewhere.
#pragma once

#include <mutex>

#if defined(__clang__)
#define SNAKEPIT_TSA(x) __attribute__((x))
#else
#define SNAKEPIT_TSA(x)
#endif
#define SNAKEPIT_CAPABILITY(x) SNAKEPIT_TSA(capability(x))
#define SNAKEPIT_SCOPED_CAPABILITY SNAKEPIT_TSA(scoped_lockable)
#define SNAKEPIT_GUARDED_BY(x) SNAKEPIT_TSA(guarded_by(x))
#define SNAKEPIT_REQUIRES(...) SNAKEPIT_TSA(requires_capability(__VA_ARGS__))
#define SNAKEPIT_ACQUIRE(...) SNAKEPIT_TSA(acquire_capability(__VA_ARGS__))
#define SNAKEPIT_RELEASE(...) SNAKEPIT_TSA(release_capability(__VA_ARGS__))
#define SNAKEPIT_TRY_ACQUIRE(...) SNAKEPIT_TSA(try_acquire_capability(__VA_ARGS__))

namespace snakepit::internal {

// std::mutex with the annotations the analysis needs.
class SNAKEPIT_CAPABILITY("mutex") Mutex {
 public:
  void lock() SNAKEPIT_ACQUIRE() { mutex_.lock(); }
  void unlock() SNAKEPIT_RELEASE() { mutex_.unlock(); }
  bool try_lock() SNAKEPIT_TRY_ACQUIRE(true) { return mutex_.try_lock(); }

 private:
  std::mutex mutex_;
};

class SNAKEPIT_SCOPED_CAPABILITY MutexLock {
 public:
  explicit MutexLock(Mutex& mutex) SNAKEPIT_ACQUIRE(mutex) : mutex_(mutex) { mutex_.lock(); }
  ~MutexLock() SNAKEPIT_RELEASE() { mutex_.unlock(); }
  MutexLock(const MutexLock&) = delete;
  MutexLock& operator=(const MutexLock&) = delete;

 private:
  Mutex& mutex_;
};

}  // namespace snakepit::internal
