// The embedded session store (make_memory_session_store): the sessions live
// in N shards, each a mutex and an ordered map from id to a compact Session.
//
// Per session (a map node holding the id and a Session: 192 heap bytes in
// all when the id, worker id and metadata fit the small-string buffer):
//   - times as int64 milliseconds of the injected clock, ttl as uint32 s;
//   - bytes (as counted against max_bytes) as uint32 (max_bytes <= 4 GiB-1);
//   - worker id and metadata as text (metadata: compact JSON, "" for null);
//   - the data as a vector of (key, compact JSON text of the value) sorted by
//     key, with capacity == size: an empty session allocates nothing for it.
//
// Locking: a shard's mutex guards its map; no operation holds two shard
// locks, and JSON is dumped and parsed outside the locks. The counters are
// atomics, so stats() takes no lock. The sweep position has its own mutex;
// a sweep that finds another one running returns at once.
//
// Expiry (like redis): a session expires at last_accessed + ttl on the
// injected clock. Any operation finding an expired session treats it as
// missing and removes it (counted as expired); sweep() walks the shards
// round-robin under a time budget.
//
// Updates: everything is validated before the shard lock is taken; the
// limits are checked against the resulting session, then the change is
// applied whole. A key both set and erased in one update ends up set.
#include <algorithm>
#include <atomic>
#include <cassert>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <functional>
#include <limits>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "base/thread_annotations.h"
#include "snakepit/session_store.h"

namespace snakepit::internal {
namespace {

constexpr std::size_t kMaxShards = 4096;
constexpr std::size_t kMaxListLimit = 1000;
constexpr std::size_t kMaxWorkerIdLength = 256;
constexpr std::size_t kShownLength = 64;  // of an id or key in an error message
// sweep(): the budget is checked every kSweepCheckEvery entries, and a shard
// lock is released after kSweepEntriesPerLock entries.
constexpr std::size_t kSweepCheckEvery = 64;
constexpr std::size_t kSweepEntriesPerLock = 256;

using Entry = std::pair<std::string, std::string>;  // key, compact JSON text of the value

struct Session {
  std::int64_t created_ms = 0;
  std::int64_t last_accessed_ms = 0;
  std::uint64_t version = 0;
  std::uint32_t ttl_s = 0;
  std::uint32_t bytes = 0;  // keys + value texts + metadata text
  std::string worker_id;    // empty: unbound
  std::string metadata;     // compact JSON of an object; empty: null
  std::vector<Entry> data;  // sorted by key, unique; capacity == size

