// Serves the calls a worker makes on behalf of the request it runs
// (docs/protocol.md, "Calls to the host"): today the session data functions.
// Stateless apart from the store; safe from any thread.
#pragma once

#include <memory>
#include <string_view>

#include "snakepit/json.h"
#include "snakepit/session_store.h"
#include "snakepit/status.h"

namespace snakepit::internal {

class HostCalls {
 public:
  explicit HostCalls(std::shared_ptr<SessionStore> store) : store_(std::move(store)) {}

  // `call` is the frame's payload; `session` is the running request's
  // session (empty: none). The result or error goes back in a `reply`.
  Result<Json> handle(std::string_view session, Json call) const;

 private:
  Result<Json> session_read(std::string_view session, const Json& args) const;
  Result<Json> session_update(std::string_view session, Json& args) const;
  Result<Json> session_info(std::string_view session) const;

  std::shared_ptr<SessionStore> store_;
};

}  // namespace snakepit::internal
