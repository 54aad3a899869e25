#include "protocol/codec.h"

#include <chrono>

#include <fmt/chrono.h>
#include <fmt/format.h>

#include "protocol/frame.h"
#include "protocol/length_prefixed.h"

namespace snakepit::internal {
namespace {

Status protocol_error(std::string message, std::string_view reason) {
  return invalid_argument(std::move(message), Json{{"reason", reason}});
}

std::optional<Json> parse_json(std::string_view text) {
  Json value = Json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
  if (value.is_discarded()) return std::nullopt;
  return value;
}

class NativeCodec final : public WorkerCodec {
 public:
  explicit NativeCodec(std::uint32_t max_frame) : max_frame_(max_frame), decoder_(max_frame) {}

  void encode_start(std::string&, std::string_view) override {}

  Status encode_request(std::string& out, std::vector<Attachment>& attachments, std::uint64_t id,
                        std::string_view command, const Json& args, std::string_view session,
                        bool stream) override {
    const bool binary = contains_bytes(args);
    std::uint8_t flags = stream ? frame_flags::kStream : 0;
    if (binary) flags |= frame_flags::kBinary;
    const std::size_t attached = attachments.size();
    const std::size_t length = append_in_place(out, FrameKind::kRequest, flags, id, [&]() -> std::size_t {
      const std::size_t json_length_at = out.size();
      if (binary) out.append(4, '\0');
      std::size_t attachment_bytes = 0;
      out += "{\"args\":";
      if (binary) {
        append_json_with_bytes(out, args, attachments, attachment_bytes);
      } else {
        out += dump_json(args);
      }
      out += ",\"command\":";
      out += dump_json(Json(command));
      if (!session.empty()) {
        out += ",\"session\":";
        out += dump_json(Json(session));
      }
      out += '}';
      if (binary) write_be32(out.data() + json_length_at, static_cast<std::uint32_t>(out.size() - json_length_at - 4));
      return attachment_bytes;
    });
    if (length > max_frame_) {
      attachments.resize(attached);
      return request_too_large(length, max_frame_);
    }
    return {};
  }
  bool encode_reply(std::string& out, std::vector<Attachment>& attachments, std::uint64_t id,
                    const Result<Json>& result) override {
    const bool ok = result.ok();
    const bool binary = ok && contains_bytes(*result);
    const std::uint8_t flags = ok ? (binary ? frame_flags::kBinary : 0) : frame_flags::kError;
    const std::size_t attached = attachments.size();
    const std::size_t length = append_in_place(out, FrameKind::kReply, flags, id, [&]() -> std::size_t {
      if (binary) return append_binary_payload(out, *result, attachments);
      out += ok ? dump_json(*result) : dump_json(error_object(result.status()));
      return 0;
    });
    if (length > max_frame_) {
      attachments.resize(attached);
      return encode_reply(out, attachments, id,
                          resource_exhausted(fmt::format("reply of {} bytes exceeds the {}-byte frame limit",
                                                         length - kHeaderBytes, max_frame_),
                                             Json{{"reason", "reply_too_large"}}));
    }
    return true;
  }
  bool encode_cancel(std::string& out, std::uint64_t id) override {
    append_frame(out, FrameKind::kCancel, 0, id, {});
    return true;
  }
  bool encode_ping(std::string& out, std::uint64_t nonce) override {
    append_frame(out, FrameKind::kPing, 0, nonce, {});
    return true;
  }
  bool encode_shutdown(std::string& out) override {
    append_frame(out, FrameKind::kShutdown, 0, 0, {});
    return true;
  }

  void feed(const char* data, std::size_t size) override { decoder_.append(data, size); }
  std::span<char> read_space(std::size_t size) override { return decoder_.prepare(size); }
  void commit(std::size_t size) override { decoder_.commit(size); }