  bool expired_at(std::int64_t now_ms) const {
    return now_ms - last_accessed_ms >= static_cast<std::int64_t>(ttl_s) * 1000;
  }
  void touch(std::int64_t now_ms) { last_accessed_ms = std::max(last_accessed_ms, now_ms); }
};

using SessionMap = std::map<std::string, Session, std::less<>>;

struct alignas(64) Shard {
  Mutex mutex;
  SessionMap sessions SNAKEPIT_GUARDED_BY(mutex);
};

// What a SessionInfo is made of, copied under the lock and converted (the
// metadata parsed) after it.
struct Snapshot {
  std::string id;
  std::int64_t created_ms = 0;
  std::int64_t last_accessed_ms = 0;
  std::uint32_t ttl_s = 0;
  std::uint32_t bytes = 0;
  std::size_t keys = 0;
  std::uint64_t version = 0;
  std::string worker_id;
  std::string metadata;
};

Snapshot snapshot(std::string id, const Session& session) {
  return Snapshot{std::move(id),       session.created_ms, session.last_accessed_ms, session.ttl_s,   session.bytes,
                  session.data.size(), session.version,    session.worker_id,        session.metadata};
}

std::int64_t to_ms(SessionClock::time_point time) {
  return std::chrono::floor<std::chrono::milliseconds>(time.time_since_epoch()).count();
}

SessionClock::time_point from_ms(std::int64_t ms) {
  return SessionClock::time_point(std::chrono::duration_cast<SessionClock::duration>(std::chrono::milliseconds(ms)));
}

// Text this store wrote itself: always valid JSON.
Json parse_stored(std::string_view text) {
  Json json = Json::parse(text, nullptr, /*allow_exceptions=*/false);
  assert(!json.is_discarded() && "the session store holds invalid JSON text");
  return json;
}

std::string dump_compact(const Json& json) { return json.dump(-1, ' ', false, Json::error_handler_t::replace); }

SessionInfo to_info(Snapshot snap) {
  SessionInfo info;
  info.id = std::move(snap.id);
  info.created = from_ms(snap.created_ms);
  info.last_accessed = from_ms(snap.last_accessed_ms);
  info.ttl = std::chrono::seconds(snap.ttl_s);
  info.worker_id = std::move(snap.worker_id);
  if (!snap.metadata.empty()) info.metadata = parse_stored(snap.metadata);
  info.keys = snap.keys;
  info.bytes = snap.bytes;
  info.version = snap.version;
  return info;
}

// An id or key for a message: in double quotes, printable ASCII as is,
// every other byte as \xNN (so any input gives valid UTF-8), cut after
// kShownLength bytes.
std::string shown(std::string_view text) {
  std::string out = "\"";
  for (const char c : text.substr(0, kShownLength)) {
    const auto byte = static_cast<unsigned char>(c);
    if (byte == '"' || byte == '\\') {
      out += '\\';
      out += c;
    } else if (byte >= 0x20 && byte <= 0x7E) {
      out += c;
    } else {
      out += fmt::format("\\x{:02x}", byte);
    }
  }
  out += '"';
  if (text.size() > kShownLength) out += fmt::format("... ({} bytes)", text.size());
  return out;
}

// The position of the first byte that does not start a well-formed UTF-8
// sequence, or npos.
std::size_t invalid_utf8_at(std::string_view text) {
  std::size_t i = 0;
  while (i < text.size()) {
    const auto lead = static_cast<unsigned char>(text[i]);
    if (lead < 0x80) {
      ++i;
      continue;
    }
    std::size_t length = 0;
    unsigned char low = 0x80;  // bounds of the second byte
    unsigned char high = 0xBF;
    if (lead >= 0xC2 && lead <= 0xDF) {
      length = 2;
    } else if (lead >= 0xE0 && lead <= 0xEF) {
      length = 3;
      if (lead == 0xE0) low = 0xA0;   // overlong
      if (lead == 0xED) high = 0x9F;  // surrogates
    } else if (lead >= 0xF0 && lead <= 0xF4) {
      length = 4;
      if (lead == 0xF0) low = 0x90;   // overlong
      if (lead == 0xF4) high = 0x8F;  // beyond U+10FFFF
    } else {
      return i;
    }
    if (text.size() - i < length) return i;
    for (std::size_t k = 1; k < length; ++k) {
      const auto byte = static_cast<unsigned char>(text[i + k]);
      if (k == 1 ? (byte < low || byte > high) : (byte < 0x80 || byte > 0xBF)) return i;
    }
    i += length;
  }
  return std::string_view::npos;
}

// True when `json` holds a NaN or an infinity (which would dump as null) or
// a discarded value. Iterative: values may nest deeply.
bool has_unrepresentable(const Json& json) {
  std::vector<const Json*> pending{&json};
  while (!pending.empty()) {
    const Json* value = pending.back();
    pending.pop_back();
    switch (value->type()) {
      case Json::value_t::number_float:
        if (!std::isfinite(value->get<double>())) return true;
        break;
      case Json::value_t::object:
      case Json::value_t::array:
        for (const Json& child : *value) pending.push_back(&child);
        break;
      case Json::value_t::discarded:
        return true;
      default:
        break;
    }
  }
  return false;
}

// The entry of `key` in sorted `data` (const or not), or null.
template <typename Data>
auto* find_entry(Data& data, std::string_view key) {
  auto it = std::lower_bound(data.begin(), data.end(), key,
                             [](const Entry& entry, std::string_view k) { return std::string_view(entry.first) < k; });
  return it != data.end() && std::string_view(it->first) == key ? &*it : nullptr;
}

// Applies validated changes. `sets` and `erases` are sorted; no key is in
// both. `size` is the resulting number of keys; `in_place` says that every
// set replaces an existing key and nothing is erased.
void apply_changes(std::vector<Entry>& data, std::vector<Entry> sets, const std::vector<std::string_view>& erases,
                   std::size_t size, bool in_place) {
  if (in_place) {
    for (auto& [key, text] : sets) {
      Entry* entry = find_entry(data, key);
      assert(entry != nullptr);
      entry->second = std::move(text);
    }
    return;
  }
  std::vector<Entry> out;
  out.reserve(size);
  auto old = data.begin();
  auto set = sets.begin();
  auto erased = erases.begin();
  while (old != data.end() || set != sets.end()) {
    if (set == sets.end() || (old != data.end() && old->first < set->first)) {
      while (erased != erases.end() && *erased < std::string_view(old->first)) ++erased;
      if (erased == erases.end() || *erased != std::string_view(old->first)) out.push_back(std::move(*old));
      ++old;
    } else {
      if (old != data.end() && old->first == set->first) ++old;  // replaced
      out.push_back(std::move(*set));
      ++set;
    }
  }
  assert(out.size() == size);
  data = std::move(out);
}

Status bad_option(std::string_view field, std::string message, long long value) {
  return invalid_argument(fmt::format("{} {}, got {}", field, message, value),
                          Json{{"field", field}, {"value", value}});
}

Status validate_options(const MemorySessionStoreOptions& options) {
  const SessionLimits& limits = options.limits;
  if (options.shards < 1 || options.shards > kMaxShards) {
    return bad_option("sessions.shards", fmt::format("must be between 1 and {}", kMaxShards),
                      static_cast<long long>(options.shards));
  }
  const std::pair<std::string_view, std::size_t> counts[] = {
      {"sessions.max_sessions", limits.max_sessions}, {"sessions.max_id_length", limits.max_id_length},
      {"sessions.max_keys", limits.max_keys},         {"sessions.max_key_length", limits.max_key_length},
      {"sessions.max_bytes", limits.max_bytes},
  };
  for (const auto& [field, value] : counts) {
    if (value == 0) return bad_option(field, "must be greater than 0", 0);
  }
  const std::pair<std::string_view, std::chrono::seconds> durations[] = {
      {"sessions.default_ttl_s", limits.default_ttl},
      {"sessions.max_ttl_s", limits.max_ttl},
  };
  for (const auto& [field, value] : durations) {
    if (value.count() <= 0) return bad_option(field, "must be greater than 0", value.count());
  }
  constexpr auto kMaxU32 = static_cast<long long>(std::numeric_limits<std::uint32_t>::max());
  if (limits.max_bytes > static_cast<std::size_t>(kMaxU32)) {
    return bad_option("sessions.max_bytes", fmt::format("must be at most {}", kMaxU32),
                      static_cast<long long>(limits.max_bytes));
  }
  if (limits.max_ttl.count() > kMaxU32) {
    return bad_option("sessions.max_ttl_s", fmt::format("must be at most {}", kMaxU32), limits.max_ttl.count());
  }
  if (limits.default_ttl > limits.max_ttl) {
    return bad_option("sessions.default_ttl_s",
                      fmt::format("must not exceed sessions.max_ttl_s ({})", limits.max_ttl.count()),
                      limits.default_ttl.count());
  }
  return {};
}

class MemorySessionStore final : public SessionStore {
 public:
  explicit MemorySessionStore(MemorySessionStoreOptions options)
      : limits_(options.limits), clock_(std::move(options.clock)), shards_(options.shards) {
    if (!clock_) clock_ = [] { return SessionClock::now(); };
  }

