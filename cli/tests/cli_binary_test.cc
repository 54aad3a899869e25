// Black-box tests of the `snakepit` binary: exit codes, output formats and
// signal handling, with real Python workers.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

extern char** environ;

namespace {

using Json = nlohmann::json;

// One run of the binary: stdin and stdout are pipes, stderr goes to a file.
class CliProcess {
 public:
  explicit CliProcess(std::vector<std::string> args) {
    int in[2];
    int out[2];
    EXPECT_EQ(pipe2(in, O_CLOEXEC), 0);
    EXPECT_EQ(pipe2(out, O_CLOEXEC), 0);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, in[0], 0);
    posix_spawn_file_actions_adddup2(&actions, out[1], 1);
    posix_spawn_file_actions_addopen(&actions, 2, stderr_path_.c_str(),
                                     O_WRONLY | O_CREAT | O_TRUNC, 0600);
    args.insert(args.begin(), SNAKEPIT_CLI_PATH);
    std::vector<char*> argv;
    for (auto& arg : args) argv.push_back(arg.data());
    argv.push_back(nullptr);
    EXPECT_EQ(posix_spawn(&pid_, SNAKEPIT_CLI_PATH, &actions, nullptr, argv.data(), environ), 0);
    posix_spawn_file_actions_destroy(&actions);
    close(in[0]);
    close(out[1]);
    stdin_ = in[1];
    stdout_ = fdopen(out[0], "r");
  }
  ~CliProcess() {
    close_stdin();
    if (pid_ > 0) finish();
    std::fclose(stdout_);
    std::remove(stderr_path_.c_str());
  }

  void write_stdin(const std::string& text) {
    ASSERT_EQ(write(stdin_, text.data(), text.size()), static_cast<ssize_t>(text.size()));
  }
  void close_stdin() {
    if (stdin_ >= 0) close(stdin_);
    stdin_ = -1;
  }
  // The next stdout line without "\n"; nullopt at end of output.
  std::optional<std::string> read_line() {
    char* line = nullptr;
    std::size_t capacity = 0;
    const ssize_t n = getline(&line, &capacity, stdout_);
    std::optional<std::string> text;
    if (n > 0) text.emplace(line, static_cast<std::size_t>(n));
    std::free(line);
    if (text && !text->empty() && text->back() == '\n') text->pop_back();
    return text;
  }
  void kill(int signal_number) { ::kill(pid_, signal_number); }
  // Closes stdin, reads stdout to its end, waits; returns the exit code.
  int finish() {
    close_stdin();
    while (auto line = read_line()) out_lines_.push_back(*line);
    int status = 0;
    waitpid(pid_, &status, 0);
    pid_ = -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 1000 + WTERMSIG(status);
  }
  const std::vector<std::string>& out_lines() const { return out_lines_; }
  std::string err() const {
    std::ifstream file(stderr_path_);
    std::stringstream text;
    text << file.rdbuf();
    return text.str();
  }

 private:
  std::string stderr_path_ = "/tmp/snakepit_cli_test_" + std::to_string(getpid()) + "_" +
                             std::to_string(reinterpret_cast<std::uintptr_t>(this)) + ".err";
  pid_t pid_ = -1;
  int stdin_ = -1;
  std::FILE* stdout_ = nullptr;
  std::vector<std::string> out_lines_;
};

int run(std::vector<std::string> args) { return CliProcess(std::move(args)).finish(); }

