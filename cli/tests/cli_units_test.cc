// Unit tests of the CLI's pieces that need no pool.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "batch_request.h"
#include "exit_codes.h"
#include "line_reader.h"
#include "split_command_line.h"

namespace snakepit::cli {
namespace {

using Words = std::vector<std::string>;

Words split_ok(std::string_view line) {
  auto words = split_command_line(line);
  EXPECT_TRUE(words.ok()) << words.status();
  return words.ok() ? *words : Words{};
}

TEST(SplitCommandLine, SplitsOnBlanks) {
  EXPECT_EQ(split_ok("  python3   -u\tworker.py \n"), (Words{"python3", "-u", "worker.py"}));
}

TEST(SplitCommandLine, Quotes) {
  EXPECT_EQ(split_ok(R"(prog 'a b' "c d" e'f g'h)"), (Words{"prog", "a b", "c d", "ef gh"}));
  EXPECT_EQ(split_ok(R"(prog '' "")"), (Words{"prog", "", ""}));
  EXPECT_EQ(split_ok(R"(prog '$HOME "x"' "it's")"), (Words{"prog", "$HOME \"x\"", "it's"}));
}

TEST(SplitCommandLine, Backslashes) {
  EXPECT_EQ(split_ok(R"(prog a\ b \'q\' \\)"), (Words{"prog", "a b", "'q'", "\\"}));
  EXPECT_EQ(split_ok(R"(prog "a\"b\\c\d")"), (Words{"prog", "a\"b\\c\\d"}));
  EXPECT_EQ(split_ok(R"(prog 'a\b')"), (Words{"prog", "a\\b"}));
}

TEST(SplitCommandLine, Errors) {
  for (std::string_view bad : {"prog 'open", "prog \"open", "prog \"a\\\"", "prog \\", "", "  "}) {
    auto words = split_command_line(bad);
    ASSERT_FALSE(words.ok()) << bad;
    EXPECT_EQ(words.status().code(), Code::kInvalidArgument) << bad;
  }
}

TEST(ParseBatchRequest, FullLine) {
  auto request = parse_batch_request(
      R"({"id":[1],"command":"sleep","args":{"ms":5},"timeout_ms":250,"idempotent":true})", 1);
  EXPECT_EQ(request.error, "");
  EXPECT_EQ(request.id, Json::array({1}));
  EXPECT_EQ(request.command, "sleep");
  EXPECT_EQ(request.args, (Json{{"ms", 5}}));
  EXPECT_EQ(request.options.timeout, std::chrono::milliseconds(250));
  EXPECT_TRUE(request.options.idempotent);
}

TEST(ParseBatchRequest, Defaults) {
  auto request = parse_batch_request(R"({"command":"ping"})", 1);
  EXPECT_EQ(request.error, "");
  EXPECT_TRUE(request.id.is_null());
  EXPECT_EQ(request.args, Json::object());
  EXPECT_FALSE(request.options.timeout.has_value());
}

TEST(ParseBatchRequest, BadLinesKeepTheirId) {
  struct Case {
    const char* line;
    Json id;
    const char* error_part;
  };
  const std::vector<Case> cases = {
      {"nope", nullptr, "line 7: invalid JSON"},
      {"[1]", nullptr, "line 7: expected a JSON object"},
      {R"({"id":3})", 3, "\"command\""},
      {R"({"id":"x","command":""})", "x", "\"command\""},
      {R"({"id":4,"command":"a","args":[1]})", 4, "\"args\""},
      {R"({"id":5,"command":"a","timeout_ms":0})", 5, "\"timeout_ms\""},
      {R"({"id":6,"command":"a","timeout_ms":1.5})", 6, "\"timeout_ms\""},
      {R"({"id":7,"command":"a","timeout_ms":99999999999})", 7, "\"timeout_ms\""},
      {R"({"id":8,"command":"a","arg":{}})", 8, "unknown key \"arg\""},
  };
  for (const auto& c : cases) {
    auto request = parse_batch_request(c.line, 7);
    EXPECT_NE(request.error.find(c.error_part), std::string::npos)
        << c.line << ": " << request.error;
    EXPECT_EQ(request.error.rfind("line 7: ", 0), 0u) << request.error;
    EXPECT_EQ(request.id, c.id) << c.line;
  }
}

TEST(ParseBatchRequest, Session) {
  auto request =
      parse_batch_request(R"({"id":1,"command":"local_counter","session":"user-42"})", 1);
  EXPECT_EQ(request.error, "");
  ASSERT_TRUE(request.session.has_value());
  EXPECT_EQ(*request.session, "user-42");
  EXPECT_FALSE(parse_batch_request(R"({"command":"ping"})", 1).session.has_value());
  // The id itself is the pool's to check (reason bad_session_id), not the parser's.
  auto spaced = parse_batch_request(R"({"command":"ping","session":"a b"})", 1);
  EXPECT_EQ(spaced.error, "");
  EXPECT_EQ(spaced.session, "a b");
}

TEST(ParseBatchRequest, SessionMustBeAString) {
  for (const char* value : {"7", "null", "true", "[\"a\"]", "{\"id\":\"a\"}"}) {
    const std::string line = std::string(R"({"id":9,"command":"ping","session":)") + value + "}";
    auto request = parse_batch_request(line, 3);
    EXPECT_EQ(request.error, "line 3: \"session\" must be a string (a session id)") << line;
    EXPECT_EQ(request.id, 9) << line;
    EXPECT_FALSE(request.session.has_value()) << line;
  }
}

TEST(ParseBatchRequest, Pool) {
  auto request = parse_batch_request(R"({"id":1,"command":"ping","pool":"js"})", 1);
  EXPECT_EQ(request.error, "");
  EXPECT_EQ(request.pool, "js");
  EXPECT_EQ(request.options.pool, "js");
  EXPECT_FALSE(parse_batch_request(R"({"command":"ping"})", 1).pool.has_value());
  auto bad = parse_batch_request(R"({"id":2,"command":"ping","pool":3})", 4);
  EXPECT_EQ(bad.error, "line 4: \"pool\" must be a string (a pool name)");
  EXPECT_EQ(bad.id, 2);
}

TEST(BatchResponse, SessionLineHasWorker) {
  SessionReply reply;
  reply.value = Json{{"count", 1}};
  reply.worker_id = "default-0.1";
  reply.worker_pid = 123;
  reply.session_created = true;
  EXPECT_EQ(batch_session_response("a", reply),
            R"({"id":"a","ok":true,"result":{"count":1},"worker":{"id":"default-0.1","pid":123}})");
  reply.previous_worker_id = "default-1.1";
  EXPECT_EQ(batch_session_response(1, reply),
            R"({"id":1,"ok":true,"result":{"count":1},"worker":{"id":"default-0.1","pid":123},)"
            R"("previous_worker":"default-1.1"})");
  const Status lost(Code::kUnavailable, "gone", Json{{"reason", "session_worker_lost"}});
  EXPECT_EQ(batch_session_response(2, lost), batch_response(2, lost));
}

TEST(BatchResponse, KeyOrderAndShape) {
  EXPECT_EQ(batch_response("a", Json{{"x", 1}}), R"({"id":"a","ok":true,"result":{"x":1}})");
  const auto line = Json::parse(batch_response(2, Status(Code::kNotFound, "gone")));
  EXPECT_EQ(line["id"], 2);
  EXPECT_EQ(line["ok"], false);
  EXPECT_EQ(line["error"]["code"], "NotFound");
  EXPECT_EQ(line["error"]["message"], "gone");
}

TEST(ExitCodes, Table) {
  EXPECT_EQ(exit_code(Code::kOk), 0);
  EXPECT_EQ(exit_code(Code::kInvalidArgument), 10);
  EXPECT_EQ(exit_code(Code::kNotFound), 11);
  EXPECT_EQ(exit_code(Code::kDeadlineExceeded), 12);
  EXPECT_EQ(exit_code(Code::kResourceExhausted), 13);
  EXPECT_EQ(exit_code(Code::kUnavailable), 14);
  EXPECT_EQ(exit_code(Code::kCancelled), 15);
  EXPECT_EQ(exit_code(Code::kFailedPrecondition), 16);
  EXPECT_EQ(exit_code(Code::kInternal), 17);
  EXPECT_EQ(signal_exit_code(2), 130);
  EXPECT_EQ(signal_exit_code(15), 143);
}

// Feeds `text` through a pipe into a LineReader and returns what it yields.
std::vector<std::string> read_lines(const std::string& text, std::size_t max_line,
                                    std::vector<bool>* too_long = nullptr) {
  int fds[2];
  EXPECT_EQ(pipe2(fds, O_CLOEXEC), 0);
  EXPECT_EQ(write(fds[1], text.data(), text.size()), static_cast<ssize_t>(text.size()));
  close(fds[1]);
  LineReader reader(fds[0], -1, max_line);
  std::vector<std::string> lines;
  while (auto line = reader.next()) {
    lines.push_back(*line);
    if (too_long) too_long->push_back(reader.last_too_long());
  }
  close(fds[0]);
  return lines;
}

TEST(LineReader, LinesCrLfAndLastLine) {
  EXPECT_EQ(read_lines("a\r\n\nb\nlast", 100), (Words{"a", "", "b", "last"}));
  EXPECT_EQ(read_lines("", 100), Words{});
}

TEST(LineReader, DropsOverlongLines) {
  std::vector<bool> too_long;
  const auto lines = read_lines("short\n" + std::string(300, 'x') + "\nok\n", 100, &too_long);
  EXPECT_EQ(lines, (Words{"short", "", "ok"}));
  EXPECT_EQ(too_long, (std::vector<bool>{false, true, false}));
}

TEST(LineReader, StopsOnInterrupt) {
  int input[2];
  int interrupt[2];
  ASSERT_EQ(pipe2(input, O_CLOEXEC), 0);
  ASSERT_EQ(pipe2(interrupt, O_CLOEXEC), 0);
  ASSERT_EQ(write(interrupt[1], "!", 1), 1);
  LineReader reader(input[0], interrupt[0], 100);
  EXPECT_FALSE(reader.next().has_value());  // input stays open: only the interrupt ends it
  EXPECT_TRUE(reader.interrupted());
  for (int fd : {input[0], input[1], interrupt[0], interrupt[1]}) close(fd);
}

}  // namespace
}  // namespace snakepit::cli