  Result<SessionInfo> create(std::string_view id, const SessionCreate& options) override {
    if (Status status = check_id(id); !status.ok()) return status;
    auto ttl = ttl_seconds(id, options.ttl);
    if (!ttl.ok()) return ttl.status();
    auto metadata = metadata_text(id, options.metadata);
    if (!metadata.ok()) return metadata.status();
    const std::int64_t now = now_ms();
    Shard& shard = shard_for(id);
    Snapshot snap;
    {
      MutexLock lock(shard.mutex);
      auto it = shard.sessions.find(id);
      if (it != shard.sessions.end()) {
        if (!it->second.expired_at(now)) {
          return failed_precondition(fmt::format("session {} already exists", shown(id)),
                                     details(id, "session_exists"));
        }
        erase(shard, it, /*expired=*/true);
      }
      auto inserted = insert(shard, id, now, *ttl, std::move(*metadata));
      if (!inserted.ok()) return inserted.status();
      snap = snapshot(std::string(id), (*inserted)->second);
    }
    return to_info(std::move(snap));
  }

  Result<SessionInfo> get_or_create(std::string_view id, bool* created) override {
    if (Status status = check_id(id); !status.ok()) return status;
    const std::int64_t now = now_ms();
    Shard& shard = shard_for(id);
    Snapshot snap;
    bool was_created = false;
    {
      MutexLock lock(shard.mutex);
      if (Session* session = find_live(shard, id, now)) {
        session->touch(now);
        snap = snapshot(std::string(id), *session);
      } else {
        auto inserted = insert(shard, id, now, static_cast<std::uint32_t>(limits_.default_ttl.count()), {});
        if (!inserted.ok()) return inserted.status();
        snap = snapshot(std::string(id), (*inserted)->second);
        was_created = true;
      }
    }
    if (created) *created = was_created;
    return to_info(std::move(snap));
  }