TEST(CliUsage, ExitCodeTwo) {
  EXPECT_EQ(run({}), 2);
  EXPECT_EQ(run({"frobnicate"}), 2);
  EXPECT_EQ(run({"exec"}), 2);
  EXPECT_EQ(run({"exec", "--no-such-flag", "ping"}), 2);
  EXPECT_EQ(run({"exec", "--size", "0", "ping"}), 2);
  EXPECT_EQ(run({"exec", "--protocol", "v9", "ping"}), 2);
  EXPECT_EQ(run({"exec", "--log-level", "loud", "ping"}), 2);
  EXPECT_EQ(run({"exec", "--exec", "prog 'open", "ping"}), 2);
  EXPECT_EQ(run({"exec", "--adapter", "exec", "ping"}), 2);
  EXPECT_EQ(run({"exec", "--batch", "ping"}), 2);
  EXPECT_EQ(run({"exec", "--stats", "ping"}), 2);
  EXPECT_EQ(run({"demo", "--size", "x"}), 2);
  EXPECT_EQ(run({"demo", "bogus"}), 2);
  EXPECT_EQ(run({"exec", "--session", "a b", "ping"}), 2);  // not a session id
  EXPECT_EQ(run({"exec", "--session", "", "ping"}), 2);
  EXPECT_EQ(run({"exec", "--verbose", "ping"}), 2);           // needs --session
  EXPECT_EQ(run({"exec", "--batch", "--session", "s1"}), 2);  // lines carry their own
}

TEST(CliUsage, BadAffinityNamesTheModes) {
  CliProcess cli({"exec", "--affinity", "bogus", "ping"});
  EXPECT_EQ(cli.finish(), 2);
  EXPECT_TRUE(cli.out_lines().empty());
  for (const char* mode : {"--affinity", "hint", "strict_queue", "strict_fail_fast"}) {
    EXPECT_NE(cli.err().find(mode), std::string::npos) << cli.err();
  }
}

TEST(CliUsage, BadPlacementNamesTheValues) {
  for (const char* value : {"per-core", "numa"}) {
    CliProcess cli({"exec", "--placement", value, "ping"});
    EXPECT_EQ(cli.finish(), 2) << value;
    EXPECT_TRUE(cli.out_lines().empty());
    for (const char* word : {"--placement", "shared", "per_core"}) {
      EXPECT_NE(cli.err().find(word), std::string::npos) << cli.err();
    }
  }
}

TEST(CliUsage, BadArgsJson) {
  for (const char* args : {"{bad", "[1]", "3"}) {
    CliProcess cli({"exec", "echo", args});
    EXPECT_EQ(cli.finish(), 2) << args;
    EXPECT_TRUE(cli.out_lines().empty());
    EXPECT_NE(cli.err().find("ARGS_JSON"), std::string::npos) << cli.err();
  }
}

TEST(CliUsage, HelpEverywhere) {
  for (auto args :
       std::vector<std::vector<std::string>>{{"--help"}, {"exec", "--help"}, {"demo", "--help"}}) {
    CliProcess cli(args);
    EXPECT_EQ(cli.finish(), 0);
    std::string out;
    for (const auto& line : cli.out_lines()) out += line + "\n";
    EXPECT_NE(out.find("143"), std::string::npos) << out;  // the exit code table
  }
}

TEST(CliCleanup, ReportsAnEmptyDataDirAsClean) {
  char pattern[] = "/tmp/snakepit-cli-cleanup-XXXXXX";
  ASSERT_NE(::mkdtemp(pattern), nullptr);
  for (bool dry_run : {true, false}) {
    std::vector<std::string> args = {"cleanup", "--data-dir", pattern};
    if (dry_run) args.push_back("--dry-run");
    CliProcess cli(args);
    EXPECT_EQ(cli.finish(), 0) << cli.err();
    ASSERT_EQ(cli.out_lines().size(), 1u);
    const auto report = Json::parse(cli.out_lines()[0]);
    EXPECT_EQ(report["data_dir"], pattern);
    EXPECT_EQ(report["runs_seen"], 0);
    // Orphans of other (dead) hosts found through their marker may be killed too.
    EXPECT_TRUE(report["processes_killed"].is_number()) << report;
    EXPECT_TRUE(report["actions"].is_array()) << report;
  }
  ::rmdir((std::string(pattern) + "/runs").c_str());
  ::rmdir(pattern);
}

TEST(CliExec, PrintsResultAsOneJsonLine) {
  CliProcess cli({"exec", "compute", R"({"operation":"add","a":1,"b":2})"});
  EXPECT_EQ(cli.finish(), 0) << cli.err();
  ASSERT_EQ(cli.out_lines().size(), 1u);
  EXPECT_EQ(Json::parse(cli.out_lines()[0])["result"], 3);
}

