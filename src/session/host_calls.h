// Serves the calls a worker makes on behalf of the request it runs
// (docs/protocol.md, "Calls to the host"): the built-in session data
// functions and host.functions are answered at once; a registered function
// is handed back to be run off the loop. Safe from any thread.
#pragma once

#include <memory>
#include <string_view>

#include "calls/function_registry.h"
#include "snakepit/json.h"
#include "snakepit/session_store.h"
#include "snakepit/status.h"

namespace snakepit::internal {

class HostCalls {
 public:
  HostCalls(std::shared_ptr<SessionStore> store, std::shared_ptr<const FunctionRegistry> functions)
      : store_(std::move(store)), functions_(std::move(functions)) {}

  // What to do with one call: an answer now, or a registered function to run.
  struct Plan {
    Result<Json> answer;                      // when `function` is null
    FunctionRegistry::FunctionPtr function;   // else: run it with `args`
    Json args;
  };
  // `call` is the frame's payload; `session` is the running request's
  // session (empty: none). The answer goes back in a `reply`.
  Plan plan(std::string_view session, Json call) const;

 private:
  Result<Json> session_read(std::string_view session, const Json& args) const;
  Result<Json> session_update(std::string_view session, Json& args) const;
  Result<Json> session_info(std::string_view session) const;

  std::shared_ptr<SessionStore> store_;
  std::shared_ptr<const FunctionRegistry> functions_;  // may be null
};

}  // namespace snakepit::internal