  Result<SessionInfo> get(std::string_view id) override {
    if (Status status = check_id(id); !status.ok()) return status;
    const std::int64_t now = now_ms();
    Shard& shard = shard_for(id);
    Snapshot snap;
    {
      MutexLock lock(shard.mutex);
      Session* session = find_live(shard, id, now);
      if (!session) return no_session(id);
      session->touch(now);
      snap = snapshot(std::string(id), *session);
    }
    return to_info(std::move(snap));
  }

  Result<bool> exists(std::string_view id) override {
    if (Status status = check_id(id); !status.ok()) return status;
    const std::int64_t now = now_ms();
    Shard& shard = shard_for(id);
    MutexLock lock(shard.mutex);
    return find_live(shard, id, now) != nullptr;
  }

  Result<SessionData> read(std::string_view id, const std::vector<std::string>& keys) override {
    if (Status status = check_id(id); !status.ok()) return status;
    const std::int64_t now = now_ms();
    Shard& shard = shard_for(id);
    std::vector<Entry> entries;
    SessionData out;
    {
      MutexLock lock(shard.mutex);
      Session* session = find_live(shard, id, now);
      if (!session) return no_session(id);
      session->touch(now);
      out.version = session->version;
      if (keys.empty()) {
        entries = session->data;
      } else {
        for (const std::string& key : keys) {
          if (const Entry* entry = find_entry(session->data, key)) entries.push_back(*entry);
        }
      }
    }
    out.values = Json::object();
    for (auto& [key, text] : entries) out.values[std::move(key)] = parse_stored(text);
    return out;
  }