TEST(CliExec, ErrorJsonAndExitCode) {
  CliProcess cli({"exec", "no_such_command"});
  EXPECT_EQ(cli.finish(), 10);
  ASSERT_EQ(cli.out_lines().size(), 1u);
  const auto error = Json::parse(cli.out_lines()[0]);
  EXPECT_EQ(error["code"], "InvalidArgument");
  EXPECT_TRUE(error.contains("message"));
  EXPECT_TRUE(error.contains("details"));
}

TEST(CliExec, SessionPrintsTheValueAndVerboseTheWorker) {
  CliProcess cli(
      {"exec", "--session", "s1", "--affinity", "strict_fail_fast", "-v", "local_counter"});
  EXPECT_EQ(cli.finish(), 0) << cli.err();
  ASSERT_EQ(cli.out_lines().size(), 1u);
  const auto result = Json::parse(cli.out_lines()[0]);
  EXPECT_EQ(result["count"], 1);
  EXPECT_EQ(result["session_id"], "s1");
  const std::string where = "session s1 on worker default-0.1 (pid " +
                            std::to_string(result["pid"].get<int>()) + "), new session";
  EXPECT_NE(cli.err().find(where), std::string::npos) << cli.err();
}

TEST(CliExec, StreamPrintsEachChunkThenTheFinalStatus) {
  CliProcess cli({"exec", "count", "{\"n\": 3}", "--stream"});
  EXPECT_EQ(cli.finish(), 0) << cli.err();
  const auto lines = cli.out_lines();
  ASSERT_EQ(lines.size(), 4u);
  for (int i = 0; i < 3; ++i) EXPECT_EQ(Json::parse(lines[i]), (Json{{"chunk", {{"i", i}}}}));
  EXPECT_EQ(Json::parse(lines[3]), (Json{{"result", {{"count", 3}}}}));

  CliProcess crashing({"exec", "count", "{\"n\": 5, \"crash_after\": 1}", "--stream"});
  EXPECT_EQ(crashing.finish(), 14) << crashing.err();  // Unavailable
  const auto crashed = crashing.out_lines();
  ASSERT_EQ(crashed.size(), 2u);
  EXPECT_EQ(Json::parse(crashed[0]), (Json{{"chunk", {{"i", 0}}}}));
  EXPECT_EQ(Json::parse(crashed[1])["error"]["code"], "Unavailable");

  CliProcess bytes({"exec", "stream_bytes", "{\"n\": 1, \"size\": 3}", "--stream"});
  EXPECT_EQ(bytes.finish(), 0) << bytes.err();
  ASSERT_FALSE(bytes.out_lines().empty());
  EXPECT_EQ(Json::parse(bytes.out_lines()[0]), (Json{{"chunk", {{"$base64", "AAAA"}}}}));
  EXPECT_EQ(run({"exec", "--batch", "--stream"}), 2);
}

TEST(CliExec, NodeWorkersWithAdapterNode) {
  CliProcess cli({"exec", "--adapter", "node", "ping"});
  EXPECT_EQ(cli.finish(), 0) << cli.err();
  ASSERT_EQ(cli.out_lines().size(), 1u);
  const auto result = Json::parse(cli.out_lines()[0]);
  EXPECT_EQ(result["status"], "ok");
  EXPECT_TRUE(result.contains("node")) << result;
}

TEST(CliExec, PoolStartFailureOnStderr) {
  CliProcess cli({"exec", "--exec", "/nonexistent/worker --flag", "ping"});
  EXPECT_EQ(cli.finish(), 11);
  EXPECT_TRUE(cli.out_lines().empty());
  EXPECT_NE(cli.err().find("\"code\":\"NotFound\""), std::string::npos) << cli.err();
}

