#include "config/toml_section.h"

#include <algorithm>

#include <fmt/format.h>

namespace snakepit::internal {
namespace {

// Edit distance (insert, delete, replace, swap of neighbours) of short keys.
std::size_t distance(std::string_view a, std::string_view b) {
  std::vector<std::vector<std::size_t>> d(a.size() + 1, std::vector<std::size_t>(b.size() + 1));
  for (std::size_t i = 0; i <= a.size(); ++i) d[i][0] = i;
  for (std::size_t j = 0; j <= b.size(); ++j) d[0][j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    for (std::size_t j = 1; j <= b.size(); ++j) {
      d[i][j] = std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1)});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1])
        d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
    }
  }
  return d[a.size()][b.size()];
}

// The allowed key a typo most likely meant ("sise" → "size"); empty if none is close.
std::string_view nearest(std::string_view key, Keys allowed) {
  if (key.size() > 64) return {};
  std::string_view best;
  std::size_t best_distance = 3;  // at most 2 edits, and fewer than half the key
  for (auto candidate : allowed) {
    const std::size_t d = distance(key, candidate);
    if (d < best_distance && 2 * d < std::max(key.size(), candidate.size())) {
      best = candidate;
      best_distance = d;
    }
  }
  return best;
}

}  // namespace

bool contains(Keys keys, std::string_view key) { return std::find(keys.begin(), keys.end(), key) != keys.end(); }

Json key_list(Keys keys) {
  Json list = Json::array();
  for (auto key : keys) list.push_back(key);
  return list;
}

std::string joined(Keys keys) {
  std::string text;
  for (auto key : keys) text += (text.empty() ? "" : ", ") + std::string(key);
  return text;
}

std::string_view type_phrase(const toml::node& node) {
  switch (node.type()) {
    case toml::node_type::table:
      return "a table";
    case toml::node_type::array:
      return "an array";
    case toml::node_type::string:
      return "a string";
    case toml::node_type::integer:
      return "an integer";
    case toml::node_type::floating_point:
      return "a float";
    case toml::node_type::boolean:
      return "a boolean";
    case toml::node_type::date:
      return "a date";
    case toml::node_type::time:
      return "a time";
    case toml::node_type::date_time:
      return "a date-time";
    case toml::node_type::none:
      break;
  }
  return "nothing";
}

Status key_error(const Origin& origin, const std::string& key, const toml::source_region& where,
                 std::string_view problem, Json extra) {
  Json details = std::move(extra);
  details["key"] = key;
  std::string place = origin.source;
  if (where.begin.line > 0) {
    details["line"] = where.begin.line;
    details["column"] = where.begin.column;
    place += fmt::format(":{}:{}", where.begin.line, where.begin.column);
  }
  return invalid_argument(fmt::format("{}: {} {}", place, key, problem), std::move(details));
}

std::string resolve_path(const Origin& origin, const std::string& path) {
  if (path.empty() || path.front() == '/') return path;
  std::string resolved = (origin.base_dir / path).lexically_normal().string();
  if (resolved.size() > 1 && resolved.back() == '/') resolved.pop_back();  // "dir/." → "dir"
  return resolved;
}

void Section::check_keys(Keys allowed, const std::function<std::string(std::string_view)>& elsewhere) {
  std::vector<std::string_view> sorted(allowed.begin(), allowed.end());
  std::sort(sorted.begin(), sorted.end());
  for (const auto& [name, node] : table_) {
    if (!ok()) return;
    const std::string_view text = name.str();
    if (contains(allowed, text)) continue;
    Json extra{{"allowed", key_list(sorted)}};
    std::string why = elsewhere ? elsewhere(text) : std::string();
    if (why.empty()) {
      const std::string_view near = nearest(text, sorted);
      if (!near.empty()) extra["suggestion"] = near;
      why = fmt::format("is not a known key{}; allowed: {}",
                        near.empty() ? std::string() : fmt::format(" (did you mean {}?)", near), joined(sorted));
    }
    fail(key(text), name.source(), why, std::move(extra));
  }
}

