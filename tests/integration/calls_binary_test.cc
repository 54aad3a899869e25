// Calls from workers to host functions (result, unknown function, a
// function's error or exception, bytes both ways, a slow function not
// blocking other workers), and byte strings in arguments and results of
// 0 B, 1 B, 1 MiB and 32 MiB, checked byte for byte.
#include <algorithm>
#include <atomic>
#include <future>

#include <gtest/gtest.h>

#include "snakepit/snakepit.h"
#include "tests/integration/test_support.h"

namespace snakepit::testing {
namespace {

class HostCallTest : public HygieneCheckedTest {};

HostFunction adder() {
  return {"add", "a + b", [](Json args, const CallContext&) -> Result<Json> {
            return Json(args.value("a", 0) + args.value("b", 0));
          }};
}

TEST_F(HostCallTest, AWorkerCallsARegisteredFunction) {
  Snakepit pit = start_or_die(generic_options(1));
  ASSERT_TRUE(pit.register_function(adder()).ok());
  auto result = call(pit, "call_host", {{"function", "add"}, {"args", {{"a", 2}, {"b", 3}}}});
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ((*result)["result"], 5);
}

TEST_F(HostCallTest, UnknownFunctionsAndFailuresComeBackAsTypedErrors) {
  Snakepit pit = start_or_die(generic_options(1));
  ASSERT_TRUE(pit.register_function({"refuse", "", [](Json, const CallContext&) -> Result<Json> {
                                       return resource_exhausted("no more", Json{{"reason", "quota"}});
                                     }})
                  .ok());
  ASSERT_TRUE(pit.register_function({"throws", "", [](Json, const CallContext&) -> Result<Json> {
                                       throw std::runtime_error("boom");
                                     }})
                  .ok());
  auto unknown = call(pit, "call_host", {{"function", "nope"}});
  EXPECT_EQ(unknown.status().code(), Code::kNotFound) << unknown.status();
  EXPECT_EQ(unknown.status().details()["reason"], "unknown_function");

  auto refused = call(pit, "call_host", {{"function", "refuse"}});
  EXPECT_EQ(refused.status().code(), Code::kResourceExhausted) << refused.status();
  EXPECT_EQ(refused.status().details()["reason"], "quota");

  auto threw = call(pit, "call_host", {{"function", "throws"}});
  EXPECT_EQ(threw.status().code(), Code::kInternal) << threw.status();
  EXPECT_EQ(threw.status().details()["reason"], "host_function_threw");
  EXPECT_NE(threw.status().message().find("boom"), std::string::npos);

  ASSERT_TRUE(pit.unregister_function("refuse").ok());
  EXPECT_EQ(call(pit, "call_host", {{"function", "refuse"}}).status().code(), Code::kNotFound);
  EXPECT_TRUE(call(pit, "ping").ok());
}

TEST_F(HostCallTest, TheFunctionSeesItsCallerAndBytesTravelBothWays) {
  Snakepit pit = start_or_die(generic_options(1));
  ASSERT_TRUE(pit.register_function({"reverse", "", [](Json args, const CallContext& context) -> Result<Json> {
                                       std::string data(bytes_view(args["data"]));
                                       std::reverse(data.begin(), data.end());
                                       return Json{{"data", bytes(data)}, {"command", context.command}};
                                     }})
                  .ok());
  auto result = call(pit, "call_host", {{"function", "reverse"}, {"args", {{"data", bytes("abc")}}}});
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(bytes_view((*result)["result"]["data"]), "cba");
  EXPECT_EQ((*result)["result"]["command"], "call_host");
}

TEST_F(HostCallTest, ASlowFunctionDoesNotHoldUpOtherWorkers) {
  Snakepit pit = start_or_die(generic_options(2));
  std::promise<void> release;
  auto released = release.get_future().share();
  ASSERT_TRUE(pit.register_function({"slow", "", [released](Json, const CallContext&) -> Result<Json> {
                                       released.wait_for(kHangBound);
                                       return Json("late");
                                     }})
                  .ok());
  auto slow = pit.execute_future("call_host", {{"function", "slow"}});
  // The loop keeps serving the other worker while the function waits.
  for (int i = 0; i < 20; ++i) ASSERT_TRUE(call(pit, "ping").ok());
  EXPECT_EQ(slow.wait_for(0ms), std::future_status::timeout);
  release.set_value();
  auto result = wait_result(slow);
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ((*result)["result"], "late");
}

TEST_F(HostCallTest, AWorkerCannotFloodTheHostWithCalls) {
  Options options = misbehaving_options(1);
  options.pool.max_calls_in_flight = 16;
  Snakepit pit = start_or_die(options);
  std::promise<void> entered, release;
  std::atomic<bool> first{true};
  auto released = release.get_future().share();
  ASSERT_TRUE(pit.register_function({"held", "", [&, released](Json, const CallContext&) -> Result<Json> {
                                       if (first.exchange(false)) entered.set_value();
                                       released.wait_for(kHangBound);
                                       return Json(true);
                                     }})
                  .ok());
  // 20 calls arrive in one read: 16 are taken, 4 refused at once.
  auto flood = pit.execute_future("flood_calls", {{"n", 20}, {"function", "held"}});
  ASSERT_EQ(entered.get_future().wait_for(kHangBound), std::future_status::ready);
  release.set_value();
  auto result = wait_result(flood);
  ASSERT_TRUE(result.ok()) << result.status();
  const Json& errors = (*result)["errors"];
  EXPECT_EQ(errors.size(), 4u) << errors;
  for (const auto& [id, reason] : errors.items()) EXPECT_EQ(reason, "too_many_calls") << id;
}

class BinaryTest : public HygieneCheckedTest {};

std::string pattern(std::size_t size) {
  std::string data(size, '\0');
  std::uint32_t x = 2463534242u;
  for (auto& c : data) {  // xorshift: every byte value, no repeating period that would hide a shift
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    c = static_cast<char>(x);
  }
  return data;
}

TEST_F(BinaryTest, RoundTripsOfZeroOneAMebibyteAndThirtyTwoMebibytes) {
  Snakepit pit = start_or_die(generic_options(1));
  for (std::size_t size : {std::size_t{0}, std::size_t{1}, std::size_t{1} << 20, std::size_t{32} << 20}) {
    SCOPED_TRACE(size);
    const std::string data = pattern(size);
    auto result = call(pit, "transform", {{"data", bytes(data)}, {"op", "invert"}});
    ASSERT_TRUE(result.ok()) << result.status();
    ASSERT_TRUE((*result)["data"].is_binary());
    const std::string_view back = bytes_view((*result)["data"]);
    ASSERT_EQ(back.size(), size);
    std::size_t mismatches = 0;
    for (std::size_t i = 0; i < size; ++i) mismatches += static_cast<char>(~data[i]) != back[i];
    EXPECT_EQ(mismatches, 0u);
    EXPECT_EQ((*result)["size"], size);
    // The worker's checksum of what it received equals its checksum of the same bytes sent again.
    auto sum = call(pit, "checksum", {{"data", bytes(data)}});
    ASSERT_TRUE(sum.ok()) << sum.status();
    EXPECT_EQ((*sum)["size"], size);
    EXPECT_EQ((*sum)["sha256"].get<std::string>().size(), 64u);
  }
}

TEST_F(BinaryTest, BinaryChunksAndTooLargePayloads) {
  Options options = generic_options(1);
  options.pool.max_frame_bytes = 1 << 20;
  Snakepit pit = start_or_die(options);
  std::vector<std::string> chunks;
  auto result = pit.execute_stream("stream_bytes", {{"n", 3}, {"size", 1000}}, [&](Json chunk) {
    chunks.emplace_back(bytes_view(chunk));
    return StreamControl::kContinue;
  });
  ASSERT_TRUE(result.ok()) << result.status();
  ASSERT_EQ(chunks.size(), 3u);
  EXPECT_EQ(chunks[2], std::string(1000, '\x02'));

  auto too_large = call(pit, "checksum", {{"data", bytes(std::string(2 << 20, 'x'))}});
  EXPECT_EQ(too_large.status().code(), Code::kResourceExhausted);
  EXPECT_EQ(too_large.status().details()["reason"], "request_too_large");
  EXPECT_TRUE(call(pit, "ping").ok());
}

}  // namespace
}  // namespace snakepit::testing
