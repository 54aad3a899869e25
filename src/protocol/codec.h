// WorkerCodec: what the worker layer needs from a protocol, so the native and
// snakepit-v0 protocols plug into the same Worker. A codec encodes host →
// worker messages into a byte buffer and decodes worker → host bytes into
// WorkerMessages. Not thread-safe; owned by one Worker.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "protocol/binary_payload.h"
#include "snakepit/json.h"
#include "snakepit/options.h"
#include "snakepit/status.h"

namespace snakepit::internal {

struct WorkerMessage {
  enum class Type { kHello, kResponse, kPong, kCall, kChunk, kEnd };
  Type type = Type::kResponse;
  std::uint64_t id = 0;
  bool is_error = false;  // kResponse, kEnd: body is an error object
  Json body;              // kHello: the hello object; kResponse, kEnd: result or error object;
                          // kCall: the call payload (any JSON; its shape is checked by the host);
                          // kChunk: one piece of a streamed result
};

class WorkerCodec {
 public:
  virtual ~WorkerCodec() = default;

  // Bytes the host sends right after spawn (v0: the initialization ping).
  virtual void encode_start(std::string& out, std::string_view worker_id) = 0;
  // Errors: ResourceExhausted (reason request_too_large) when the encoded
  // request exceeds the frame limit, InvalidArgument when the protocol
  // cannot carry it (streams, bytes in v0); nothing is appended then.
  // `session` is left out of the request when empty. Byte strings in
  // `args` are not copied: they are added to `attachments`, to be written
  // right after `out`, and point into `args`.
  virtual Status encode_request(std::string& out, std::vector<Attachment>& attachments, std::uint64_t id,
                                std::string_view command, const Json& args, std::string_view session,
                                bool stream) = 0;
  // The answer to a worker's call; an error becomes an error object. A
  // result above the frame limit is replaced by a ResourceExhausted error.
  // Byte strings go to `attachments`, as for encode_request.
  virtual bool encode_reply(std::string& out, std::vector<Attachment>& attachments, std::uint64_t id,
                            const Result<Json>& result) = 0;
  // Each returns false when the protocol has no such message.
  virtual bool encode_cancel(std::string& out, std::uint64_t id) = 0;
  virtual bool encode_ping(std::string& out, std::uint64_t nonce) = 0;
  virtual bool encode_shutdown(std::string& out) = 0;

  virtual void feed(const char* data, std::size_t size) = 0;
  // Reading in place instead of feed(): room for at least `size` bytes (the
  // rest of a large frame when one is pending), then commit() what was read.
  virtual std::span<char> read_space(std::size_t size) = 0;
  virtual void commit(std::size_t size) = 0;
  // Next decoded message; nullopt when more bytes are needed; an error
  // (InvalidArgument with details.reason) is a protocol violation.
  virtual Result<std::optional<WorkerMessage>> next() = 0;
};

std::unique_ptr<WorkerCodec> make_codec(Protocol protocol, std::uint32_t max_frame_bytes);

// Compact JSON; invalid UTF-8 in strings is replaced rather than thrown.
std::string dump_json(const Json& value);

// The error for a request whose encoding exceeds the frame limit.
Status request_too_large(std::size_t bytes, std::uint32_t max_frame_bytes);

// The wire error object of a Status (docs/protocol.md "Error object").
Json error_object(const Status& status);

// Status for an error object a worker returned (docs/protocol.md "Error object").
Status remote_error_status(const Json& error, std::string_view worker_id);

}  // namespace snakepit::internal