TEST(CliBatch, AnswersEveryLineThenStats) {
  CliProcess cli({"exec", "--batch", "--size", "2", "--concurrency", "3", "--stats"});
  cli.write_stdin(
      "{\"id\":1,\"command\":\"ping\"}\n"
      "not json\n"
      "\n"
      "{\"id\":\"two\",\"command\":\"compute\",\"args\":{\"operation\":\"divide\",\"a\":1,\"b\":0}}"
      "\n"
      "{\"id\":[3],\"command\":\"sleep\",\"args\":{\"ms\":2000},\"timeout_ms\":50}\n"
      "{\"id\":4,\"command\":\"echo\",\"args\":{\"k\":\"v\"}}");
  EXPECT_EQ(cli.finish(), 0) << cli.err();
  const auto& lines = cli.out_lines();
  ASSERT_EQ(lines.size(), 6u);
  std::map<std::string, Json> by_id;
  for (std::size_t i = 0; i + 1 < lines.size(); ++i) {
    auto line = Json::parse(lines[i]);
    by_id[line["id"].dump()] = line;
  }
  EXPECT_EQ(by_id["1"]["ok"], true);
  EXPECT_EQ(by_id["null"]["error"]["code"], "InvalidArgument");
  EXPECT_EQ(by_id["null"]["error"]["message"].get<std::string>().rfind("line 2: ", 0), 0u);
  EXPECT_EQ(by_id["\"two\""]["error"]["code"], "InvalidArgument");
  EXPECT_EQ(by_id["[3]"]["error"]["code"], "DeadlineExceeded");
  EXPECT_EQ(by_id["4"]["result"], (Json{{"k", "v"}}));
  const auto stats = Json::parse(lines.back());
  ASSERT_TRUE(stats.contains("stats"));
  EXPECT_EQ(stats["stats"]["requests"], 4);
}

TEST(CliBatch, PerCorePlacementServesEveryLine) {
  CliProcess cli({"exec", "--batch", "--size", "2", "--concurrency", "4", "--placement", "per_core", "--stats"});
  std::string input;
  for (int i = 0; i < 20; ++i) input += Json{{"id", i}, {"command", "echo"}, {"args", {{"i", i}}}}.dump() + "\n";
  cli.write_stdin(input);
  EXPECT_EQ(cli.finish(), 0) << cli.err();
  const auto& lines = cli.out_lines();
  ASSERT_EQ(lines.size(), 21u);
  for (std::size_t i = 0; i + 1 < lines.size(); ++i) {
    const auto line = Json::parse(lines[i]);
    EXPECT_EQ(line["result"]["i"], line["id"]) << lines[i];
  }
  const auto stats = Json::parse(lines.back());
  EXPECT_EQ(stats["stats"]["requests"], 20);
  EXPECT_EQ(stats["stats"]["size"], 2);
}

// Parses the response lines (all but a last {"stats"} line) by their "id".
std::map<std::string, Json> responses_by_id(const std::vector<std::string>& lines) {
  std::map<std::string, Json> by_id;
  for (const auto& text : lines) {
    auto line = Json::parse(text);
    if (!line.contains("stats")) by_id[line["id"].dump()] = line;
  }
  return by_id;
}

TEST(CliBatch, SessionsKeepTheirWorker) {
  // strict_queue: a session's lines wait for its worker even when several
  // are in flight at once.
  CliProcess cli({"exec", "--batch", "--size", "2", "--concurrency", "4", "--affinity",
                  "strict_queue", "--stats"});
  std::string input;
  for (int round = 1; round <= 3; ++round) {
    for (const char* session : {"a", "b"}) {
      input += "{\"id\":\"" + std::string(session) + std::to_string(round) +
               "\",\"command\":\"local_counter\",\"session\":\"" + session + "\"}\n";
    }
  }
  input += "{\"id\":\"bad\",\"command\":\"local_counter\",\"session\":42}\n";
  input += "{\"id\":\"plain\",\"command\":\"ping\"}\n";
  cli.write_stdin(input);
  EXPECT_EQ(cli.finish(), 0) << cli.err();
  ASSERT_EQ(cli.out_lines().size(), 9u);
  auto by_id = responses_by_id(cli.out_lines());
  for (const char* session : {"a", "b"}) {
    const Json first = by_id["\"" + std::string(session) + "1\""];
    ASSERT_EQ(first["ok"], true) << first;
    const Json worker = first["worker"];
    ASSERT_TRUE(worker["pid"].is_number_integer()) << first;
    for (int round = 1; round <= 3; ++round) {
      const Json line = by_id["\"" + std::string(session) + std::to_string(round) + "\""];
      EXPECT_EQ(line["ok"], true) << line;
      EXPECT_EQ(line["worker"], worker) << line;
      EXPECT_EQ(line["result"]["pid"], worker["pid"]) << line;
      EXPECT_EQ(line["result"]["count"], round) << line;
      EXPECT_EQ(line["result"]["session_id"], session) << line;
      EXPECT_FALSE(line.contains("previous_worker")) << line;
    }
  }
  EXPECT_EQ(by_id["\"bad\""]["ok"], false);
  EXPECT_EQ(by_id["\"bad\""]["error"]["code"], "InvalidArgument");
  EXPECT_EQ(by_id["\"bad\""]["error"]["message"],
            "line 7: \"session\" must be a string (a session id)");
  EXPECT_EQ(by_id["\"plain\""]["ok"], true);
  EXPECT_FALSE(by_id["\"plain\""].contains("worker"));
  const auto stats = Json::parse(cli.out_lines().back())["stats"];
  EXPECT_EQ(stats["sessions"]["created"], 2) << stats;
  EXPECT_EQ(stats["sessions"]["current"], 2) << stats;
  EXPECT_EQ(stats["affinity"]["hits"], 4) << stats;  // every line after a session's first
  EXPECT_EQ(stats["affinity"]["rebinds"], 0) << stats;
}

