// The smallest correct native-protocol worker (docs/protocol.md, "Native
// protocol"): hello, then `ping` and `echo` requests, ping/pong frames,
// exit on shutdown or end of input. No Snakepit library: a C++ floor for
// the Python bridge and a cheap worker for starting 1,000 of them.
//
//   snakepit_tiny_worker        (fds from SNAKEPIT_FD_IN / SNAKEPIT_FD_OUT)
//
// Exit codes as the Python bridge: 0 shutdown / end of input, 3 protocol error.
#include <signal.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "bare_frames.h"

namespace {

using namespace bare;

int env_int(const char* name, int fallback) {
  const char* value = std::getenv(name);
  return value != nullptr && *value != '\0' ? std::atoi(value) : fallback;
}

[[noreturn]] void protocol_error(const char* what) {
  ::dprintf(2, "snakepit_tiny_worker: protocol error: %s\n", what);
  ::_exit(3);
}

int fd_out = 4;

// One frame = one writev (the host reads it however it is split).
void send(std::uint8_t kind, std::uint8_t flags, std::uint64_t id, std::string_view a, std::string_view b = {}) {
  char header[4 + kHeader] = {};
  put32(header, static_cast<std::uint32_t>(kHeader + a.size() + b.size()));
  header[4] = static_cast<char>(kind);
  header[5] = static_cast<char>(flags);
  put64(header + 8, id);
  iovec iov[3] = {{header, sizeof header}, {const_cast<char*>(a.data()), a.size()}, {const_cast<char*>(b.data()), b.size()}};
  if (!write_all(fd_out, iov, 3)) ::_exit(0);  // the host closed its end: nobody to answer
}

void send_error(std::uint64_t id, const std::string& code, const std::string& message) {
  send(kResponse, kFlagError, id, nlohmann::json{{"code", code}, {"message", message}}.dump());
}

// A request: `ping` answers a fixed object; `echo` returns the args (for a
// BINARY request the args' {"$bytes"} offsets still index the same
// attachments, so those are sent back untouched).
void handle_request(std::uint64_t id, std::uint8_t flags, std::string_view payload) {
  if ((flags & kFlagStream) != 0) {
    // A non-streaming command asked to stream puts its result in `end`;
    // keep the floor simple and refuse instead.
    send(kEnd, kFlagError, id, R"({"code":"InvalidArgument","message":"tiny worker does not stream"})");
    return;
  }
  std::string_view json = payload, attachments;
  if ((flags & kFlagBinary) != 0) {
    if (payload.size() < 4 || get32(payload.data()) > payload.size() - 4) protocol_error("bad json_length");
    json = payload.substr(4, get32(payload.data()));
    attachments = payload.substr(4 + json.size());
  }
  const auto request = nlohmann::json::parse(json, nullptr, /*allow_exceptions=*/false);
  if (request.is_discarded()) protocol_error("request payload is not JSON");
  const auto command = request.is_object() ? request.find("command") : request.end();
  if (command == request.end() || !command->is_string()) return send_error(id, "InvalidArgument", "bad request");
  if (*command == "ping") return send(kResponse, 0, id, R"({"status":"ok","pong":true})");
  if (*command != "echo") return send_error(id, "InvalidArgument", "unknown command");
  const auto args = request.find("args");
  const std::string out = args == request.end() ? "{}" : args->dump();
  if ((flags & kFlagBinary) == 0) return send(kResponse, 0, id, out);
  char length[4];
  put32(length, static_cast<std::uint32_t>(out.size()));
  send(kResponse, kFlagBinary, id, std::string(length, 4) + out, attachments);
}

}  // namespace

int main() {
  ::signal(SIGPIPE, SIG_IGN);  // a closed pipe shows up as EPIPE: exit quietly
  const int fd_in = env_int("SNAKEPIT_FD_IN", 3);
  fd_out = env_int("SNAKEPIT_FD_OUT", 4);
  const auto max_frame = static_cast<std::size_t>(env_int("SNAKEPIT_MAX_FRAME", 64 << 20));

  send(kHello, 0, 0,
       R"({"protocol":1,"pid":)" + std::to_string(::getpid()) +
           R"(,"bridge":"cpp-tiny","bridge_version":"0.1.0","adapter":"tiny","commands":["ping","echo"]})");

  FrameReader reader(fd_in, max_frame);
  for (Frame frame;;) {
    const auto next = reader.next(frame);
    if (next == FrameReader::Next::kBadLength) protocol_error("bad frame length");
    if (next == FrameReader::Next::kEnd) return 0;  // end of input (even mid-frame): the host is gone
    const auto [kind, flags, id, payload] = frame;
    if ((flags & ~(kFlagError | kFlagBinary | kFlagStream)) != 0) protocol_error("unknown flag");
    if ((flags & kFlagError) != 0 && (flags & kFlagBinary) != 0) protocol_error("ERROR with BINARY");
    switch (kind) {
      case kRequest: handle_request(id, flags, payload); break;
      case kPing: send(kPong, 0, id, {}); break;
      case kCancel: break;  // requests finish before the next frame is read
      case kShutdown: return 0;
      default: protocol_error("unexpected frame kind");
    }
  }
}
