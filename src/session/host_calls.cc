#include "session/host_calls.h"

#include <fmt/format.h>

namespace snakepit::internal {
namespace {

Status bad_call(std::string message) { return invalid_argument(std::move(message), Json{{"reason", "bad_call"}}); }

// A list of strings from `args[field]`; a missing field is an empty list.
Result<std::vector<std::string>> string_list(const Json& args, const char* field) {
  std::vector<std::string> out;
  auto it = args.find(field);
  if (it == args.end() || it->is_null()) return out;
  if (!it->is_array()) return bad_call(fmt::format("\"{}\" must be an array of strings", field));
  out.reserve(it->size());
  for (const auto& item : *it) {
    if (!item.is_string()) return bad_call(fmt::format("\"{}\" must be an array of strings", field));
    out.push_back(item.get<std::string>());
  }
  return out;
}

}  // namespace

HostCalls::Plan HostCalls::plan(std::string_view session, Json call) const {
  if (!call.is_object() || !call.contains("function") || !call["function"].is_string()) {
    return {bad_call("a call must be an object with a string \"function\""), nullptr, {}};
  }
  const auto& function = call["function"].get_ref<const std::string&>();
  auto args_it = call.find("args");
  if (args_it == call.end() || args_it->is_null()) args_it = call.emplace("args", Json::object()).first;
  Json& args = *args_it;
  if (!args.is_object()) return {bad_call(fmt::format("{}: \"args\" must be an object", function)), nullptr, {}};

  const bool session_function = function.rfind("session.", 0) == 0;
  if (session_function && session.empty()) {
    return {failed_precondition(fmt::format("{}: this request has no session (use execute_in_session)", function),
                                Json{{"reason", "no_session"}}),
            nullptr,
            {}};
  }
  if (function == "session.read") return {session_read(session, args), nullptr, {}};
  if (function == "session.update") return {session_update(session, args), nullptr, {}};
  if (function == "session.info") return {session_info(session), nullptr, {}};
  if (function == "host.functions") {
    return {functions_ ? functions_->list(session) : Json{{"functions", Json::array()}}, nullptr, {}};
  }
  if (functions_ && !session_function) {
    if (auto registered = functions_->find(function, session)) return {Json(), std::move(registered), std::move(args)};
  }
  return {not_found(fmt::format("no host function '{}'", function.substr(0, 128)),
                    Json{{"reason", "unknown_function"}, {"function", function.substr(0, 128)}}),
          nullptr,
          {}};
}

Result<Json> HostCalls::session_read(std::string_view session, const Json& args) const {
  auto keys = string_list(args, "keys");
  if (!keys.ok()) return keys.status();
  auto data = store_->read(session, *keys);
  if (!data.ok()) return data.status();
  return Json{{"values", std::move(data->values)}, {"version", data->version}};
}

Result<Json> HostCalls::session_update(std::string_view session, Json& args) const {
  SessionUpdate update;
  if (auto it = args.find("set"); it != args.end() && !it->is_null()) {
    if (!it->is_object()) return bad_call("session.update: \"set\" must be an object");
    for (auto& [key, value] : it->items()) update.set.emplace(key, std::move(value));  // no copy of the values
  }
  auto erase = string_list(args, "delete");
  if (!erase.ok()) return erase.status();
  update.erase = std::move(*erase);
  if (auto it = args.find("if_version"); it != args.end() && !it->is_null()) {
    if (!it->is_number_unsigned()) return bad_call("session.update: \"if_version\" must be a non-negative integer");
    update.if_version = it->get<std::uint64_t>();
  }
  auto version = store_->update(session, update);
  if (!version.ok()) return version.status();
  return Json{{"version", *version}};
}

Result<Json> HostCalls::session_info(std::string_view session) const {
  auto info = store_->get(session);
  if (!info.ok()) return info.status();
  return to_json(*info);
}

}  // namespace snakepit::internal