TEST(CliBatch, HintMovesABusySessionAndSaysFromWhere) {
  // Line 2 arrives while line 1 keeps the session's worker busy: hint
  // affinity runs it on the other worker and moves the session there.
  CliProcess cli({"exec", "--batch", "--size", "2", "--concurrency", "2"});
  cli.write_stdin(
      "{\"id\":1,\"command\":\"sleep\",\"args\":{\"ms\":500},\"session\":\"s\"}\n"
      "{\"id\":2,\"command\":\"local_counter\",\"session\":\"s\"}\n");
  EXPECT_EQ(cli.finish(), 0) << cli.err();
  auto by_id = responses_by_id(cli.out_lines());
  ASSERT_EQ(by_id.size(), 2u);
  EXPECT_EQ(by_id["1"]["ok"], true) << by_id["1"];
  EXPECT_EQ(by_id["2"]["ok"], true) << by_id["2"];
  EXPECT_NE(by_id["2"]["worker"]["id"], by_id["1"]["worker"]["id"]);
  EXPECT_EQ(by_id["2"]["previous_worker"], by_id["1"]["worker"]["id"]);
  EXPECT_FALSE(by_id["1"].contains("previous_worker"));
}

TEST(CliBatch, SigtermShutsDownAndExits143) {
  CliProcess cli({"exec", "--batch", "--size", "1"});
  cli.write_stdin("{\"id\":1,\"command\":\"ping\"}\n");
  EXPECT_EQ(Json::parse(cli.read_line().value_or("{}"))["ok"], true);  // the pool is up
  cli.write_stdin("{\"id\":2,\"command\":\"sleep\",\"args\":{\"ms\":60000}}\n");
  cli.kill(SIGTERM);  // stdin stays open: only the signal can end the run
  const auto last = cli.read_line();
  EXPECT_EQ(cli.finish(), 143) << cli.err();
  // The sleep line may or may not have been read before the signal; if it
  // was, it is answered, and not with a result.
  if (last) {
    EXPECT_EQ(Json::parse(*last)["error"]["code"], "Unavailable");
  }
}

// A TOML file in a fresh directory, removed with the directory.
class ConfigFile {
 public:
  explicit ConfigFile(const std::string& text) {
    char pattern[] = "/tmp/snakepit-cli-config-XXXXXX";
    EXPECT_NE(::mkdtemp(pattern), nullptr);
    dir_ = pattern;
    std::ofstream(path()) << text;
  }
  ~ConfigFile() {
    std::remove(path().c_str());
    ::rmdir(dir_.c_str());
  }
  std::string path() const { return dir_ + "/snakepit.toml"; }

 private:
  std::string dir_;
};

constexpr const char* kTwoPools =
    "default_pool = \"py\"\n"
    "[pools.py]\nadapter = \"python\"\nsize = 1\n"
    "[pools.js]\nadapter = \"node\"\nsize = 1\n";

