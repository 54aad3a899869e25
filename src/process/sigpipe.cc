#include "process/sigpipe.h"

#include <pthread.h>
#include <signal.h>

#include <ctime>

namespace snakepit::internal {

void block_sigpipe_in_this_thread() {
  sigset_t set;
  ::sigemptyset(&set);
  ::sigaddset(&set, SIGPIPE);
  ::pthread_sigmask(SIG_BLOCK, &set, nullptr);
}

void discard_pending_sigpipe() {
  sigset_t set;
  ::sigemptyset(&set);
  ::sigaddset(&set, SIGPIPE);
  const timespec zero{};
  while (::sigtimedwait(&set, nullptr, &zero) == SIGPIPE) {
  }
}

}  // namespace snakepit::internal
