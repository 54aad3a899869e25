// Node.js workers (bridges/node) served by the same host code as Python
// ones: plain commands and errors, streams, byte strings, host calls and
// session data; and a Python and a Node pool serving concurrently in one process.
#include <future>
#include <thread>

#include <gtest/gtest.h>

#include "snakepit/snakepit.h"
#include "tests/integration/test_support.h"

namespace snakepit::testing {
namespace {

class NodePoolTest : public HygieneCheckedTest {};

Options node_options(std::size_t size) {
  Options options = base_options(size, "node");
  options.pool.adapter = adapters::node();
  return options;
}

TEST_F(NodePoolTest, CommandsErrorsStreamsBytesCallsAndSessions) {
  Snakepit pit = start_or_die(node_options(2));
  auto pong = call(pit, "ping");
  ASSERT_TRUE(pong.ok()) << pong.status();
  EXPECT_EQ((*pong)["status"], "ok");
  EXPECT_TRUE((*pong).contains("node"));

  auto divided = call(pit, "compute", {{"operation", "divide"}, {"a", 1}, {"b", 0}});
  EXPECT_EQ(divided.status().code(), Code::kInvalidArgument) << divided.status();
  EXPECT_EQ(call(pit, "no_such_command").status().code(), Code::kInvalidArgument);

  std::vector<Json> chunks;
  auto streamed = pit.execute_stream("count", {{"n", 3}}, [&](Json chunk) {
    chunks.push_back(chunk);
    return StreamControl::kContinue;
  });
  ASSERT_TRUE(streamed.ok()) << streamed.status();
  EXPECT_EQ(chunks, (std::vector<Json>{{{"i", 0}}, {{"i", 1}}, {{"i", 2}}}));
  EXPECT_EQ(*streamed, (Json{{"count", 3}}));

  const std::string data(1 << 20, '\x5a');
  auto inverted = call(pit, "transform", {{"data", bytes(data)}, {"op", "invert"}});
  ASSERT_TRUE(inverted.ok()) << inverted.status();
  EXPECT_EQ(bytes_view((*inverted)["data"]), std::string(1 << 20, '\xa5'));

  ASSERT_TRUE(pit.register_function({"twice", "", [](Json args, const CallContext&) -> Result<Json> {
                                       return Json(args["x"].get<int>() * 2);
                                     }})
                  .ok());
  auto called = call(pit, "call_host", {{"function", "twice"}, {"args", {{"x", 21}}}});
  ASSERT_TRUE(called.ok()) << called.status();
  EXPECT_EQ((*called)["result"], 42);

  auto put = pit.execute_in_session("n-1", "session_put", {{"key", "k"}, {"value", "from node"}});
  ASSERT_TRUE(put.ok()) << put.status();
  auto stored = pit.sessions()->read("n-1", {"k"});
  ASSERT_TRUE(stored.ok()) << stored.status();
  EXPECT_EQ(stored->values["k"], "from node");
}

TEST_F(NodePoolTest, PythonAndNodePoolsServeConcurrentlyInOneHost) {
  Snakepit python = start_or_die(generic_options(2, "python"));
  Snakepit node = start_or_die(node_options(2));
  auto hammer = [](Snakepit& pit) {
    int ok = 0;
    for (int i = 0; i < 200; ++i) ok += call(pit, "echo", {{"i", i}}).ok() ? 1 : 0;
    return ok;
  };
  auto on_python = std::async(std::launch::async, hammer, std::ref(python));
  auto on_node = std::async(std::launch::async, hammer, std::ref(node));
  EXPECT_EQ(on_python.get(), 200);
  EXPECT_EQ(on_node.get(), 200);
  EXPECT_EQ(python.stats().succeeded, 200u);
  EXPECT_EQ(node.stats().succeeded, 200u);
}

}  // namespace
}  // namespace snakepit::testing
