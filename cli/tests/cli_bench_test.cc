// Black-box tests of `snakepit bench`: the shape of its JSON lines and its
// exit codes, never its timings (the machine decides those).
#include <fcntl.h>
#include <gtest/gtest.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

extern char** environ;

namespace {

using Json = nlohmann::json;

struct Outcome {
  int exit_code = -1;
  std::vector<std::string> lines;  // stdout
  std::string err;
};

// Runs the binary with `args`; stdout is read to its end, stderr goes to a file.
Outcome bench(std::vector<std::string> args) {
  const std::string err_path = "/tmp/snakepit_cli_bench_test_" + std::to_string(::getpid()) + ".err";
  int out[2];
  EXPECT_EQ(::pipe2(out, O_CLOEXEC), 0);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, out[1], 1);
  posix_spawn_file_actions_addopen(&actions, 2, err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  args.insert(args.begin(), {SNAKEPIT_CLI_PATH, "bench"});
  std::vector<char*> argv;
  for (auto& arg : args) argv.push_back(arg.data());
  argv.push_back(nullptr);
  pid_t pid = -1;
  EXPECT_EQ(::posix_spawn(&pid, SNAKEPIT_CLI_PATH, &actions, nullptr, argv.data(), environ), 0);
  posix_spawn_file_actions_destroy(&actions);
  ::close(out[1]);
  Outcome outcome;
  std::FILE* in = ::fdopen(out[0], "r");
  char* line = nullptr;
  std::size_t capacity = 0;
  for (ssize_t n; (n = ::getline(&line, &capacity, in)) > 0;) {
    outcome.lines.emplace_back(line, static_cast<std::size_t>(n) - (line[n - 1] == '\n' ? 1 : 0));
  }
  std::free(line);
  std::fclose(in);
  int status = 0;
  ::waitpid(pid, &status, 0);
  outcome.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 1000 + WTERMSIG(status);
  std::ifstream file(err_path);
  std::stringstream text;
  text << file.rdbuf();
  outcome.err = text.str();
  std::remove(err_path.c_str());
  return outcome;
}

// Every line is a JSON object; returns the pool's `ping` lines after
// checking each carries the documented keys, numbers where numbers belong.
std::vector<Json> ping_lines(const Outcome& outcome) {
  std::vector<Json> pings;
  for (const auto& line : outcome.lines) {
    const auto record = Json::parse(line, nullptr, /*allow_exceptions=*/false);
    EXPECT_TRUE(record.is_object()) << "not a JSON object: " << line;
    if (!record.is_object()) continue;
    EXPECT_TRUE(record.contains("scenario")) << line;
    EXPECT_EQ(record.value("errors", -1), 0) << line << "\n" << outcome.err;
    if (record.value("scenario", "") != "ping") continue;
    for (const char* key : {"size", "concurrency", "requests", "throughput_rps", "p50_us", "p90_us", "p99_us",
                            "p999_us", "errors", "host_cpu_us_per_req", "worker_cpu_us_per_req", "rounds"}) {
      EXPECT_TRUE(record.contains(key) && record[key].is_number()) << key << " in " << line;
    }
    EXPECT_EQ(record.value("rounds", 0), 1) << line;
    EXPECT_GT(record.value("requests", 0), 0) << line;
    if (record.contains("floor_ratio")) {
      EXPECT_TRUE(record["floor_ratio"].is_object()) << line;
    }
    pings.push_back(record);
  }
  return pings;
}

TEST(CliBench, QuickPingPrintsJsonLinesWithTheKeys) {
  const auto outcome = bench({"--quick", "--scenarios", "ping", "--rounds", "1", "--json"});
  EXPECT_EQ(outcome.exit_code, 0) << outcome.err;
  const auto pings = ping_lines(outcome);
  // --quick: pools of 1 and 2, concurrency 1 and 4.
  ASSERT_EQ(pings.size(), 4u) << outcome.err;
  std::vector<std::pair<int, int>> shapes;
  for (const auto& p : pings) shapes.emplace_back(p["size"].get<int>(), p["concurrency"].get<int>());
  EXPECT_EQ(shapes, (std::vector<std::pair<int, int>>{{1, 1}, {1, 4}, {2, 1}, {2, 4}}));
}

TEST(CliBench, MissingToolIsSkippedNotFatal) {
  const auto outcome =
      bench({"--quick", "--scenarios", "ping", "--rounds", "1", "--json", "--tools-dir", "/nonexistent-snakepit"});
  EXPECT_EQ(outcome.exit_code, 0) << outcome.err;
  const auto pings = ping_lines(outcome);
  EXPECT_EQ(pings.size(), 4u) << outcome.err;
  for (const auto& p : pings) EXPECT_FALSE(p.contains("floor_ratio")) << p;
  EXPECT_NE(outcome.err.find("skipped"), std::string::npos) << outcome.err;
  EXPECT_NE(outcome.err.find("snakepit_pipe_floor"), std::string::npos) << outcome.err;
}

TEST(CliBench, BadFlagsAreUsageErrors) {
  EXPECT_EQ(bench({"--scenarios", "bogus"}).exit_code, 2);
  EXPECT_EQ(bench({"--rounds", "0"}).exit_code, 2);
  EXPECT_EQ(bench({"--requests", "0"}).exit_code, 2);
}

}  // namespace
