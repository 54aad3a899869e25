// Status and Result<T>: the one error channel of Snakepit. No exception
// crosses the library boundary; every fallible call returns one of these.
#pragma once

#include <cassert>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

#include "snakepit/json.h"

namespace snakepit {

// The small, fixed code set. Each maps 1:1 to a gRPC status code, an HTTP
// status and a CLI exit code (see docs/protocol.md and `snakepit --help`).
enum class Code {
  kOk = 0,
  kInvalidArgument,     // bad command, bad arguments, bad option value
  kNotFound,            // missing executable, unknown pool or session
  kDeadlineExceeded,    // request or queue deadline passed; start-up timeout
  kResourceExhausted,   // queue full, quota reached
  kUnavailable,         // worker lost or pool not serving; retryable
  kCancelled,           // the caller cancelled the request
  kFailedPrecondition,  // the system is not in a state to run the request
  kInternal,            // a command raised an unclassified error, or a bug
};

// "Ok", "InvalidArgument", ... as used in JSON output and on the wire.
std::string_view code_name(Code code);
// Inverse of code_name(); nullopt for an unknown name.
std::optional<Code> code_from_name(std::string_view name);

class [[nodiscard]] Status {
 public:
  Status() = default;  // Ok
  Status(Code code, std::string message, Json details = {})
      : code_(code), message_(std::move(message)), details_(std::move(details)) {}

  static Status ok_status() { return {}; }

  bool ok() const { return code_ == Code::kOk; }
  Code code() const { return code_; }
  const std::string& message() const { return message_; }
  // Structured context: worker id, pid, exit code or signal, remote
  // exception type and traceback, reason. A JSON object or null.
  const Json& details() const { return details_; }
  Json& details() { return details_; }

  // "Unavailable: worker 2 exited with code 3"
  std::string to_string() const;
  // {"code": "...", "message": "...", "details": {...}}
  Json to_json() const;

 private:
  Code code_ = Code::kOk;
  std::string message_;
  Json details_;
};

inline std::ostream& operator<<(std::ostream& out, const Status& status) {
  return out << status.to_string();
}

// Shorthands for the common codes.
Status invalid_argument(std::string message, Json details = {});
Status not_found(std::string message, Json details = {});
Status deadline_exceeded(std::string message, Json details = {});
Status resource_exhausted(std::string message, Json details = {});
Status unavailable(std::string message, Json details = {});
Status cancelled(std::string message, Json details = {});
Status failed_precondition(std::string message, Json details = {});
Status internal_error(std::string message, Json details = {});

// A value or an error Status. Access to value() of an error is a bug
// (asserted).
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : value_(std::move(value)) {}  // NOLINT: implicit by design
  Result(Status status) : value_(std::move(status)) {  // NOLINT
    assert(!std::get<Status>(value_).ok() && "Result needs an error Status");
  }

  bool ok() const { return std::holds_alternative<T>(value_); }
  explicit operator bool() const { return ok(); }

  T& value() & { return checked(); }
  const T& value() const& { return const_cast<Result*>(this)->checked(); }
  T&& value() && { return std::move(checked()); }
  T& operator*() & { return checked(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &checked(); }
  const T* operator->() const { return &value(); }

  // The error; Ok status when this holds a value.
  const Status& status() const {
    static const Status kOk;
    return ok() ? kOk : std::get<Status>(value_);
  }
  const Status& error() const { return status(); }

 private:
  T& checked() {
    assert(ok() && "value() of an error Result");
    return std::get<T>(value_);
  }
  std::variant<T, Status> value_;
};

}  // namespace snakepit

#if __has_include(<fmt/format.h>)
#include <fmt/format.h>
template <>
struct fmt::formatter<snakepit::Status> : fmt::formatter<std::string_view> {
  template <typename Context>
  auto format(const snakepit::Status& status, Context& ctx) const {
    return fmt::formatter<std::string_view>::format(status.to_string(), ctx);
  }
};
#endif
