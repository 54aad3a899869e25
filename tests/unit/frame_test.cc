#include "protocol/frame.h"

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