  Result<std::uint64_t> update(std::string_view id, const SessionUpdate& update) override {
    if (Status status = check_id(id); !status.ok()) return status;
    // Validate and dump everything before taking the lock.
    std::vector<Entry> sets;  // sorted by key (std::map order)
    sets.reserve(update.set.size());
    for (const auto& [key, value] : update.set) {
      if (Status status = check_key(id, key); !status.ok()) return status;
      if (has_unrepresentable(value)) {
        return invalid_argument(
            fmt::format("session {}: the value of key {} holds NaN or Infinity, which JSON cannot represent", shown(id),
                        shown(key)),
            details(id, "bad_value"));
      }
      sets.emplace_back(key, dump_compact(value));
    }
    std::vector<std::string_view> erases;  // sorted, unique, none of them set
    erases.reserve(update.erase.size());
    for (const std::string& key : update.erase) {
      if (Status status = check_key(id, key); !status.ok()) return status;
      if (!update.set.contains(key)) erases.push_back(key);
    }
    std::sort(erases.begin(), erases.end());
    erases.erase(std::unique(erases.begin(), erases.end()), erases.end());

    const std::int64_t now = now_ms();
    Shard& shard = shard_for(id);
    MutexLock lock(shard.mutex);
    Session* session = find_live(shard, id, now);
    if (!session) return no_session(id);
    if (update.if_version && *update.if_version != session->version) {
      Json info = details(id, "version_mismatch");
      info["current_version"] = session->version;
      info["expected_version"] = *update.if_version;
      return failed_precondition(fmt::format("session {} is at version {}, the update expects version {}", shown(id),
                                             session->version, *update.if_version),
                                 std::move(info));
    }
    // The session as it would be after the update.
    std::size_t keys = session->data.size();
    std::size_t bytes = session->bytes;
    std::size_t inserts = 0;
    std::size_t removals = 0;
    for (std::string_view key : erases) {
      if (const Entry* entry = find_entry(session->data, key)) {
        --keys;
        bytes -= entry->first.size() + entry->second.size();
        ++removals;
      }
    }
    for (const auto& [key, text] : sets) {
      if (const Entry* entry = find_entry(session->data, key)) {
        bytes = bytes - entry->second.size() + text.size();
      } else {
        ++keys;
        bytes += key.size() + text.size();
        ++inserts;
      }
    }
    if (keys > limits_.max_keys) return session_full(id, "max_keys", keys, limits_.max_keys);
    if (bytes > limits_.max_bytes) return session_full(id, "max_bytes", bytes, limits_.max_bytes);

    apply_changes(session->data, std::move(sets), erases, keys, inserts == 0 && removals == 0);
    if (bytes >= session->bytes) {
      bytes_.fetch_add(bytes - session->bytes, std::memory_order_relaxed);
    } else {
      bytes_.fetch_sub(session->bytes - bytes, std::memory_order_relaxed);
    }
    session->bytes = static_cast<std::uint32_t>(bytes);
    ++session->version;
    session->touch(now);
    return session->version;
  }

  Status bind(std::string_view id, std::string_view worker_id) override {
    if (Status status = check_id(id); !status.ok()) return status;
    if (worker_id.size() > kMaxWorkerIdLength ||
        std::any_of(worker_id.begin(), worker_id.end(), [](char c) { return c < 0x21 || c > 0x7E; })) {
      return invalid_argument(fmt::format("session {}: a worker id must be at most {} printable ASCII characters "
                                          "without spaces, got {}",
                                          shown(id), kMaxWorkerIdLength, shown(worker_id)),
                              details(id, "bad_worker_id"));
    }
    const std::int64_t now = now_ms();
    Shard& shard = shard_for(id);
    MutexLock lock(shard.mutex);
    Session* session = find_live(shard, id, now);
    if (!session) return no_session(id);
    session->worker_id.assign(worker_id);
    if (worker_id.empty()) session->worker_id.shrink_to_fit();
    session->touch(now);
    return {};
  }

  Status remove(std::string_view id) override {
    if (Status status = check_id(id); !status.ok()) return status;
    const std::int64_t now = now_ms();
    Shard& shard = shard_for(id);
    MutexLock lock(shard.mutex);
    auto it = shard.sessions.find(id);
    if (it != shard.sessions.end()) erase(shard, it, /*expired=*/it->second.expired_at(now));
    return {};
  }

