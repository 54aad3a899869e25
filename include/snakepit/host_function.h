// Functions the host offers to its workers: a command calls them while it
// runs (Python: ctx.call("name", **args)) and gets their result back.
// Registered on a Snakepit globally or for one session (docs/protocol.md,
// "Calls to the host").
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "snakepit/json.h"
#include "snakepit/status.h"

namespace snakepit {

// Who is calling: the request on whose behalf the worker calls.
struct CallContext {
  std::string function;
  std::string session_id;  // empty: the request has no session
  std::string worker_id;
  std::string command;
  std::uint64_t request_id = 0;
};

// Runs on a Snakepit callback thread, never on the event loop: it may take
// its time (its caller waits), but concurrent calls from several workers run
// concurrently. An exception becomes Internal (reason host_function_threw).
using HostFunctionBody = std::function<Result<Json>(Json args, const CallContext& context)>;

struct HostFunction {
  std::string name;         // [A-Za-z0-9_.:-], at most 128 characters; "session." and "host." are reserved
  std::string description;  // shown to workers by host.functions
  HostFunctionBody body;
};

}  // namespace snakepit
