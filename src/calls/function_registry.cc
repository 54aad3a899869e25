#include "calls/function_registry.h"

#include <mutex>

#include <fmt/format.h>

namespace snakepit::internal {
namespace {
constexpr std::size_t kMaxNameLength = 128;

bool name_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '.' ||
         c == ':' || c == '-';
}
}  // namespace

Status validate_function_name(std::string_view name) {
  const Json reason = {{"reason", "bad_function_name"}};
  if (name.empty() || name.size() > kMaxNameLength) {
    return invalid_argument(fmt::format("a host function name has 1 to {} characters", kMaxNameLength), reason);
  }
  for (char c : name) {
    if (!name_char(c)) {
      return invalid_argument(fmt::format("host function name '{}': only letters, digits and _ . : - are allowed",
                                          name),
                              reason);
    }
  }
  if (name.rfind("session.", 0) == 0 || name.rfind("host.", 0) == 0) {
    return invalid_argument(fmt::format("host function name '{}': the prefixes session. and host. are reserved", name),
                            reason);
  }
  return {};
}

Status FunctionRegistry::add(HostFunction function, std::string session) {
  if (auto status = validate_function_name(function.name); !status.ok()) return status;
  if (!function.body) {
    return invalid_argument(fmt::format("host function '{}' has no body", function.name),
                            Json{{"reason", "bad_function"}});
  }
  std::unique_lock lock(mutex_);
  Table& table = session.empty() ? global_ : sessions_[std::move(session)];
  const std::string name = function.name;
  if (table.contains(name)) {
    return failed_precondition(fmt::format("host function '{}' is already registered", name),
                               Json{{"reason", "already_registered"}});
  }
  table.emplace(name, std::make_shared<const HostFunction>(std::move(function)));
  return {};
}

Status FunctionRegistry::remove(std::string_view name, std::string_view session) {
  std::unique_lock lock(mutex_);
  Table* table = &global_;
  auto scope = sessions_.end();
  if (!session.empty()) {
    scope = sessions_.find(session);
    table = scope == sessions_.end() ? nullptr : &scope->second;
  }
  auto it = table == nullptr ? Table::iterator{} : table->find(name);
  if (table == nullptr || it == table->end()) {
    return not_found(fmt::format("no host function '{}' is registered{}", name,
                                 session.empty() ? "" : fmt::format(" for session {}", session)),
                     Json{{"reason", "unknown_function"}});
  }
  table->erase(it);
  if (scope != sessions_.end() && scope->second.empty()) sessions_.erase(scope);
  return {};
}

FunctionRegistry::FunctionPtr FunctionRegistry::find(std::string_view name, std::string_view session) const {
  std::shared_lock lock(mutex_);
  if (!session.empty() && !sessions_.empty()) {
    if (auto scope = sessions_.find(session); scope != sessions_.end()) {
      if (auto it = scope->second.find(name); it != scope->second.end()) return it->second;
    }
  }
  auto it = global_.find(name);
  return it == global_.end() ? nullptr : it->second;
}

Json FunctionRegistry::list(std::string_view session) const {
  Json functions = Json::array();
  std::shared_lock lock(mutex_);
  auto describe = [&](const Table& table, const char* scope) {
    for (const auto& [name, function] : table) {
      functions.push_back({{"name", name}, {"description", function->description}, {"scope", scope}});
    }
  };
  if (!session.empty()) {
    if (auto scope = sessions_.find(session); scope != sessions_.end()) describe(scope->second, "session");
  }
  describe(global_, "global");
  return Json{{"functions", std::move(functions)}};
}

}  // namespace snakepit::internal
