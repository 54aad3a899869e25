// Reading TOML tables for the configuration loader (config_file.cc): typed,
// range-checked keys whose errors name the key ("pools.py.size") and its
// place in the file, and suggest the key a typo most likely meant.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <toml++/toml.h>

#include "snakepit/options.h"

namespace snakepit::internal {

// A list of key names: a table's allowed keys, or the values of a choice.
using Keys = std::span<const std::string_view>;

bool contains(Keys keys, std::string_view key);

// The keys as a JSON array, for error details.
Json key_list(Keys keys);

// "a, b, c", for messages.
std::string joined(Keys keys);

// "an integer", "a string", ...: what a TOML node is, for messages.
std::string_view type_phrase(const toml::node& node);

// What every reader needs: where the text came from, and the directory
// relative paths are anchored to.
struct Origin {
  std::string source;
  std::filesystem::path base_dir;
};

// "<source>:<line>:<column>: <key> <problem>", with details {"key", "line",
// "column"} and any extra fields (e.g. "allowed").
Status key_error(const Origin& origin, const std::string& key, const toml::source_region& where,
                 std::string_view problem, Json extra = Json::object());

// A relative path taken against the configuration's directory.
std::string resolve_path(const Origin& origin, const std::string& path);

// Reads the keys of one table. The first error sticks and later reads do
// nothing, so a table is read as a flat list of calls and checked once.
class Section {
 public:
  Section(const Origin& origin, const toml::table& table, std::string path)
      : origin_(origin), table_(table), path_(std::move(path)) {}

  bool ok() const { return status_.ok(); }
  const Status& status() const { return status_; }
  const toml::table& table() const { return table_; }
  std::string key(std::string_view name) const {
    return path_.empty() ? std::string(name) : path_ + "." + std::string(name);
  }

  // Every key must be in `allowed`. `elsewhere(key)` may explain a key
  // that belongs to another adapter (non-empty: the message).
  void check_keys(Keys allowed, const std::function<std::string(std::string_view)>& elsewhere = {});

  const toml::node* find(std::string_view name) const { return ok() ? table_.get(name) : nullptr; }

  // An integer in [min, max], stored in any integer type that holds it.
  template <typename T>
  void integer(std::string_view name, std::int64_t min, std::int64_t max, T& out) {
    if (auto value = int64(name, min, max)) out = static_cast<T>(*value);
  }

  void millis(std::string_view name, std::int64_t min, std::int64_t max, Millis& out);

  // A float in [0, 1); an integer (0) is accepted too.
  void fraction(std::string_view name, double& out);

  // A non-empty string; absent keys leave `out` as it is.
  bool string(std::string_view name, std::string& out);

  // One of `allowed`.
  bool choice(std::string_view name, Keys allowed, std::string& out);

  // An array of non-empty strings of at most `max_bytes` each.
  bool strings(std::string_view name, std::vector<std::string>& out, std::size_t max_bytes = 4096);

  // A sub-table; null when absent or on error.
  const toml::table* table(std::string_view name);

  // Records the first error; later ones are dropped.
  void fail(const std::string& full_key, const toml::source_region& where, std::string_view problem,
            Json extra = Json::object());
  void fail(Status status) {
    if (ok()) status_ = std::move(status);
  }

  void wrong_type(std::string_view name, const toml::node& node, std::string_view expected);

 private:
  std::optional<std::int64_t> int64(std::string_view name, std::int64_t min, std::int64_t max);

  const Origin& origin_;
  const toml::table& table_;
  std::string path_;
  Status status_;
};

}  // namespace snakepit::internal
