#include "worker/line_splitter.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace snakepit::internal {
namespace {

struct Collector {
  std::vector<std::string> lines;
  LineSplitter splitter;
  explicit Collector(std::size_t max) : splitter(max, [this](std::string_view l) { lines.emplace_back(l); }) {}
};

TEST(LineSplitterTest, SplitsAcrossChunks) {
  Collector c(100);
  c.splitter.feed("hel");
  c.splitter.feed("lo\nwor");
  c.splitter.feed("ld\r\n\n");
  EXPECT_EQ(c.lines, (std::vector<std::string>{"hello", "world", ""}));
}

TEST(LineSplitterTest, LongLinesAreCut) {
  Collector c(4);
  c.splitter.feed("abcdefghij\nxy\n");
  EXPECT_EQ(c.lines, (std::vector<std::string>{"abcd [cut]", "efgh [cut]", "ij", "xy"}));
}

TEST(LineSplitterTest, FlushEmitsThePartialLine) {
  Collector c(100);
  c.splitter.feed("no newline");
  EXPECT_TRUE(c.lines.empty());
  c.splitter.flush();
  EXPECT_EQ(c.lines, (std::vector<std::string>{"no newline"}));
  c.splitter.flush();
  EXPECT_EQ(c.lines.size(), 1u);
}

}  // namespace
}  // namespace snakepit::internal
