#include "batch_request.h"

#include <fmt/format.h>

#include <chrono>
#include <limits>

#include "json_text.h"

namespace snakepit::cli {
namespace {

// Fills request.error with "line N: <reason>" and returns the request.
BatchRequest bad_line(BatchRequest request, std::size_t line_number, std::string_view reason) {
  request.error = fmt::format("line {}: {}", line_number, reason);
  return request;
}

}  // namespace

BatchRequest parse_batch_request(std::string_view line, std::size_t line_number) {
  BatchRequest request;
  std::string parse_error;
  auto parsed = parse_json(line, parse_error);
  if (!parsed) return bad_line(std::move(request), line_number, "invalid JSON: " + parse_error);
  if (!parsed->is_object()) {
    return bad_line(std::move(request), line_number, "expected a JSON object");
  }
  Json& object = *parsed;
  if (auto id = object.find("id"); id != object.end()) request.id = *id;
  for (const auto& [key, value] : object.items()) {
    if (key != "id" && key != "command" && key != "args" && key != "timeout_ms" &&
        key != "idempotent" && key != "session" && key != "pool") {
      return bad_line(std::move(request), line_number, fmt::format("unknown key \"{}\"", key));
    }
  }
  auto command = object.find("command");
  if (command == object.end() || !command->is_string() || command->get<std::string>().empty()) {
    return bad_line(std::move(request), line_number, "\"command\" must be a non-empty string");
  }
  request.command = command->get<std::string>();
  if (auto args = object.find("args"); args != object.end()) {
    if (!args->is_object()) {
      return bad_line(std::move(request), line_number, "\"args\" must be a JSON object");
    }
    request.args = std::move(*args);
  }
  if (auto timeout = object.find("timeout_ms"); timeout != object.end()) {
    // Integers only; positive, and small enough for a steady_clock deadline.
    constexpr std::int64_t kMaxTimeout = std::numeric_limits<std::int32_t>::max();
    std::int64_t ms = -1;
    if (timeout->is_number_unsigned()) {
      if (timeout->get<std::uint64_t>() <= kMaxTimeout) ms = timeout->get<std::int64_t>();
    } else if (timeout->is_number_integer()) {
      ms = timeout->get<std::int64_t>();
    }
    if (ms <= 0 || ms > kMaxTimeout) {
      return bad_line(std::move(request), line_number,
                      "\"timeout_ms\" must be a positive integer (milliseconds)");
    }
    request.options.timeout = std::chrono::milliseconds(ms);
  }
  if (auto idempotent = object.find("idempotent"); idempotent != object.end()) {
    if (!idempotent->is_boolean()) {
      return bad_line(std::move(request), line_number, "\"idempotent\" must be true or false");
    }
    request.options.idempotent = idempotent->get<bool>();
  }
  if (auto session = object.find("session"); session != object.end()) {
    // Only the type here: the pool checks the id itself (reason bad_session_id).
    if (!session->is_string()) {
      return bad_line(std::move(request), line_number,
                      "\"session\" must be a string (a session id)");
    }
    request.session = session->get<std::string>();
  }
  if (auto pool = object.find("pool"); pool != object.end()) {
    // Only the type here: the library answers an unknown name (reason unknown_pool).
    if (!pool->is_string()) {
      return bad_line(std::move(request), line_number, "\"pool\" must be a string (a pool name)");
    }
    request.pool = pool->get<std::string>();
    request.options.pool = *request.pool;
  }
  return request;
}

std::string batch_response(const Json& id, const Result<Json>& result) {
  // Built by hand to keep the documented key order: id, ok, result|error.
  if (result.ok())
    return fmt::format(R"({{"id":{},"ok":true,"result":{}}})", to_line(id), to_line(*result));
  return fmt::format(R"({{"id":{},"ok":false,"error":{}}})", to_line(id),
                     to_line(result.status().to_json()));
}

std::string batch_session_response(const Json& id, const Result<SessionReply>& reply) {
  if (!reply.ok()) return batch_response(id, Result<Json>(reply.status()));
  std::string line =
      fmt::format(R"({{"id":{},"ok":true,"result":{},"worker":{{"id":{},"pid":{}}})", to_line(id),
                  to_line(reply->value), to_line(reply->worker_id), reply->worker_pid);
  if (reply->worker_changed()) {
    line += fmt::format(R"(,"previous_worker":{})", to_line(reply->previous_worker_id));
  }
  line += '}';
  return line;
}

}  // namespace snakepit::cli