  Result<std::optional<WorkerMessage>> next() override {
    auto frame = decoder_.next_view();
    if (!frame.ok()) return frame.status();
    if (!frame->has_value()) return std::optional<WorkerMessage>{};
    const FrameView& f = **frame;
    WorkerMessage message;
    message.id = f.id;
    switch (f.kind) {
      case FrameKind::kHello: {
        auto hello = parse_json(f.payload);
        if (!hello || !hello->is_object() || hello->value("protocol", 0) != 1 || !hello->contains("pid") ||
            !(*hello)["commands"].is_array()) {
          return protocol_error("malformed hello: expected {\"protocol\":1,\"pid\":…,\"commands\":[…]}",
                                "bad_hello");
        }
        message.type = WorkerMessage::Type::kHello;
        message.body = std::move(*hello);
        break;
      }
      case FrameKind::kResponse:
      case FrameKind::kEnd:
      case FrameKind::kChunk:
      case FrameKind::kCall: {
        auto body = parse_payload(f);
        if (!body.ok()) return body.status();
        message.type = message_type(f.kind);
        message.is_error = f.kind != FrameKind::kChunk && f.kind != FrameKind::kCall &&
                           (f.flags & frame_flags::kError) != 0;
        message.body = std::move(*body);
        break;
      }
      case FrameKind::kPong:
        message.type = WorkerMessage::Type::kPong;
        break;
      default:
        return protocol_error(fmt::format("unexpected '{}' frame from worker", frame_kind_name(f.kind)),
                              "unexpected_frame");
    }
    return std::optional<WorkerMessage>(std::move(message));
  }

 private:
  static WorkerMessage::Type message_type(FrameKind kind) {
    switch (kind) {
      case FrameKind::kEnd: return WorkerMessage::Type::kEnd;
      case FrameKind::kChunk: return WorkerMessage::Type::kChunk;
      case FrameKind::kCall: return WorkerMessage::Type::kCall;
      default: return WorkerMessage::Type::kResponse;
    }
  }

  static Result<Json> parse_payload(const FrameView& f) {
    const std::string_view kind = frame_kind_name(f.kind);
    if ((f.flags & frame_flags::kBinary) == 0) {
      auto body = parse_json(f.payload);
      if (!body) return protocol_error(fmt::format("{} payload is not valid JSON", kind), "bad_json");
      return std::move(*body);
    }
    if ((f.flags & frame_flags::kError) != 0) {
      return protocol_error(fmt::format("{} frame with both ERROR and BINARY", kind), "bad_flags");
    }
    auto body = parse_binary_payload(f.payload);
    if (!body.ok()) return protocol_error(fmt::format("{}: {}", kind, body.status().message()), "bad_binary");
    return body;
  }

  // Appends a frame whose payload `write_payload()` appends to `out` in
  // place (no copy) and returns the bytes of attachments that follow it; the
  // length is filled in last. Returns the frame's length; above the limit,
  // nothing stays appended.
  template <typename WritePayload>
  std::size_t append_in_place(std::string& out, FrameKind kind, std::uint8_t flags, std::uint64_t id,
                              WritePayload write_payload) {
    const std::size_t start = out.size();
    append_frame(out, kind, flags, id, {});
    const std::size_t attached = write_payload();
    const std::size_t length = out.size() - start - kLengthBytes + attached;
    if (length > max_frame_) {
      out.resize(start);
    } else {
      write_be32(out.data() + start, static_cast<std::uint32_t>(length));
    }
    return length;
  }

  std::uint32_t max_frame_;
  FrameDecoder decoder_;
};

// The original Snakepit protocol: 4-byte length + JSON on stdin/stdout.
class V0Codec final : public WorkerCodec {
 public:
  explicit V0Codec(std::uint32_t max_frame) : max_frame_(max_frame), buffer_(0, max_frame) {}

  void encode_start(std::string& out, std::string_view worker_id) override {
    std::vector<Attachment> none;
    (void)encode_request(out, none, kInitId, "ping", Json{{"worker_id", worker_id}, {"initialization", true}}, {},
                         false);
  }

  Status encode_request(std::string& out, std::vector<Attachment>&, std::uint64_t id, std::string_view command,
                        const Json& args, std::string_view /*session: v0 has no sessions*/, bool stream) override {
    if (stream || contains_bytes(args)) {
      return invalid_argument(
          fmt::format("protocol snakepit-v0 cannot carry {}", stream ? "streams" : "byte strings"),
          Json{{"reason", "unsupported_by_protocol"}, {"protocol", "snakepit-v0"}});
    }
    const Json message = {{"id", id},
                          {"command", command},
                          {"args", args},
                          {"timestamp", fmt::format("{:%FT%TZ}", fmt::gmtime(std::time(nullptr)))}};
    const std::string text = dump_json(message);
    if (text.size() > max_frame_) return request_too_large(text.size(), max_frame_);
    char length[4];
    write_be32(length, static_cast<std::uint32_t>(text.size()));
    out.append(length, 4);
    out += text;
    return {};
  }
  bool encode_reply(std::string&, std::vector<Attachment>&, std::uint64_t, const Result<Json>&) override {
    return false;
  }
  bool encode_cancel(std::string&, std::uint64_t) override { return false; }
  bool encode_ping(std::string&, std::uint64_t) override { return false; }
  bool encode_shutdown(std::string&) override { return false; }