  Result<SessionPage> list(std::string_view cursor, std::size_t limit) override {
    if (limit < 1 || limit > kMaxListLimit) {
      return invalid_argument(fmt::format("list limit must be between 1 and {}, got {}", kMaxListLimit, limit),
                              Json{{"reason", "bad_limit"}});
    }
    const std::int64_t now = now_ms();
    std::vector<Snapshot> best;  // the first `limit` ids seen so far, sorted
    std::vector<Snapshot> batch;
    std::vector<Snapshot> merged;
    bool more = false;
    const auto by_id = [](const Snapshot& a, const Snapshot& b) { return a.id < b.id; };
    for (Shard& shard : shards_) {
      batch.clear();
      {
        MutexLock lock(shard.mutex);
        auto it = shard.sessions.upper_bound(cursor);
        while (it != shard.sessions.end()) {
          if (batch.size() == limit || (best.size() == limit && it->first >= best.back().id)) {
            more = true;
            break;
          }
          if (it->second.expired_at(now)) {
            it = erase(shard, it, /*expired=*/true);
            continue;
          }
          batch.push_back(snapshot(it->first, it->second));
          ++it;
        }
      }
      if (batch.empty()) continue;
      merged.clear();
      merged.reserve(best.size() + batch.size());
      std::merge(std::make_move_iterator(best.begin()), std::make_move_iterator(best.end()),
                 std::make_move_iterator(batch.begin()), std::make_move_iterator(batch.end()),
                 std::back_inserter(merged), by_id);
      if (merged.size() > limit) {
        merged.erase(merged.begin() + static_cast<std::ptrdiff_t>(limit), merged.end());
        more = true;
      }
      best.swap(merged);
    }
    SessionPage page;
    if (more && !best.empty()) page.next_cursor = best.back().id;
    page.sessions.reserve(best.size());
    for (Snapshot& snap : best) page.sessions.push_back(to_info(std::move(snap)));
    return page;
  }

  std::size_t sweep(std::chrono::microseconds budget) override {
    if (!sweep_mutex_.try_lock()) return 0;  // another sweep is running
    const std::size_t removed = sweep_locked(std::chrono::steady_clock::now() + budget);
    sweep_mutex_.unlock();
    return removed;
  }

  SessionStoreStats stats() const override {
    SessionStoreStats stats;
    stats.created = created_.load(std::memory_order_relaxed);
    stats.deleted = deleted_.load(std::memory_order_relaxed);
    stats.expired = expired_.load(std::memory_order_relaxed);
    stats.current = current_.load(std::memory_order_relaxed);
    stats.bytes = bytes_.load(std::memory_order_relaxed);
    return stats;
  }

  const SessionLimits& limits() const override { return limits_; }

 private:
  std::int64_t now_ms() const { return to_ms(clock_()); }

  Shard& shard_for(std::string_view id) { return shards_[std::hash<std::string_view>{}(id) % shards_.size()]; }

  Status check_id(std::string_view id) const { return validate_session_id(id, limits_.max_id_length); }

  static Json details(std::string_view id, std::string_view reason) {
    return Json{{"reason", reason}, {"session_id", id}};
  }

  static Status no_session(std::string_view id) {
    return not_found(fmt::format("session {} not found (never created, removed or expired)", shown(id)),
                     details(id, "no_session"));
  }

  static Status session_full(std::string_view id, std::string_view limit, std::size_t value, std::size_t max) {
    Json info = details(id, "session_full");
    info["limit"] = limit;
    info["value"] = value;
    info["max"] = max;
    const std::string_view what = limit == "max_keys" ? "keys" : "bytes";
    return resource_exhausted(fmt::format("session {} would hold {} {}, more than {} ({}); nothing was changed",
                                          shown(id), value, what, max, limit),
                              std::move(info));
  }