TEST(CliConfig, BadKeyIsInvalidArgumentNamingTheKey) {
  ConfigFile config("[pools.py]\nadapter = \"python\"\nsise = 2\n");
  CliProcess cli({"exec", "--config", config.path(), "ping"});
  EXPECT_EQ(cli.finish(), 10);  // InvalidArgument
  EXPECT_TRUE(cli.out_lines().empty());
  const auto error = Json::parse(cli.err().substr(0, cli.err().find('\n')));
  EXPECT_EQ(error["code"], "InvalidArgument");
  EXPECT_EQ(error["details"]["key"], "pools.py.sise");
  EXPECT_NE(error["message"].get<std::string>().find("pools.py.sise"), std::string::npos) << error;

  CliProcess missing({"exec", "--config", "/nonexistent/snakepit.toml", "ping"});
  EXPECT_EQ(missing.finish(), 11);  // NotFound
  EXPECT_NE(missing.err().find("\"code\":\"NotFound\""), std::string::npos) << missing.err();
}

TEST(CliConfig, ExcludesThePoolDefiningFlags) {
  ConfigFile config(kTwoPools);
  for (const char* flag : {"--size=2", "--adapter=node", "--module=m", "--exec=w", "--timeout-ms=5",
                           "--affinity=hint", "--python-path=d", "--placement=shared"}) {
    CliProcess cli({"exec", "--config", config.path(), flag, "ping"});
    EXPECT_EQ(cli.finish(), 2) << flag;
    EXPECT_NE(cli.err().find("--config"), std::string::npos) << cli.err();
  }
}

TEST(CliConfig, ExecRunsOnTheConfiguredPools) {
  ConfigFile config(kTwoPools);
  CliProcess cli({"exec", "--config", config.path(), "--log-level", "error", "ping"});
  EXPECT_EQ(cli.finish(), 0) << cli.err();
  ASSERT_EQ(cli.out_lines().size(), 1u);
  EXPECT_EQ(Json::parse(cli.out_lines()[0])["status"], "ok");

  // The default pool is py: its workers are named after it.
  CliProcess session({"exec", "--config", config.path(), "--session", "s1", "-v", "local_counter"});
  EXPECT_EQ(session.finish(), 0) << session.err();
  EXPECT_NE(session.err().find("on worker py-0.1"), std::string::npos) << session.err();
}

TEST(CliConfig, PoolFlagChoosesThePool) {
  ConfigFile config(kTwoPools);
  CliProcess node({"exec", "--config", config.path(), "--pool", "js", "ping"});
  EXPECT_EQ(node.finish(), 0) << node.err();
  ASSERT_EQ(node.out_lines().size(), 1u);
  EXPECT_TRUE(Json::parse(node.out_lines()[0]).contains("node")) << node.out_lines()[0];

  CliProcess stream({"exec", "--config", config.path(), "--pool", "js", "--stream", "count", "{\"n\": 2}"});
  EXPECT_EQ(stream.finish(), 0) << stream.err();
  EXPECT_EQ(stream.out_lines().size(), 3u);

  CliProcess unknown({"exec", "--config", config.path(), "--pool", "nope", "ping"});
  EXPECT_EQ(unknown.finish(), 11);  // NotFound
  ASSERT_EQ(unknown.out_lines().size(), 1u);
  const auto error = Json::parse(unknown.out_lines()[0]);
  EXPECT_EQ(error["code"], "NotFound") << error;
  EXPECT_EQ(error["details"]["reason"], "unknown_pool") << error;
}

