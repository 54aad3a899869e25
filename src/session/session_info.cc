// Session ids and the JSON form of SessionInfo / SessionStoreStats
// (include/snakepit/session_store.h).
#include <chrono>
#include <string>

#include <fmt/format.h>

#include "snakepit/session_store.h"

namespace snakepit {
namespace {

// "2026-11-28T12:00:00.123Z": UTC, milliseconds, truncated towards the past.
std::string iso8601_utc(SessionClock::time_point time) {
  using namespace std::chrono;
  const auto ms = floor<milliseconds>(time);
  const auto day = floor<days>(ms);
  const year_month_day date{day};
  const hh_mm_ss<milliseconds> clock{ms - day};
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z", static_cast<int>(date.year()),
                     static_cast<unsigned>(date.month()), static_cast<unsigned>(date.day()), clock.hours().count(),
                     clock.minutes().count(), clock.seconds().count(), clock.subseconds().count());
}

}  // namespace

Status validate_session_id(std::string_view id, std::size_t max_length) {
  // The id is untrusted and may be huge or binary: messages give its length
  // and the offending byte, never the id itself.
  const Json details = {{"reason", "bad_session_id"}};
  if (id.empty()) return invalid_argument("session id is empty", details);
  if (id.size() > max_length) {
    return invalid_argument(
        fmt::format("session id is {} characters long, more than the maximum of {}", id.size(), max_length), details);
  }
  for (std::size_t i = 0; i < id.size(); ++i) {
    const auto byte = static_cast<unsigned char>(id[i]);
    if (byte < 0x21 || byte > 0x7E) {
      return invalid_argument(fmt::format("session id has byte 0x{:02X} at position {}; allowed are printable ASCII "
                                          "characters without spaces (0x21-0x7E)",
                                          byte, i),
                              details);
    }
  }
  return {};
}

Json to_json(const SessionInfo& info) {
  return Json{
      {"id", info.id},
      {"created", iso8601_utc(info.created)},
      {"last_accessed", iso8601_utc(info.last_accessed)},
      {"ttl_s", info.ttl.count()},
      {"worker_id", info.worker_id},
      {"metadata", info.metadata},
      {"keys", info.keys},
      {"bytes", info.bytes},
      {"version", info.version},
  };
}

Json to_json(const SessionStoreStats& stats) {
  return Json{
      {"created", stats.created}, {"deleted", stats.deleted}, {"expired", stats.expired},
      {"current", stats.current}, {"bytes", stats.bytes},
  };
}

}  // namespace snakepit
