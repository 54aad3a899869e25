// The host functions registered on a Snakepit, global and per session.
// Thread-safe: registration comes from any thread, lookups from the loop.
#pragma once

#include <map>
#include <memory>
#include <shared_mutex>
#include <string>
#include <string_view>

#include "snakepit/host_function.h"

namespace snakepit::internal {

class FunctionRegistry {
 public:
  using FunctionPtr = std::shared_ptr<const HostFunction>;

  // `session` empty: global. Errors: InvalidArgument (bad name, no body),
  // FailedPrecondition (reason already_registered).
  Status add(HostFunction function, std::string session = {});
  // Errors: NotFound.
  Status remove(std::string_view name, std::string_view session = {});
  // The session's function of that name, else the global one; null if none.
  FunctionPtr find(std::string_view name, std::string_view session) const;
  // {"functions": [{"name", "description", "scope"}]} as host.functions returns it.
  Json list(std::string_view session) const;

 private:
  using Table = std::map<std::string, FunctionPtr, std::less<>>;
  mutable std::shared_mutex mutex_;
  Table global_;
  std::map<std::string, Table, std::less<>> sessions_;
};

Status validate_function_name(std::string_view name);

}  // namespace snakepit::internal
