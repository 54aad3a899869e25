#include "snakepit/status.h"

#include <array>

namespace snakepit {
namespace {

constexpr std::array<std::string_view, 9> kCodeNames = {
    "Ok",          "InvalidArgument", "NotFound",           "DeadlineExceeded", "ResourceExhausted",
    "Unavailable", "Cancelled",       "FailedPrecondition", "Internal",
};

}  // namespace

std::string_view code_name(Code code) { return kCodeNames.at(static_cast<std::size_t>(code)); }

std::optional<Code> code_from_name(std::string_view name) {
  for (std::size_t i = 0; i < kCodeNames.size(); ++i) {
    if (kCodeNames[i] == name) return static_cast<Code>(i);
  }
  return std::nullopt;
}

std::string Status::to_string() const {
  std::string out(code_name(code_));
  if (!message_.empty()) {
    out += ": ";
    out += message_;
  }
  return out;
}

Json Status::to_json() const {
  Json out = {{"code", code_name(code_)}, {"message", message_}};
  out["details"] = details_.is_null() ? Json::object() : details_;
  return out;
}

Status invalid_argument(std::string m, Json d) { return {Code::kInvalidArgument, std::move(m), std::move(d)}; }
Status not_found(std::string m, Json d) { return {Code::kNotFound, std::move(m), std::move(d)}; }
Status deadline_exceeded(std::string m, Json d) { return {Code::kDeadlineExceeded, std::move(m), std::move(d)}; }
Status resource_exhausted(std::string m, Json d) { return {Code::kResourceExhausted, std::move(m), std::move(d)}; }
Status unavailable(std::string m, Json d) { return {Code::kUnavailable, std::move(m), std::move(d)}; }
Status cancelled(std::string m, Json d) { return {Code::kCancelled, std::move(m), std::move(d)}; }
Status failed_precondition(std::string m, Json d) { return {Code::kFailedPrecondition, std::move(m), std::move(d)}; }
Status internal_error(std::string m, Json d) { return {Code::kInternal, std::move(m), std::move(d)}; }

}  // namespace snakepit