  void feed(const char* data, std::size_t size) override { buffer_.append(data, size); }
  std::span<char> read_space(std::size_t size) override { return buffer_.prepare(size); }
  void commit(std::size_t size) override { buffer_.commit(size); }

  Result<std::optional<WorkerMessage>> next() override {
    auto body = buffer_.next();
    if (!body.ok()) return body.status();
    if (!body->has_value()) return std::optional<WorkerMessage>{};
    auto json = parse_json(**body);
    if (!json || !json->is_object()) return fail("snakepit-v0 response is not a JSON object", "bad_json");
    const Json& j = *json;
    if (!j.contains("id") || !j["id"].is_number_unsigned() || !j.contains("success") || !j["success"].is_boolean()) {
      return fail("snakepit-v0 response lacks a numeric \"id\" or a boolean \"success\"", "missing_fields");
    }
    WorkerMessage message;
    message.id = j["id"].get<std::uint64_t>();
    message.is_error = !j["success"].get<bool>();
    if (message.is_error) {
      if (!j.contains("error")) return fail("snakepit-v0 error response lacks \"error\"", "missing_fields");
      const Json& error = j["error"];
      message.body = {{"code", "Internal"}, {"message", error.is_string() ? error.get<std::string>() : error.dump()}};
    } else {
      if (!j.contains("result")) return fail("snakepit-v0 response lacks \"result\"", "missing_fields");
      message.body = j["result"];
    }
    if (message.id == kInitId) {
      const bool ready = !message.is_error && message.body.is_object() && message.body.value("status", "") == "ok";
      if (!ready) return fail("snakepit-v0 initialization ping did not return status ok", "bad_hello");
      message.type = WorkerMessage::Type::kHello;
      message.body = {{"protocol", 1}, {"pid", message.body.value("pid", 0)}, {"commands", Json::array()}};
    }
    return std::optional<WorkerMessage>(std::move(message));
  }

 private:
  // Ids of real requests start at 1; the initialization ping uses its own.
  static constexpr std::uint64_t kInitId = 0;

  Status fail(std::string message, std::string_view reason) {
    return buffer_.fail(protocol_error(std::move(message), reason));
  }

  std::uint32_t max_frame_;
  LengthPrefixedBuffer buffer_;
};

}  // namespace

std::string dump_json(const Json& value) { return value.dump(-1, ' ', false, Json::error_handler_t::replace); }

std::unique_ptr<WorkerCodec> make_codec(Protocol protocol, std::uint32_t max_frame_bytes) {
  if (protocol == Protocol::kSnakepitV0) return std::make_unique<V0Codec>(max_frame_bytes);
  return std::make_unique<NativeCodec>(max_frame_bytes);
}

Status request_too_large(std::size_t bytes, std::uint32_t max_frame_bytes) {
  return resource_exhausted(
      fmt::format("request of {} bytes exceeds the {}-byte frame limit (pool.max_frame_bytes)", bytes, max_frame_bytes),
      Json{{"reason", "request_too_large"}, {"bytes", bytes}, {"max_frame_bytes", max_frame_bytes}});
}

Json error_object(const Status& status) {
  Json error = {{"code", code_name(status.code())}, {"message", status.message()}};
  if (status.details().is_object() && !status.details().empty()) error["details"] = status.details();
  return error;
}

Status remote_error_status(const Json& error, std::string_view worker_id) {
  Code code = Code::kInternal;
  std::string message = "command failed";
  Json details = Json::object();
  if (error.is_object()) {
    if (auto it = error.find("code"); it != error.end() && it->is_string()) {
      code = code_from_name(it->get<std::string>()).value_or(Code::kInternal);
      if (code == Code::kOk) code = Code::kInternal;
    }
    if (auto it = error.find("message"); it != error.end() && it->is_string()) message = it->get<std::string>();
    if (auto it = error.find("details"); it != error.end() && it->is_object()) details = *it;
    for (const char* key : {"type", "traceback"}) {
      if (auto it = error.find(key); it != error.end()) details[key] = *it;
    }
  } else {
    message = error.dump();
  }
  details["remote"] = true;
  details["worker_id"] = worker_id;
  return {code, std::move(message), std::move(details)};
}

}  // namespace snakepit::internal