  Status check_key(std::string_view id, std::string_view key) const {
    if (key.empty())
      return invalid_argument(fmt::format("session {}: a key is empty", shown(id)), details(id, "bad_key"));
    if (key.size() > limits_.max_key_length) {
      return invalid_argument(fmt::format("session {}: key {} is {} bytes long, more than max_key_length {}", shown(id),
                                          shown(key), key.size(), limits_.max_key_length),
                              details(id, "bad_key"));
    }
    if (const std::size_t at = invalid_utf8_at(key); at != std::string_view::npos) {
      return invalid_argument(
          fmt::format("session {}: key {} is not valid UTF-8 (at byte {})", shown(id), shown(key), at),
          details(id, "bad_key"));
    }
    return {};
  }

  Result<std::uint32_t> ttl_seconds(std::string_view id, const std::optional<std::chrono::seconds>& ttl) const {
    if (!ttl) return static_cast<std::uint32_t>(limits_.default_ttl.count());
    if (ttl->count() < 1 || *ttl > limits_.max_ttl) {
      Json info = details(id, "bad_ttl");
      info["ttl_s"] = ttl->count();
      info["max_ttl_s"] = limits_.max_ttl.count();
      return invalid_argument(
          fmt::format("session {}: ttl of {} s is outside 1 s..{} s", shown(id), ttl->count(), limits_.max_ttl.count()),
          std::move(info));
    }
    return static_cast<std::uint32_t>(ttl->count());
  }

  // The metadata's compact text; "" for null.
  Result<std::string> metadata_text(std::string_view id, const Json& metadata) const {
    if (metadata.is_null()) return std::string();
    if (!metadata.is_object()) {
      return invalid_argument(
          fmt::format("session {}: metadata must be a JSON object or null, got {}", shown(id), metadata.type_name()),
          details(id, "bad_metadata"));
    }
    if (has_unrepresentable(metadata)) {
      return invalid_argument(
          fmt::format("session {}: metadata holds NaN or Infinity, which JSON cannot represent", shown(id)),
          details(id, "bad_metadata"));
    }
    std::string text = dump_compact(metadata);
    if (text.size() > limits_.max_bytes) {
      return invalid_argument(fmt::format("session {}: metadata is {} bytes, more than max_bytes {}", shown(id),
                                          text.size(), limits_.max_bytes),
                              details(id, "bad_metadata"));
    }
    return text;
  }

  // The session if present and live; an expired one is removed.
  Session* find_live(Shard& shard, std::string_view id, std::int64_t now) SNAKEPIT_REQUIRES(shard.mutex) {
    auto it = shard.sessions.find(id);
    if (it == shard.sessions.end()) return nullptr;
    if (it->second.expired_at(now)) {
      erase(shard, it, /*expired=*/true);
      return nullptr;
    }
    return &it->second;
  }

  // Inserts a new session, within the quota. REQUIRES: `id` is not in the shard.
  Result<SessionMap::iterator> insert(Shard& shard, std::string_view id, std::int64_t now, std::uint32_t ttl_s,
                                      std::string metadata) SNAKEPIT_REQUIRES(shard.mutex) {
    // Reserve first, so concurrent creations never overshoot the quota.
    if (reserved_.fetch_add(1, std::memory_order_relaxed) >= limits_.max_sessions) {
      reserved_.fetch_sub(1, std::memory_order_relaxed);
      Json info = details(id, "session_quota");
      info["max_sessions"] = limits_.max_sessions;
      return resource_exhausted(fmt::format("cannot create session {}: the store holds its maximum of {} sessions",
                                            shown(id), limits_.max_sessions),
                                std::move(info));
    }
    Session session;
    session.created_ms = now;
    session.last_accessed_ms = now;
    session.ttl_s = ttl_s;
    session.bytes = static_cast<std::uint32_t>(metadata.size());
    session.metadata = std::move(metadata);
    const std::uint32_t bytes = session.bytes;
    auto [it, inserted] = shard.sessions.emplace(std::string(id), std::move(session));
    assert(inserted);
    (void)inserted;
    created_.fetch_add(1, std::memory_order_relaxed);
    current_.fetch_add(1, std::memory_order_relaxed);
    bytes_.fetch_add(bytes, std::memory_order_relaxed);
    return it;
  }

