// Sessions: a central store of per-session data, and the worker a session is
// bound to. SessionStore is the interface (the embedded in-memory store is
// the default; a Redis store plugs in behind the same interface), so nothing
// here assumes memory: values are JSON, kept as their compact text, and every
// operation is per-session and atomic.
//
// Thread-safety: every method may be called from any thread concurrently.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "snakepit/json.h"
#include "snakepit/status.h"

namespace snakepit {

using SessionClock = std::chrono::system_clock;

struct SessionLimits {
  std::size_t max_sessions = 100'000;      // more: ResourceExhausted (reason session_quota)
  std::size_t max_id_length = 128;         // see validate_session_id()
  std::size_t max_keys = 1'000;            // per session
  std::size_t max_key_length = 256;
  std::size_t max_bytes = 1u << 20;        // per session: keys + JSON text of values + metadata
  std::chrono::seconds default_ttl{3600};  // since last access
  std::chrono::seconds max_ttl{7 * 24 * 3600};
};

struct SessionInfo {
  std::string id;
  SessionClock::time_point created;
  SessionClock::time_point last_accessed;
  std::chrono::seconds ttl{0};
  std::string worker_id;  // the worker it is bound to; empty: unbound
  Json metadata;          // set at creation; an object or null
  std::size_t keys = 0;
  std::size_t bytes = 0;      // as counted against max_bytes
  std::uint64_t version = 0;  // +1 on every data change
};

struct SessionCreate {
  std::optional<std::chrono::seconds> ttl;  // unset: limits.default_ttl
  Json metadata;                            // an object or null
};

// A batch of data changes, applied all or nothing.
struct SessionUpdate {
  std::map<std::string, Json> set;
  std::vector<std::string> erase;          // missing keys are not an error
  std::optional<std::uint64_t> if_version;  // apply only at this version (optimistic locking)
};

struct SessionData {
  Json values;  // key -> value, an object
  std::uint64_t version = 0;
};

struct SessionPage {
  std::vector<SessionInfo> sessions;  // ordered by id
  std::string next_cursor;            // empty: no more
};

struct SessionStoreStats {
  std::uint64_t created = 0;
  std::uint64_t deleted = 0;
  std::uint64_t expired = 0;
  std::size_t current = 0;
  std::size_t bytes = 0;  // data held, as counted against max_bytes
};

// Ok for 1..max_length printable ASCII characters without spaces (0x21-0x7E);
// otherwise InvalidArgument with reason bad_session_id.
Status validate_session_id(std::string_view id, std::size_t max_length = SessionLimits{}.max_id_length);

Json to_json(const SessionInfo& info);
Json to_json(const SessionStoreStats& stats);

// Errors shared by every operation taking an id: InvalidArgument (reason
// bad_session_id) for a malformed id; NotFound (reason no_session) for a
// missing or expired session. Reads and writes touch the session (its TTL
// runs from the last access).
class SessionStore {
 public:
  virtual ~SessionStore() = default;

  // Errors: FailedPrecondition (reason session_exists), ResourceExhausted
  // (reason session_quota), InvalidArgument (bad ttl or metadata).
  virtual Result<SessionInfo> create(std::string_view id, const SessionCreate& options = {}) = 0;
  // Returns the session, creating it (with defaults) when missing; `created`
  // tells which. Errors: as create().
  virtual Result<SessionInfo> get_or_create(std::string_view id, bool* created = nullptr) = 0;
  virtual Result<SessionInfo> get(std::string_view id) = 0;
  // Does not touch the session.
  virtual Result<bool> exists(std::string_view id) = 0;
  // The values of `keys` that are present; all data when `keys` is empty.
  virtual Result<SessionData> read(std::string_view id, const std::vector<std::string>& keys = {}) = 0;
  // Returns the new version. Errors: FailedPrecondition (reason
  // version_mismatch), ResourceExhausted (reason session_full: max_keys or
  // max_bytes), InvalidArgument (bad key, NaN/Infinity in a value).
  virtual Result<std::uint64_t> update(std::string_view id, const SessionUpdate& update) = 0;
  // Binds the session to a worker id (empty: unbind).
  virtual Status bind(std::string_view id, std::string_view worker_id) = 0;
  // Idempotent: deleting a missing session is Ok.
  virtual Status remove(std::string_view id) = 0;
  // Up to `limit` (1..1000) sessions with ids after `cursor`, ordered by id.
  virtual Result<SessionPage> list(std::string_view cursor = {}, std::size_t limit = 100) = 0;
  // Drops expired sessions, stopping once `budget` is spent; returns how many.
  // Call it periodically: expired sessions are otherwise dropped when touched.
  virtual std::size_t sweep(std::chrono::microseconds budget) = 0;
  virtual SessionStoreStats stats() const = 0;
  virtual const SessionLimits& limits() const = 0;
};

struct MemorySessionStoreOptions {
  SessionLimits limits;
  // The clock TTLs run on; tests pass a fake one.
  std::function<SessionClock::time_point()> clock;  // empty: SessionClock::now
  std::size_t shards = 64;  // independent locks
};

// The embedded store: sharded maps, one mutex per shard.
// Errors: InvalidArgument for bad options (a limit of 0).
Result<std::shared_ptr<SessionStore>> make_memory_session_store(MemorySessionStoreOptions options = {});

}  // namespace snakepit
