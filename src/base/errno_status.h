// The one place where errno values become Status.
#pragma once

#include <string_view>

#include "snakepit/status.h"

namespace snakepit::internal {

// "<what>: <strerror(err)>" with a code chosen from err (ENOENT → NotFound,
// EACCES/EPERM → FailedPrecondition, EMFILE/ENFILE/EAGAIN/ENOMEM →
// ResourceExhausted, otherwise Internal). details.errno holds err.
Status errno_status(std::string_view what, int err);

}  // namespace snakepit::internal