TEST(CliConfig, BatchLinesNameTheirPool) {
  ConfigFile config(kTwoPools);
  CliProcess cli({"exec", "--config", config.path(), "--batch", "--pool", "js"});
  cli.write_stdin(
      "{\"id\":1,\"command\":\"ping\"}\n"
      "{\"id\":2,\"command\":\"ping\",\"pool\":\"py\"}\n"
      "{\"id\":3,\"command\":\"ping\",\"pool\":\"nope\"}\n"
      "{\"id\":4,\"command\":\"ping\",\"pool\":4}\n");
  EXPECT_EQ(cli.finish(), 0) << cli.err();
  auto by_id = responses_by_id(cli.out_lines());
  ASSERT_EQ(by_id.size(), 4u);
  EXPECT_TRUE(by_id["1"]["result"].contains("node")) << by_id["1"];     // --pool js
  EXPECT_FALSE(by_id["2"]["result"].contains("node")) << by_id["2"];    // "pool": "py"
  EXPECT_EQ(by_id["3"]["error"]["details"]["reason"], "unknown_pool") << by_id["3"];
  EXPECT_EQ(by_id["4"]["error"]["code"], "InvalidArgument") << by_id["4"];
}

// doctor --json: the checks of each pool, by name.
std::map<std::string, Json> doctor_checks(const Json& report, std::size_t pool) {
  std::map<std::string, Json> checks;
  for (const auto& check : report["pools"][pool]["checks"]) checks[check["name"]] = check;
  return checks;
}

TEST(CliDoctor, DefaultPythonPoolPasses) {
  CliProcess cli({"doctor", "--json"});
  EXPECT_EQ(cli.finish(), 0) << cli.err();
  ASSERT_EQ(cli.out_lines().size(), 1u);
  const auto report = Json::parse(cli.out_lines()[0]);
  EXPECT_EQ(report["ok"], true) << report;
  ASSERT_EQ(report["pools"].size(), 1u);
  auto checks = doctor_checks(report, 0);
  for (const char* name : {"executable", "version", "bridge", "module", "worker", "commands", "ping"}) {
    ASSERT_TRUE(checks.count(name)) << name << " " << report;
    EXPECT_EQ(checks[name]["ok"], true) << checks[name];
    EXPECT_EQ(checks[name]["fix"], "") << checks[name];
  }
  EXPECT_NE(checks["version"]["detail"].get<std::string>().find("Python 3."), std::string::npos);
  EXPECT_NE(checks["commands"]["detail"].get<std::string>().find("compute"), std::string::npos);

  CliProcess text({"doctor"});
  EXPECT_EQ(text.finish(), 0) << text.err();
  ASSERT_FALSE(text.out_lines().empty());
  EXPECT_EQ(text.out_lines().front(), "pool default (python:snakepit_bridge.generic)");
  EXPECT_EQ(text.out_lines().back(), "all 7 checks passed");
}

TEST(CliDoctor, MissingPythonModuleFails) {
  CliProcess cli({"doctor", "--adapter", "python", "--module", "no_such_module", "--json"});
  EXPECT_EQ(cli.finish(), 1) << cli.err();
  ASSERT_EQ(cli.out_lines().size(), 1u);
  const auto report = Json::parse(cli.out_lines()[0]);
  EXPECT_EQ(report["ok"], false);
  auto checks = doctor_checks(report, 0);
  EXPECT_EQ(checks["executable"]["ok"], true);
  EXPECT_EQ(checks["module"]["ok"], false) << report;
  EXPECT_NE(checks["module"]["detail"].get<std::string>().find("no_such_module"), std::string::npos);
  EXPECT_NE(checks["module"]["fix"].get<std::string>().find("--python-path"), std::string::npos);
  EXPECT_EQ(checks["worker"]["ok"], false) << report;
  EXPECT_NE(checks["worker"]["detail"].get<std::string>().find("no_such_module"), std::string::npos);

  CliProcess text({"doctor", "--module", "no_such_module"});
  EXPECT_EQ(text.finish(), 1);
  std::string out;
  for (const auto& line : text.out_lines()) out += line + "\n";
  EXPECT_NE(out.find("FAIL  module"), std::string::npos) << out;
  EXPECT_NE(out.find("fix: "), std::string::npos) << out;
}

