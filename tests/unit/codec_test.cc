#include "protocol/codec.h"

#include <gtest/gtest.h>

#include "protocol/frame.h"
#include "protocol/length_prefixed.h"

namespace snakepit::internal {
namespace {

// Byte strings of the frames these tests encode (none: they carry no bytes).
std::vector<Attachment> none;

std::optional<WorkerMessage> feed_one(WorkerCodec& codec, const std::string& bytes, Status* error = nullptr) {
  codec.feed(bytes.data(), bytes.size());
  auto next = codec.next();
  if (!next.ok()) {
    if (error) *error = next.status();
    return std::nullopt;
  }
  return std::move(*next);
}

std::string v0_frame(const Json& json) {
  const std::string text = json.dump();
  char length[4];
  write_be32(length, static_cast<std::uint32_t>(text.size()));
  return std::string(length, 4) + text;
}

TEST(NativeCodecTest, EncodesRequestsWithSortedKeys) {
  auto codec = make_codec(Protocol::kNative, 1 << 20);
  std::string out;
  ASSERT_TRUE(codec->encode_request(out, none, 5, "echo", Json{{"b", 1}, {"a", "x"}}, {}, false).ok());
  FrameDecoder decoder(1 << 20);
  decoder.append(out.data(), out.size());
  auto frame = decoder.next_view();
  ASSERT_TRUE(frame.ok() && frame->has_value());
  EXPECT_EQ((*frame)->kind, FrameKind::kRequest);
  EXPECT_EQ((*frame)->id, 5u);
  EXPECT_EQ((*frame)->payload, R"({"args":{"a":"x","b":1},"command":"echo"})");
}

TEST(NativeCodecTest, SessionRequestsCarryTheSession) {
  auto codec = make_codec(Protocol::kNative, 1 << 20);
  std::string out;
  ASSERT_TRUE(codec->encode_request(out, none, 9, "get", Json::object(), "user-1", false).ok());
  FrameDecoder decoder(1 << 20);
  decoder.append(out.data(), out.size());
  auto frame = decoder.next_view();
  ASSERT_TRUE(frame.ok() && frame->has_value());
  EXPECT_EQ((*frame)->payload, R"({"args":{},"command":"get","session":"user-1"})");
}

TEST(NativeCodecTest, DecodesCallsAndEncodesReplies) {
  auto codec = make_codec(Protocol::kNative, 1 << 20);
  auto call = feed_one(*codec, encode_frame({FrameKind::kCall, 0, 4, R"({"function":"session.read","args":{}})"}));
  ASSERT_TRUE(call);
  EXPECT_EQ(call->type, WorkerMessage::Type::kCall);
  EXPECT_EQ(call->id, 4u);
  EXPECT_EQ(call->body["function"], "session.read");

  std::string out;
  ASSERT_TRUE(codec->encode_reply(out, none, 4, Json{{"version", 2}}));
  ASSERT_TRUE(codec->encode_reply(out, none, 5, not_found("no host function 'x'", Json{{"reason", "unknown_function"}})));
  FrameDecoder decoder(1 << 20);
  decoder.append(out.data(), out.size());
  auto ok = decoder.next_view();
  ASSERT_TRUE(ok.ok() && ok->has_value());
  EXPECT_EQ((*ok)->kind, FrameKind::kReply);
  EXPECT_EQ((*ok)->flags, 0);
  EXPECT_EQ((*ok)->id, 4u);
  EXPECT_EQ((*ok)->payload, R"({"version":2})");
  auto error = decoder.next_view();
  ASSERT_TRUE(error.ok() && error->has_value());
  EXPECT_EQ((*error)->flags, frame_flags::kError);
  EXPECT_EQ((*error)->payload,
            R"({"code":"NotFound","details":{"reason":"unknown_function"},"message":"no host function 'x'"})");

  auto bad = make_codec(Protocol::kNative, 1 << 20);
  Status status;
  EXPECT_FALSE(feed_one(*bad, encode_frame({FrameKind::kCall, 0, 1, "{oops"}), &status));
  EXPECT_EQ(status.details()["reason"], "bad_json");
}

TEST(NativeCodecTest, RepliesAboveTheFrameLimitBecomeErrors) {
  auto codec = make_codec(Protocol::kNative, 1024);
  std::string out;
  ASSERT_TRUE(codec->encode_reply(out, none, 1, Json(std::string(4000, 'x'))));
  FrameDecoder decoder(1024);
  decoder.append(out.data(), out.size());
  auto frame = decoder.next_view();
  ASSERT_TRUE(frame.ok() && frame->has_value());
  EXPECT_EQ((*frame)->flags, frame_flags::kError);
  EXPECT_EQ(Json::parse((*frame)->payload)["details"]["reason"], "reply_too_large");
}

TEST(RemoteErrorTest, DetailsOfTheErrorObjectAreKept) {
  const Status status = remote_error_status(
      Json{{"code", "ResourceExhausted"}, {"message", "full"}, {"details", {{"reason", "session_full"}}}}, "w-2");
  EXPECT_EQ(status.code(), Code::kResourceExhausted);
  EXPECT_EQ(status.details()["reason"], "session_full");
  EXPECT_EQ(status.details()["worker_id"], "w-2");
  EXPECT_EQ(status.details()["remote"], true);
}

TEST(NativeCodecTest, DecodesHelloResponsesAndErrors) {
  auto codec = make_codec(Protocol::kNative, 1 << 20);
  auto hello = feed_one(*codec, encode_frame({FrameKind::kHello, 0, 0, R"({"protocol":1,"pid":7,"commands":["a"]})"}));
  ASSERT_TRUE(hello);
  EXPECT_EQ(hello->type, WorkerMessage::Type::kHello);
  EXPECT_EQ(hello->body["pid"], 7);

  auto error = feed_one(*codec, encode_frame({FrameKind::kResponse, frame_flags::kError, 3,
                                              R"({"code":"InvalidArgument","message":"bad","type":"TypeError"})"}));
  ASSERT_TRUE(error);
  EXPECT_TRUE(error->is_error);
  const Status status = remote_error_status(error->body, "w-1");
  EXPECT_EQ(status.code(), Code::kInvalidArgument);
  EXPECT_EQ(status.message(), "bad");
  EXPECT_EQ(status.details()["type"], "TypeError");
  EXPECT_EQ(status.details()["worker_id"], "w-1");
}

TEST(NativeCodecTest, RejectsBadHelloAndBadJson) {
  Status error;
  auto codec = make_codec(Protocol::kNative, 1 << 20);
  EXPECT_FALSE(feed_one(*codec, encode_frame({FrameKind::kHello, 0, 0, R"({"protocol":2})"}), &error));
  EXPECT_EQ(error.details()["reason"], "bad_hello");

  auto codec2 = make_codec(Protocol::kNative, 1 << 20);
  EXPECT_FALSE(feed_one(*codec2, encode_frame({FrameKind::kResponse, 0, 1, "{not json"}), &error));
  EXPECT_EQ(error.details()["reason"], "bad_json");

  auto codec3 = make_codec(Protocol::kNative, 1 << 20);
  EXPECT_FALSE(feed_one(*codec3, encode_frame({FrameKind::kRequest, 0, 1, "{}"}), &error));
  EXPECT_EQ(error.details()["reason"], "unexpected_frame");
}

TEST(NativeCodecTest, RefusesRequestsAboveTheFrameLimit) {
  for (Protocol protocol : {Protocol::kNative, Protocol::kSnakepitV0}) {
    auto codec = make_codec(protocol, 1024);
    std::string out;
    const Status status = codec->encode_request(out, none, 1, "echo", Json{{"blob", std::string(2000, 'x')}}, {}, false);
    EXPECT_EQ(status.code(), Code::kResourceExhausted);
    EXPECT_EQ(status.details()["reason"], "request_too_large");
    EXPECT_TRUE(out.empty());
    EXPECT_TRUE(codec->encode_request(out, none, 2, "echo", Json{{"blob", "small"}}, {}, false).ok());
  }
}

TEST(RemoteErrorTest, UnknownCodesBecomeInternal) {
  EXPECT_EQ(remote_error_status(Json{{"code", "Bogus"}, {"message", "m"}}, "w").code(), Code::kInternal);
  EXPECT_EQ(remote_error_status(Json{{"code", "Ok"}}, "w").code(), Code::kInternal);
  EXPECT_EQ(remote_error_status(Json("text"), "w").code(), Code::kInternal);
}

TEST(V0CodecTest, InitialisationPingBecomesHello) {
  auto codec = make_codec(Protocol::kSnakepitV0, 1 << 20);
  std::string out;
  codec->encode_start(out, "w-1");
  const Json sent = Json::parse(out.substr(4));
  EXPECT_EQ(sent["command"], "ping");
  EXPECT_EQ(sent["args"]["initialization"], true);
  EXPECT_EQ(sent["args"]["worker_id"], "w-1");
  EXPECT_TRUE(sent["timestamp"].is_string());

  auto hello = feed_one(*codec, v0_frame({{"id", sent["id"]}, {"success", true}, {"result", {{"status", "ok"}}}}));
  ASSERT_TRUE(hello);
  EXPECT_EQ(hello->type, WorkerMessage::Type::kHello);
}

TEST(V0CodecTest, ResponsesAndErrors) {
  auto codec = make_codec(Protocol::kSnakepitV0, 1 << 20);
  auto ok = feed_one(*codec, v0_frame({{"id", 4}, {"success", true}, {"result", 12}, {"timestamp", "t"}}));
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->id, 4u);
  EXPECT_FALSE(ok->is_error);
  EXPECT_EQ(ok->body, 12);
  auto failed = feed_one(*codec, v0_frame({{"id", 5}, {"success", false}, {"error", "boom"}}));
  ASSERT_TRUE(failed);
  EXPECT_TRUE(failed->is_error);
  EXPECT_EQ(remote_error_status(failed->body, "w").message(), "boom");
}

TEST(V0CodecTest, MissingFieldsAreProtocolErrors) {
  Status error;
  auto codec = make_codec(Protocol::kSnakepitV0, 1 << 20);
  EXPECT_FALSE(feed_one(*codec, v0_frame({{"id", 4}, {"result", 1}}), &error));
  EXPECT_EQ(error.details()["reason"], "missing_fields");
  auto codec2 = make_codec(Protocol::kSnakepitV0, 1 << 20);
  EXPECT_FALSE(feed_one(*codec2, v0_frame({{"id", 1}, {"success", true}}), &error));
  EXPECT_EQ(error.details()["reason"], "missing_fields");
  auto codec3 = make_codec(Protocol::kSnakepitV0, 1 << 20);
  EXPECT_FALSE(feed_one(*codec3, std::string("\x00\x00\x00\x02[]", 6), &error));
  EXPECT_EQ(error.details()["reason"], "bad_json");
}

}  // namespace
}  // namespace snakepit::internal