void Section::millis(std::string_view name, std::int64_t min, std::int64_t max, Millis& out) {
  if (auto value = int64(name, min, max)) out = Millis(*value);
}

void Section::fraction(std::string_view name, double& out) {
  const toml::node* node = find(name);
  if (node == nullptr) return;
  double value = 0;
  if (auto f = node->as_floating_point()) {
    value = f->get();
  } else if (auto i = node->as_integer()) {
    value = static_cast<double>(i->get());
  } else {
    return wrong_type(name, *node, "a number");
  }
  if (!(value >= 0.0 && value < 1.0)) {
    fail(key(name), node->source(), fmt::format("must be at least 0 and below 1, got {}", value),
         Json{{"allowed", {{"min", 0}, {"below", 1}}}});
    return;
  }
  out = value;
}

bool Section::string(std::string_view name, std::string& out) {
  const toml::node* node = find(name);
  if (node == nullptr) return false;
  auto text = node->as_string();
  if (text == nullptr) {
    wrong_type(name, *node, "a string");
    return false;
  }
  if (text->get().empty()) {
    fail(key(name), node->source(), "must not be empty");
    return false;
  }
  out = text->get();
  return true;
}

bool Section::choice(std::string_view name, Keys allowed, std::string& out) {
  std::string value;
  if (!string(name, value)) return false;
  if (!contains(allowed, value)) {
    fail(key(name), find(name)->source(), fmt::format("must be one of {}, got \"{}\"", joined(allowed), value),
         Json{{"allowed", key_list(allowed)}});
    return false;
  }
  out = value;
  return true;
}

bool Section::strings(std::string_view name, std::vector<std::string>& out, std::size_t max_bytes) {
  const toml::node* node = find(name);
  if (node == nullptr) return false;
  auto array = node->as_array();
  if (array == nullptr) {
    wrong_type(name, *node, "an array of strings");
    return false;
  }
  std::vector<std::string> values;
  for (std::size_t i = 0; i < array->size(); ++i) {
    const toml::node& item = *array->get(i);
    const std::string item_key = fmt::format("{}[{}]", key(name), i);
    auto text = item.as_string();
    if (text == nullptr) {
      fail(item_key, item.source(), fmt::format("must be a string, got {}", type_phrase(item)));
      return false;
    }
    if (text->get().empty() || text->get().size() > max_bytes) {
      fail(item_key, item.source(), fmt::format("must be 1 to {} bytes long", max_bytes));
      return false;
    }
    values.push_back(text->get());
  }
  out = std::move(values);
  return true;
}

const toml::table* Section::table(std::string_view name) {
  const toml::node* node = find(name);
  if (node == nullptr) return nullptr;
  auto sub = node->as_table();
  if (sub == nullptr) wrong_type(name, *node, "a table");
  return sub;
}

void Section::fail(const std::string& full_key, const toml::source_region& where, std::string_view problem,
                   Json extra) {
  if (ok()) status_ = key_error(origin_, full_key, where, problem, std::move(extra));
}

void Section::wrong_type(std::string_view name, const toml::node& node, std::string_view expected) {
  fail(key(name), node.source(), fmt::format("must be {}, got {}", expected, type_phrase(node)),
       Json{{"expected", expected.substr(expected.find(' ') + 1)}});
}

std::optional<std::int64_t> Section::int64(std::string_view name, std::int64_t min, std::int64_t max) {
  const toml::node* node = find(name);
  if (node == nullptr) return std::nullopt;
  auto value = node->as_integer();
  if (value == nullptr) {
    wrong_type(name, *node, "an integer");
    return std::nullopt;
  }
  if (value->get() < min || value->get() > max) {
    fail(key(name), node->source(), fmt::format("must be between {} and {}, got {}", min, max, value->get()),
         Json{{"allowed", {{"min", min}, {"max", max}}}});
    return std::nullopt;
  }
  return value->get();
}

}  // namespace snakepit::internal