TEST(CliDoctor, ExecPoolWithMissingCommandFailsWithAFix) {
  ConfigFile config("[pools.tools]\nadapter = \"exec\"\ncommand = [\"./no_such_worker\", \"--fast\"]\n");
  CliProcess cli({"doctor", "--config", config.path(), "--json"});
  EXPECT_EQ(cli.finish(), 1) << cli.err();
  ASSERT_EQ(cli.out_lines().size(), 1u);
  const auto report = Json::parse(cli.out_lines()[0]);
  EXPECT_EQ(report["pools"][0]["pool"], "tools");
  auto checks = doctor_checks(report, 0);
  EXPECT_EQ(checks["executable"]["ok"], false) << report;
  EXPECT_NE(checks["executable"]["detail"].get<std::string>().find("no_such_worker"), std::string::npos);
  EXPECT_NE(checks["executable"]["fix"].get<std::string>().find("command"), std::string::npos);
  EXPECT_EQ(checks["worker"]["ok"], false) << report;
  EXPECT_FALSE(checks.count("version"));  // exec pools have no interpreter to ask
}

TEST(CliDoctor, NodeGenericPasses) {
  CliProcess cli({"doctor", "--adapter", "node", "--json"});
  EXPECT_EQ(cli.finish(), 0) << cli.err();
  ASSERT_EQ(cli.out_lines().size(), 1u);
  const auto report = Json::parse(cli.out_lines()[0]);
  EXPECT_EQ(report["ok"], true) << report;
  auto checks = doctor_checks(report, 0);
  EXPECT_NE(checks["version"]["detail"].get<std::string>().find("v"), std::string::npos);
  EXPECT_EQ(checks["ping"]["ok"], true) << report;
}

TEST(CliDoctor, EveryPoolOfAConfig) {
  ConfigFile config(kTwoPools);
  CliProcess cli({"doctor", "--config", config.path(), "--json"});
  EXPECT_EQ(cli.finish(), 0) << cli.err();
  ASSERT_EQ(cli.out_lines().size(), 1u);
  const auto report = Json::parse(cli.out_lines()[0]);
  ASSERT_EQ(report["pools"].size(), 2u) << report;
  EXPECT_EQ(report["pools"][0]["pool"], "py");
  EXPECT_EQ(report["pools"][1]["pool"], "js");
  EXPECT_EQ(report["ok"], true) << report;
}

TEST(CliDemo, RunsEveryStep) {
  CliProcess cli({"demo", "--size", "2"});
  EXPECT_EQ(cli.finish(), 0) << cli.err();
  std::string out;
  for (const auto& line : cli.out_lines()) out += line + "\n";
  EXPECT_NE(out.find("Started 2 workers concurrently"), std::string::npos) << out;
  EXPECT_NE(out.find("7 + 3 = 10"), std::string::npos) << out;
  std::size_t expected_errors = 0;
  for (auto at = out.find("expected error"); at != std::string::npos;
       at = out.find("expected error", at + 1)) {
    ++expected_errors;
  }
  EXPECT_EQ(expected_errors, 3u) << out;
  EXPECT_EQ(out.find("\x1b["), std::string::npos);  // no colours into a pipe
}

TEST(CliDemo, SessionsRunsEveryStep) {
  CliProcess cli({"demo", "sessions"});
  EXPECT_EQ(cli.finish(), 0) << cli.err();
  std::string out;
  for (const auto& line : cli.out_lines()) out += line + "\n";
  for (const char* fact : {
           "Started 3 workers concurrently",
           "1 2 3",  // local_counter counting up
           "session_sum     {\"key\":\"scores\"}                 -> 42",
           "from C++, pit.sessions()->read(\"alice\") -> "
           "{\"name\":\"Alice\",\"scores\":[10,20,12]}",
           "with SIGKILL",
           "alice: local_counter -> count 1 on worker",  // the count restarted after the kill
           ", moved from default-",
           "reason:  session_worker_lost",
           "unbind_session(\"dora\") -> ok",
           "exists(\"brief\") -> false",
           "reason:  no_session",
           "worker_lost 2",
           "Sessions demo finished: every step behaved as expected.",
       }) {
    EXPECT_NE(out.find(fact), std::string::npos) << fact << "\n" << out;
  }
  EXPECT_EQ(out.find("UNEXPECTED"), std::string::npos) << out;
  EXPECT_EQ(out.find("WRONG RESULT"), std::string::npos) << out;
  EXPECT_EQ(out.find("\x1b["), std::string::npos);  // no colours into a pipe
}

}  // namespace