namespace snakepit::internal {
namespace {

std::string binary_frame(FrameKind kind, std::uint8_t flags, std::string_view json, std::string_view attachments) {
  std::string payload(4, '\0');
  write_be32(payload.data(), static_cast<std::uint32_t>(json.size()));
  payload += json;
  payload += attachments;
  return encode_frame({kind, static_cast<std::uint8_t>(flags | frame_flags::kBinary), 1, payload});
}

Status decode_error(const std::string& frame) {
  auto codec = make_codec(Protocol::kNative, 1 << 20);
  codec->feed(frame.data(), frame.size());
  auto message = codec->next();
  return message.ok() ? Status{} : message.status();
}

TEST(BinaryPayloadTest, ByteStringsAnywhereRoundTripWithoutBase64) {
  const Json value = {{"a", bytes("")}, {"list", {1, bytes("xy"), {{"deep", bytes(std::string(3, '\0'))}}}}};
  std::string out;
  std::vector<Attachment> attachments;
  append_binary_payload(out, value, attachments);
  ASSERT_EQ(attachments.size(), 3u);
  std::string payload = out;
  for (const auto& a : attachments) payload.append(a.data, a.size);
  EXPECT_EQ(payload.find("eHk"), std::string::npos) << "no base64";
  auto back = parse_binary_payload(payload);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(*back, value);
}

TEST(BinaryPayloadTest, MalformedBinaryFramesAreProtocolErrors) {
  const char* bad_json[] = {
      R"({"$bytes":[0,4]})",     // beyond the attachments
      R"({"$bytes":[5,0]})",     // offset beyond
      R"({"$bytes":[0]})",       // not [offset, length]
      R"({"$bytes":[-1,1]})",    // negative
      R"({"$bytes":"abc"})",
      R"({"x":{"$bytes":[2,2]}})",
  };
  for (const char* json : bad_json) {
    const Status error = decode_error(binary_frame(FrameKind::kResponse, 0, json, "abc"));
    EXPECT_EQ(error.code(), Code::kInvalidArgument) << json;
    EXPECT_EQ(error.details()["reason"], "bad_binary") << json;
  }
  // json_length beyond the payload.
  std::string payload(4, '\0');
  write_be32(payload.data(), 100);
  payload += "{}";
  EXPECT_EQ(decode_error(encode_frame({FrameKind::kResponse, frame_flags::kBinary, 1, payload})).details()["reason"],
            "bad_binary");
  // ERROR and BINARY together.
  EXPECT_EQ(decode_error(binary_frame(FrameKind::kResponse, frame_flags::kError, "{}", "")).details()["reason"],
            "bad_flags");
  // A $bytes object next to other keys is ordinary JSON, and so is one without BINARY.
  EXPECT_TRUE(decode_error(binary_frame(FrameKind::kResponse, 0, R"({"$bytes":[9,9],"k":1})", "")).ok());
  EXPECT_TRUE(decode_error(encode_frame({FrameKind::kResponse, 0, 1, R"({"$bytes":[9,9]})"})).ok());
}

TEST(BinaryPayloadTest, ABinaryRequestCountsItsAttachmentsAgainstTheFrameLimit) {
  auto codec = make_codec(Protocol::kNative, 1024);
  std::string out;
  std::vector<Attachment> attachments;
  const Status status = codec->encode_request(out, attachments, 1, "echo", Json{{"b", bytes(std::string(2000, 'x'))}},
                                              {}, false);
  EXPECT_EQ(status.code(), Code::kResourceExhausted);
  EXPECT_TRUE(out.empty());
  EXPECT_TRUE(attachments.empty());
}

TEST(BinaryPayloadTest, V0RefusesStreamsAndBytes) {
  auto codec = make_codec(Protocol::kSnakepitV0, 1 << 20);
  std::string out;
  std::vector<Attachment> attachments;
  EXPECT_EQ(codec->encode_request(out, attachments, 1, "c", Json::object(), {}, true).code(), Code::kInvalidArgument);
  EXPECT_EQ(codec->encode_request(out, attachments, 1, "c", Json{{"b", bytes("x")}}, {}, false).code(),
            Code::kInvalidArgument);
  EXPECT_TRUE(out.empty());
}

}  // namespace
}  // namespace snakepit::internal
