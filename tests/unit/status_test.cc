#include "snakepit/status.h"

#include <gtest/gtest.h>

namespace snakepit {
namespace {

TEST(StatusTest, CodeNamesRoundTrip) {
  for (int i = 0; i <= static_cast<int>(Code::kInternal); ++i) {
    const auto code = static_cast<Code>(i);
    EXPECT_EQ(code_from_name(code_name(code)), code);
  }
  EXPECT_EQ(code_from_name("NoSuchCode"), std::nullopt);
}

TEST(StatusTest, ToJsonCarriesDetails) {
  const Status status = unavailable("worker lost", Json{{"exit_code", 3}});
  const Json json = status.to_json();
  EXPECT_EQ(json["code"], "Unavailable");
  EXPECT_EQ(json["message"], "worker lost");
  EXPECT_EQ(json["details"]["exit_code"], 3);
  EXPECT_EQ(status.to_string(), "Unavailable: worker lost");
  EXPECT_EQ(Status{}.to_json()["details"], Json::object());
}

TEST(ResultTest, HoldsValueOrError) {
  Result<int> value = 7;
  ASSERT_TRUE(value.ok());
  EXPECT_EQ(*value, 7);
  EXPECT_TRUE(value.status().ok());

  Result<int> error = not_found("nope");
  ASSERT_FALSE(error.ok());
  EXPECT_EQ(error.status().code(), Code::kNotFound);
  EXPECT_EQ(error.error().message(), "nope");
}

}  // namespace
}  // namespace snakepit