  SessionMap::iterator erase(Shard& shard, SessionMap::iterator it, bool expired) SNAKEPIT_REQUIRES(shard.mutex) {
    (expired ? expired_ : deleted_).fetch_add(1, std::memory_order_relaxed);
    bytes_.fetch_sub(it->second.bytes, std::memory_order_relaxed);
    current_.fetch_sub(1, std::memory_order_relaxed);
    reserved_.fetch_sub(1, std::memory_order_relaxed);
    return shard.sessions.erase(it);
  }

  // One round at most over the shards, from where the last sweep stopped.
  std::size_t sweep_locked(std::chrono::steady_clock::time_point deadline) SNAKEPIT_REQUIRES(sweep_mutex_) {
    const std::int64_t now = now_ms();
    std::size_t removed = 0;
    for (std::size_t finished = 0; finished < shards_.size();) {
      bool out_of_time = false;
      if (sweep_chunk(shards_[sweep_shard_], now, deadline, removed, out_of_time)) {
        sweep_next_.clear();
        sweep_shard_ = (sweep_shard_ + 1) % shards_.size();
        ++finished;
      }
      if (out_of_time || std::chrono::steady_clock::now() >= deadline) break;
    }
    return removed;
  }

  // Sweeps part of one shard under one lock hold, from sweep_next_; true
  // when the shard's end was reached.
  bool sweep_chunk(Shard& shard, std::int64_t now, std::chrono::steady_clock::time_point deadline, std::size_t& removed,
                   bool& out_of_time) SNAKEPIT_REQUIRES(sweep_mutex_) {
    MutexLock lock(shard.mutex);
    auto it = shard.sessions.lower_bound(sweep_next_);
    std::size_t seen = 0;
    while (it != shard.sessions.end()) {
      if (it->second.expired_at(now)) {
        it = erase(shard, it, /*expired=*/true);
        ++removed;
      } else {
        ++it;
      }
      if (++seen % kSweepCheckEvery != 0) continue;
      if (std::chrono::steady_clock::now() >= deadline) {
        out_of_time = true;
        break;
      }
      if (seen >= kSweepEntriesPerLock) break;
    }
    if (it == shard.sessions.end()) return true;
    sweep_next_ = it->first;
    return false;
  }

  const SessionLimits limits_;
  std::function<SessionClock::time_point()> clock_;
  std::vector<Shard> shards_;

  std::atomic<std::size_t> reserved_{0};  // sessions held + creations in flight: the quota
  std::atomic<std::size_t> current_{0};
  std::atomic<std::size_t> bytes_{0};
  std::atomic<std::uint64_t> created_{0};
  std::atomic<std::uint64_t> deleted_{0};
  std::atomic<std::uint64_t> expired_{0};

  Mutex sweep_mutex_;
  std::size_t sweep_shard_ SNAKEPIT_GUARDED_BY(sweep_mutex_) = 0;
  std::string sweep_next_ SNAKEPIT_GUARDED_BY(sweep_mutex_);  // first id still to visit in sweep_shard_
};

}  // namespace
}  // namespace snakepit::internal

namespace snakepit {

Result<std::shared_ptr<SessionStore>> make_memory_session_store(MemorySessionStoreOptions options) {
  if (Status status = internal::validate_options(options); !status.ok()) return status;
  return std::shared_ptr<SessionStore>(std::make_shared<internal::MemorySessionStore>(std::move(options)));
}

}  // namespace snakepit
