// Writes to a pipe whose reader died raise SIGPIPE, which would kill the
// host. The loop thread blocks SIGPIPE (so writes fail with EPIPE instead)
// and discards the pending signal after each EPIPE. No global handler.
#pragma once

namespace snakepit::internal {

// Blocks SIGPIPE for the calling thread.
void block_sigpipe_in_this_thread();
// Discards a SIGPIPE pending on the calling thread, if any.
void discard_pending_sigpipe();

}  // namespace snakepit::internal
