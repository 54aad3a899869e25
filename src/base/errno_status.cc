#include "base/errno_status.h"

#include <cerrno>
#include <cstring>

#include <fmt/format.h>

namespace snakepit::internal {

Status errno_status(std::string_view what, int err) {
  Code code = Code::kInternal;
  switch (err) {
    case ENOENT:
    case ENOTDIR:
      code = Code::kNotFound;
      break;
    case EACCES:
    case EPERM:
    case ENOEXEC:
      code = Code::kFailedPrecondition;
      break;
    case EMFILE:
    case ENFILE:
    case EAGAIN:
    case ENOMEM:
      code = Code::kResourceExhausted;
      break;
    default:
      break;
  }
  return {code, fmt::format("{}: {}", what, std::strerror(err)), Json{{"errno", err}}};
}

}  // namespace snakepit::internal
