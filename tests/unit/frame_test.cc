#include "protocol/frame.h"

#include "protocol/codec.h"
#include "protocol/length_prefixed.h"

#include <gtest/gtest.h>

#include <fstream>

namespace snakepit::internal {
namespace {

std::string from_hex(const std::string& hex) {
  std::string out;
  for (std::size_t i = 0; i + 1 < hex.size(); i += 2) out.push_back(static_cast<char>(std::stoi(hex.substr(i, 2), nullptr, 16)));
  return out;
}

Json golden_frames() {
  std::ifstream in(SNAKEPIT_SOURCE_DIR "/tests/fixtures/golden_frames.json");
  return Json::parse(in);
}

TEST(FrameTest, GoldenFramesEncodeAndDecode) {
  const Json golden = golden_frames();
  ASSERT_TRUE(golden.is_array());
  ASSERT_GE(golden.size(), 8u);
  for (const auto& g : golden) {
    SCOPED_TRACE(g["name"].get<std::string>());
    const std::string bytes = from_hex(g["hex"]);
    Frame frame;
    frame.kind = static_cast<FrameKind>(g["kind"].get<int>());
    frame.flags = g["flags"].get<std::uint8_t>();
    frame.id = g["id"].get<std::uint64_t>();
    frame.payload = g["payload"].is_null() ? "" : g["payload"].dump();
    if (g.contains("attachments_hex")) {  // BINARY: json_length, JSON, attachments
      char length[4];
      write_be32(length, static_cast<std::uint32_t>(frame.payload.size()));
      frame.payload = std::string(length, 4) + frame.payload + from_hex(g["attachments_hex"]);
    }
    EXPECT_EQ(encode_frame(frame), bytes);

    FrameDecoder decoder(1 << 20);
    decoder.append(bytes.data(), bytes.size());
    auto decoded = decoder.next_view();
    ASSERT_TRUE(decoded.ok()) << decoded.status();
    ASSERT_TRUE(decoded->has_value());
    EXPECT_EQ((*decoded)->kind, frame.kind);
    EXPECT_EQ((*decoded)->flags, frame.flags);
    EXPECT_EQ((*decoded)->id, frame.id);
    EXPECT_EQ((*decoded)->payload, frame.payload);
  }
}

Json golden(const std::string& name) {
  for (const auto& g : golden_frames()) {
    if (g["name"] == name) return g;
  }
  ADD_FAILURE() << "no golden frame " << name;
  return Json::object();
}

std::string with_attachments(const std::string& out, const std::vector<Attachment>& attachments) {
  std::string all = out;
  for (const auto& a : attachments) all.append(a.data, a.size);
  return all;
}

// The codec (not just the framing) reproduces the golden stream and binary frames.
TEST(FrameTest, CodecWritesGoldenStreamAndBinaryFrames) {
  auto codec = make_codec(Protocol::kNative, 1 << 20);
  std::string out;
  std::vector<Attachment> attachments;
  ASSERT_TRUE(codec->encode_request(out, attachments, 9, "count", Json{{"n", 2}}, {}, /*stream=*/true).ok());
  EXPECT_EQ(out, from_hex(golden("request_stream")["hex"]));
  EXPECT_TRUE(attachments.empty());

  out.clear();
  const Json args = {{"data", bytes("abc")}};
  ASSERT_TRUE(codec->encode_request(out, attachments, 6, "checksum", args, {}, false).ok());
  EXPECT_EQ(with_attachments(out, attachments), from_hex(golden("request_binary")["hex"]));
  ASSERT_EQ(attachments.size(), 1u);
  EXPECT_EQ(attachments[0].data, bytes_view(args["data"]).data()) << "the bytes are referenced, not copied";

  out.clear();
  attachments.clear();
  const Result<Json> reply(bytes("z"));  // the attachments point into it
  ASSERT_TRUE(codec->encode_reply(out, attachments, 3, reply));
  EXPECT_EQ(with_attachments(out, attachments), from_hex(golden("reply_binary")["hex"]));
}

TEST(FrameTest, CodecReadsGoldenChunkEndAndBinaryResponse) {
  auto codec = make_codec(Protocol::kNative, 1 << 20);
  for (const char* name : {"chunk", "end", "end_error", "response_binary"}) {
    const std::string frame = from_hex(golden(name)["hex"]);
    codec->feed(frame.data(), frame.size());
  }
  auto next = [&] {
    auto message = codec->next();
    EXPECT_TRUE(message.ok()) << message.status();
    EXPECT_TRUE(message.ok() && message->has_value());
    return message.ok() && message->has_value() ? std::move(**message) : WorkerMessage{};
  };
  WorkerMessage chunk = next();
  EXPECT_EQ(chunk.type, WorkerMessage::Type::kChunk);
  EXPECT_EQ(chunk.body, (Json{{"i", 0}}));
  WorkerMessage end = next();
  EXPECT_EQ(end.type, WorkerMessage::Type::kEnd);
  EXPECT_FALSE(end.is_error);
  EXPECT_EQ(end.body, (Json{{"count", 2}}));
  WorkerMessage failed = next();
  EXPECT_EQ(failed.type, WorkerMessage::Type::kEnd);
  EXPECT_TRUE(failed.is_error);
  EXPECT_EQ(failed.body["code"], "Cancelled");
  WorkerMessage binary = next();
  EXPECT_EQ(binary.type, WorkerMessage::Type::kResponse);
  ASSERT_TRUE(binary.body["data"].is_binary());
  EXPECT_EQ(bytes_view(binary.body["data"]), std::string("\x00\xff", 2));
  EXPECT_EQ(binary.body["size"], 2);
}

TEST(FrameTest, DecodesByteByByteAndBackToBack) {
  std::string stream = encode_frame({FrameKind::kPing, 0, 1, ""}) + encode_frame({FrameKind::kResponse, 1, 2, "{}"});
  FrameDecoder decoder(1024);
  std::vector<Frame> frames;
  for (char c : stream) {
    decoder.append(&c, 1);
    while (true) {
      auto next = decoder.next_view();
      ASSERT_TRUE(next.ok());
      if (!next->has_value()) break;
      const FrameView& v = **next;
      frames.push_back({v.kind, v.flags, v.id, std::string(v.payload)});  // copy: the view dies on append
    }
  }
  ASSERT_EQ(frames.size(), 2u);
  EXPECT_EQ(frames[0].kind, FrameKind::kPing);
  EXPECT_EQ(frames[1].id, 2u);
  EXPECT_EQ(frames[1].payload, "{}");
  EXPECT_EQ(decoder.buffered(), 0u);
}

Status decode_error(const std::string& bytes, std::uint32_t max = 1024) {
  FrameDecoder decoder(max);
  decoder.append(bytes.data(), bytes.size());
  auto next = decoder.next_view();
  return next.status();
}

TEST(FrameTest, RejectsAFourGibibyteAnnouncementWithoutAllocating) {
  const Status status = decode_error(std::string("\xff\xff\xff\xff", 4));
  EXPECT_EQ(status.code(), Code::kInvalidArgument);
  EXPECT_EQ(status.details()["reason"], "oversized_frame");
}

TEST(FrameTest, RejectsMalformedFrames) {
  EXPECT_EQ(decode_error(std::string("\x00\x00\x00\x03" "abc", 7)).details()["reason"], "malformed_frame");
  std::string unknown_kind = encode_frame({FrameKind::kPing, 0, 1, ""});
  unknown_kind[4] = 99;
  EXPECT_EQ(decode_error(unknown_kind).details()["reason"], "unknown_kind");
  std::string unknown_flags = encode_frame({FrameKind::kPing, 0, 1, ""});
  unknown_flags[5] = static_cast<char>(0x80);
  EXPECT_EQ(decode_error(unknown_flags).details()["reason"], "unknown_flags");
}

TEST(FrameTest, StaysFailedAfterAnError) {
  FrameDecoder decoder(16);
  const std::string big = encode_frame({FrameKind::kResponse, 0, 1, std::string(100, 'x')});
  decoder.append(big.data(), big.size());
  EXPECT_FALSE(decoder.next_view().ok());
  const std::string ok = encode_frame({FrameKind::kPing, 0, 1, ""});
  decoder.append(ok.data(), ok.size());
  EXPECT_FALSE(decoder.next_view().ok());
}

}  // namespace
}  // namespace snakepit::internal
