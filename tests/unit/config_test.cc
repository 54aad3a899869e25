// The TOML configuration loader: every key reaches Options, defaults hold
// when keys are absent, and every kind of error names its key.
#include "snakepit/config.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

namespace snakepit {
namespace {

using namespace std::chrono_literals;

// /usr/bin/python3: no PATH shim to resolve while parsing.
constexpr const char* kPython = "[pools.py]\nadapter = \"python\"\ninterpreter = \"/usr/bin/python3\"\n";

std::string env_of(const Adapter& adapter, const std::string& key) {
  for (const auto& [name, value] : adapter.env) {
    if (name == key) return value;
  }
  return "<unset>";
}

// Parses `text`, expects InvalidArgument naming `key` in the message and
// details, and returns the status for more checks.
Status checked_key_error(const std::string& text, const std::string& key) {
  auto options = parse_config(text, "/cfg", "test.toml");
  EXPECT_FALSE(options.ok()) << text;
  if (options.ok()) return {};
  const Status& status = options.status();
  EXPECT_EQ(status.code(), Code::kInvalidArgument) << status;
  EXPECT_NE(status.message().find(key), std::string::npos) << status;
  EXPECT_EQ(status.details().value("key", ""), key) << status.details();
  EXPECT_EQ(status.message().rfind("test.toml:", 0), 0u) << status;
  return status;
}

void expect_key_error(const std::string& text, const std::string& key) {
  const Status status = checked_key_error(text, key);
  EXPECT_FALSE(status.ok());
}

TEST(ConfigTest, FullFileMapsEveryField) {
  const std::string text = R"(
default_pool = "tools"
data_dir = "/run/snakepit"
placement = "per_core"

[sessions]
max_sessions = 500
max_id_length = 64
max_keys = 10
max_key_length = 32
max_bytes = 4096
default_ttl_s = 60
max_ttl_s = 120
sweep_interval_ms = 250
sweep_budget_us = 3000

[pools.py]
adapter = "python"
module = "my_adapter"
interpreter = "/usr/bin/python3"
bridge_path = "/opt/bridge"
python_path = ["/opt/adapters", "/opt/more"]
env = { MODEL = "small", PYTHONUNBUFFERED = "0" }
working_dir = "/srv"
commands = ["ping", "predict"]
command_timeouts_ms = { predict = 60000 }
size = 3
startup_timeout_ms = 11
request_timeout_ms = 12
queue_timeout_ms = 13
max_queue = 14
cancel_grace_ms = 15
stack_dump_grace_ms = 16
stop_grace_ms = 17
kill_grace_ms = 18
max_frame_bytes = 2048
max_log_line = 100
affinity = "strict_queue"
stream_window = 19
max_calls_in_flight = 20
worker_threads = 0

[pools.py.restart]
backoff_initial_ms = 21
backoff_max_ms = 22
jitter = 0.5
max_restarts = 23
window_ms = 24

[pools.py.heartbeat]
interval_ms = 0
timeout_ms = 25
max_missed = 26

[pools.py.recycle]
max_requests = 27
max_requests_jitter = 0
max_lifetime_ms = 28
max_idle_ms = 29
max_rss_bytes = 5000000000
check_interval_ms = 30

[pools.tools]
adapter = "exec"
command = ["/usr/bin/perl", "worker.pl", "--fast"]
protocol = "snakepit-v0"
affinity = "strict_fail_fast"

[pools.js]
adapter = "node"
module = "lodash-adapter"
interpreter = "/usr/bin/node"
bridge_path = "/opt/node-bridge"
)";
  auto options = parse_config(text, "/cfg", "full.toml");
  ASSERT_TRUE(options.ok()) << options.status();
  EXPECT_EQ(options->default_pool, "tools");
  EXPECT_EQ(options->data_dir, "/run/snakepit");
  EXPECT_EQ(options->placement, Placement::kPerCore);

  const SessionOptions& sessions = options->sessions;
  EXPECT_EQ(sessions.limits.max_sessions, 500u);
  EXPECT_EQ(sessions.limits.max_id_length, 64u);
  EXPECT_EQ(sessions.limits.max_keys, 10u);
  EXPECT_EQ(sessions.limits.max_key_length, 32u);
  EXPECT_EQ(sessions.limits.max_bytes, 4096u);
  EXPECT_EQ(sessions.limits.default_ttl, 60s);
  EXPECT_EQ(sessions.limits.max_ttl, 120s);
  EXPECT_EQ(sessions.sweep_interval, 250ms);
  EXPECT_EQ(sessions.sweep_budget, 3000us);

  ASSERT_EQ(options->pools.size(), 3u);
  const PoolOptions& py = options->pools[0];
  EXPECT_EQ(py.name, "py");
  EXPECT_EQ(py.adapter.name, "python:my_adapter");
  EXPECT_EQ(py.adapter.args.back(), "my_adapter");
  EXPECT_EQ(env_of(py.adapter, "PYTHONPATH").rfind("/opt/bridge:/opt/adapters:/opt/more", 0), 0u)
      << env_of(py.adapter, "PYTHONPATH");
  EXPECT_EQ(env_of(py.adapter, "MODEL"), "small");
  EXPECT_EQ(env_of(py.adapter, "PYTHONUNBUFFERED"), "0");  // the file's env wins over the adapter's
  EXPECT_EQ(py.adapter.working_dir, "/srv");
  EXPECT_EQ(py.adapter.commands, (std::vector<std::string>{"ping", "predict"}));
  ASSERT_EQ(py.adapter.command_timeouts.size(), 1u);
  EXPECT_EQ(py.adapter.command_timeouts.at("predict"), 60000ms);
  EXPECT_EQ(py.adapter.protocol, Protocol::kNative);
  EXPECT_EQ(py.size, 3u);
  EXPECT_EQ(py.startup_timeout, 11ms);
  EXPECT_EQ(py.request_timeout, 12ms);
  EXPECT_EQ(py.queue_timeout, 13ms);
  EXPECT_EQ(py.max_queue, 14u);
  EXPECT_EQ(py.cancel_grace, 15ms);
  EXPECT_EQ(py.stack_dump_grace, 16ms);
  EXPECT_EQ(py.stop_grace, 17ms);
  EXPECT_EQ(py.kill_grace, 18ms);
  EXPECT_EQ(py.max_frame_bytes, 2048u);
  EXPECT_EQ(py.max_log_line, 100u);
  EXPECT_EQ(py.affinity, Affinity::kStrictQueue);
  EXPECT_EQ(py.stream_window, 19u);
  EXPECT_EQ(py.max_calls_in_flight, 20);
  EXPECT_EQ(py.worker_threads, 0);
  EXPECT_EQ(py.restart.backoff_initial, 21ms);
  EXPECT_EQ(py.restart.backoff_max, 22ms);
  EXPECT_EQ(py.restart.jitter, 0.5);
  EXPECT_EQ(py.restart.max_restarts, 23);
  EXPECT_EQ(py.restart.window, 24ms);
  EXPECT_EQ(py.heartbeat.interval, 0ms);
  EXPECT_EQ(py.heartbeat.timeout, 25ms);
  EXPECT_EQ(py.heartbeat.max_missed, 26);
  EXPECT_EQ(py.recycle.max_requests, 27u);
  EXPECT_EQ(py.recycle.max_requests_jitter, 0.0);
  EXPECT_EQ(py.recycle.max_lifetime, 28ms);
  EXPECT_EQ(py.recycle.max_idle, 29ms);
  EXPECT_EQ(py.recycle.max_rss_bytes, 5'000'000'000u);
  EXPECT_EQ(py.recycle.check_interval, 30ms);

  const PoolOptions& tools = options->pools[1];
  EXPECT_EQ(tools.name, "tools");
  EXPECT_EQ(tools.adapter.executable, "/usr/bin/perl");
  EXPECT_EQ(tools.adapter.args, (std::vector<std::string>{"worker.pl", "--fast"}));
  EXPECT_EQ(tools.adapter.protocol, Protocol::kSnakepitV0);
  EXPECT_EQ(tools.affinity, Affinity::kStrictFailFast);

  const PoolOptions& js = options->pools[2];
  EXPECT_EQ(js.name, "js");
  EXPECT_EQ(js.adapter.executable, "/usr/bin/node");
  EXPECT_EQ(js.adapter.args, (std::vector<std::string>{"/opt/node-bridge/main.js", "--adapter", "lodash-adapter"}));
}

TEST(ConfigTest, AbsentKeysKeepTheLibraryDefaults) {
  auto options = parse_config("[pools.only]\nadapter = \"node\"\n");
  ASSERT_TRUE(options.ok()) << options.status();
  ASSERT_EQ(options->pools.size(), 1u);
  EXPECT_EQ(options->default_pool, "only");
  EXPECT_EQ(options->data_dir, "");
  EXPECT_EQ(options->placement, Placement::kShared);
  const PoolOptions& pool = options->pools[0];
  const PoolOptions defaults;
  EXPECT_EQ(pool.name, "only");
  EXPECT_EQ(pool.adapter.name, "node:generic");
  EXPECT_EQ(pool.adapter.executable, "node");
  EXPECT_TRUE(pool.adapter.commands.empty());
  EXPECT_TRUE(pool.adapter.command_timeouts.empty());
  EXPECT_EQ(pool.adapter.working_dir, "");
  EXPECT_EQ(pool.size, 0u);  // the library's default: 2 x hardware threads
  EXPECT_EQ(pool.startup_timeout, defaults.startup_timeout);
  EXPECT_EQ(pool.request_timeout, defaults.request_timeout);
  EXPECT_EQ(pool.queue_timeout, defaults.queue_timeout);
  EXPECT_EQ(pool.max_queue, defaults.max_queue);
  EXPECT_EQ(pool.cancel_grace, defaults.cancel_grace);
  EXPECT_EQ(pool.max_frame_bytes, defaults.max_frame_bytes);
  EXPECT_EQ(pool.affinity, defaults.affinity);
  EXPECT_EQ(pool.worker_threads, defaults.worker_threads);
  EXPECT_EQ(pool.restart.backoff_max, defaults.restart.backoff_max);
  EXPECT_EQ(pool.restart.jitter, defaults.restart.jitter);
  EXPECT_EQ(pool.heartbeat.interval, defaults.heartbeat.interval);
  EXPECT_EQ(pool.recycle.max_requests_jitter, defaults.recycle.max_requests_jitter);
  EXPECT_EQ(pool.recycle.check_interval, defaults.recycle.check_interval);
  const SessionOptions session_defaults;
  EXPECT_EQ(options->sessions.limits.max_sessions, session_defaults.limits.max_sessions);
  EXPECT_EQ(options->sessions.limits.default_ttl, session_defaults.limits.default_ttl);
  EXPECT_EQ(options->sessions.sweep_interval, session_defaults.sweep_interval);
  EXPECT_EQ(options->sessions.sweep_budget, session_defaults.sweep_budget);

  auto python = parse_config(kPython);
  ASSERT_TRUE(python.ok()) << python.status();
  EXPECT_EQ(python->pools[0].adapter.name, "python:snakepit_bridge.generic");
}

TEST(ConfigTest, UnknownKeyListsTheAllowedKeys) {
  Status status = checked_key_error(std::string(kPython) + "sise = 4\n", "pools.py.sise");
  EXPECT_NE(status.message().find("(did you mean size?); allowed: "), std::string::npos) << status;
  EXPECT_EQ(status.details()["suggestion"], "size");
  EXPECT_NE(status.message().find("size"), std::string::npos) << status;
  const Json allowed = status.details()["allowed"];
  EXPECT_NE(std::find(allowed.begin(), allowed.end(), "size"), allowed.end()) << allowed;
  EXPECT_EQ(status.details()["line"], 4);

  Status far = checked_key_error("colour = 1\n", "colour");
  EXPECT_FALSE(far.details().contains("suggestion")) << far.details();
  expect_key_error(std::string(kPython) + "[pools.py.restart]\nmax_restart = 1\n", "pools.py.restart.max_restart");
  expect_key_error(std::string(kPython) + "[pools.py.heartbeat]\ninterval = 1\n", "pools.py.heartbeat.interval");
  expect_key_error(std::string(kPython) + "[pools.py.recycle]\nmax_rss = 1\n", "pools.py.recycle.max_rss");
  expect_key_error(std::string(kPython) + "[sessions]\nttl_ms = 1\n", "sessions.ttl_ms");
}

TEST(ConfigTest, WrongTypeNamesTheExpectedType) {
  Status size = checked_key_error(std::string(kPython) + "size = \"4\"\n", "pools.py.size");
  EXPECT_NE(size.message().find("must be an integer, got a string"), std::string::npos) << size;
  Status jitter = checked_key_error(std::string(kPython) + "restart = { jitter = \"x\" }\n", "pools.py.restart.jitter");
  EXPECT_NE(jitter.message().find("must be a number"), std::string::npos) << jitter;
  expect_key_error(std::string(kPython) + "python_path = \"adapters\"\n", "pools.py.python_path");
  expect_key_error(std::string(kPython) + "python_path = [\"a\", 3]\n", "pools.py.python_path[1]");
  expect_key_error(std::string(kPython) + "env = { N = 1 }\n", "pools.py.env.N");
  expect_key_error(std::string(kPython) + "heartbeat = 5\n", "pools.py.heartbeat");
  expect_key_error("pools = 3\n", "pools");
  expect_key_error("pools.py = 3\n", "pools.py");
  expect_key_error(std::string("default_pool = 1\n") + kPython, "default_pool");
}

TEST(ConfigTest, OutOfRangeNamesTheRange) {
  Status zero = checked_key_error(std::string(kPython) + "size = 0\n", "pools.py.size");
  EXPECT_NE(zero.message().find("between 1 and 4096, got 0"), std::string::npos) << zero;
  EXPECT_EQ(zero.details()["allowed"], (Json{{"min", 1}, {"max", 4096}}));
  expect_key_error(std::string(kPython) + "size = -1\n", "pools.py.size");
  expect_key_error(std::string(kPython) + "size = 4097\n", "pools.py.size");
  expect_key_error(std::string(kPython) + "max_queue = -5\n", "pools.py.max_queue");
  expect_key_error(std::string(kPython) + "max_frame_bytes = 5000000000\n", "pools.py.max_frame_bytes");
  expect_key_error(std::string(kPython) + "startup_timeout_ms = 0\n", "pools.py.startup_timeout_ms");
  expect_key_error(std::string(kPython) + "[pools.py.recycle]\nmax_rss_bytes = -1\n", "pools.py.recycle.max_rss_bytes");
  expect_key_error(std::string(kPython) + "[pools.py.recycle]\nmax_requests = -1\n", "pools.py.recycle.max_requests");
  expect_key_error(std::string(kPython) + "[pools.py.restart]\njitter = 1.0\n", "pools.py.restart.jitter");
  expect_key_error(std::string(kPython) + "[pools.py.restart]\njitter = nan\n", "pools.py.restart.jitter");
  expect_key_error(std::string(kPython) + "[pools.py.restart]\nbackoff_initial_ms = 10\nbackoff_max_ms = 5\n",
                   "pools.py.restart.backoff_max_ms");
  expect_key_error(std::string(kPython) + "[pools.py.heartbeat]\nmax_missed = 0\n", "pools.py.heartbeat.max_missed");
  expect_key_error(std::string(kPython) + "[sessions]\nmax_bytes = 0\n", "sessions.max_bytes");
  expect_key_error(std::string(kPython) + "[sessions]\ndefault_ttl_s = 100\nmax_ttl_s = 10\n",
                   "sessions.default_ttl_s");
  expect_key_error(std::string(kPython) + "[sessions]\nsweep_budget_us = 0\n", "sessions.sweep_budget_us");
  expect_key_error(std::string(kPython) + "command_timeouts_ms = { ping = 0 }\n", "pools.py.command_timeouts_ms.ping");
}

TEST(ConfigTest, EnumsListTheAllowedValues) {
  Status affinity = checked_key_error(std::string(kPython) + "affinity = \"sticky\"\n", "pools.py.affinity");
  EXPECT_NE(affinity.message().find("hint, strict_queue, strict_fail_fast"), std::string::npos) << affinity;
  EXPECT_EQ(affinity.details()["allowed"], (Json{"hint", "strict_queue", "strict_fail_fast"}));
  Status adapter = checked_key_error("[pools.rb]\nadapter = \"ruby\"\n", "pools.rb.adapter");
  EXPECT_EQ(adapter.details()["allowed"], (Json{"python", "node", "exec"}));
  expect_key_error("[pools.w]\nadapter = \"exec\"\ncommand = [\"w\"]\nprotocol = \"v9\"\n", "pools.w.protocol");
  Status placement = checked_key_error("placement = \"per-core\"\n" + std::string(kPython), "placement");
  EXPECT_EQ(placement.message().rfind("test.toml:1:13: placement must be one of shared, per_core", 0), 0u)
      << placement;
  EXPECT_EQ(placement.details()["allowed"], (Json{"shared", "per_core"}));
  expect_key_error("placement = \"numa\"\n" + std::string(kPython), "placement");
  expect_key_error("placement = 1\n" + std::string(kPython), "placement");
}

TEST(ConfigTest, KeysOfAnotherAdapterAreErrors) {
  Status command = checked_key_error(std::string(kPython) + "command = [\"./w\"]\n", "pools.py.command");
  EXPECT_NE(command.message().find("does not apply to adapter \"python\" (only to exec)"), std::string::npos)
      << command;
  expect_key_error("[pools.js]\nadapter = \"node\"\npython_path = [\"x\"]\n", "pools.js.python_path");
  expect_key_error(std::string(kPython) + "protocol = \"native\"\n", "pools.py.protocol");
  Status module =
      checked_key_error("[pools.w]\nadapter = \"exec\"\ncommand = [\"w\"]\nmodule = \"m\"\n", "pools.w.module");
  EXPECT_NE(module.message().find("(only to python, node)"), std::string::npos) << module;
}

TEST(ConfigTest, MissingRequiredKeys) {
  Status adapter = checked_key_error("[pools.py]\nsize = 2\n", "pools.py.adapter");
  EXPECT_NE(adapter.message().find("is required"), std::string::npos) << adapter;
  Status command = checked_key_error("[pools.w]\nadapter = \"exec\"\n", "pools.w.command");
  EXPECT_NE(command.message().find("is required"), std::string::npos) << command;
  expect_key_error("[pools.w]\nadapter = \"exec\"\ncommand = []\n", "pools.w.command");
  expect_key_error("data_dir = \"/tmp\"\n", "pools");
  expect_key_error("[pools]\n", "pools");
  expect_key_error(std::string(kPython) + "module = \"\"\n", "pools.py.module");
}

TEST(ConfigTest, PoolNamesAndDefaultPool) {
  expect_key_error("[pools.\"my pool\"]\nadapter = \"node\"\n", "pools.my pool");
  expect_key_error("[pools.\"\"]\nadapter = \"node\"\n", "pools.");
  expect_key_error("[pools." + std::string(65, 'a') + "]\nadapter = \"node\"\n", "pools." + std::string(65, 'a'));
  Status unknown = checked_key_error("default_pool = \"nope\"\n[pools.a]\nadapter = \"node\"\n", "default_pool");
  EXPECT_EQ(unknown.details()["allowed"], (Json{"a"}));
  std::string many;
  for (int i = 0; i < 65; ++i) many += "[pools.p" + std::to_string(i) + "]\nadapter = \"node\"\n";
  expect_key_error(many, "pools");
}

TEST(ConfigTest, CommandNames) {
  expect_key_error(std::string(kPython) + "commands = [\"ping\", \"\"]\n", "pools.py.commands[1]");
  expect_key_error(std::string(kPython) + "commands = [\"" + std::string(257, 'c') + "\"]\n", "pools.py.commands[0]");
  expect_key_error(std::string(kPython) + "commands = [\"a\", \"a\"]\n", "pools.py.commands");
  expect_key_error(std::string(kPython) + "command_timeouts_ms = { \"\" = 5 }\n", "pools.py.command_timeouts_ms.");
  Status typo =
      checked_key_error(std::string(kPython) + "commands = [\"predict\"]\ncommand_timeouts_ms = { predcit = 5 }\n",
                        "pools.py.command_timeouts_ms.predcit");
  EXPECT_EQ(typo.details()["allowed"], (Json{"predict"}));
  auto ok = parse_config(std::string(kPython) + "command_timeouts_ms = { \"" + std::string(256, 'c') + "\" = 5 }\n");
  EXPECT_TRUE(ok.ok()) << ok.status();
}

TEST(ConfigTest, RelativePathsResolveAgainstTheFilesDirectory) {
  const std::string text = R"(
data_dir = "state"
[pools.py]
adapter = "python"
interpreter = "/usr/bin/python3"
bridge_path = "../bridge"
python_path = ["adapters", "/abs"]
working_dir = "."
[pools.js]
adapter = "node"
module = "./js/adapter.js"
interpreter = "bin/node"
[pools.js2]
adapter = "node"
module = "some-package"
[pools.w]
adapter = "exec"
command = ["./worker", "data.txt"]
[pools.w2]
adapter = "exec"
command = ["perl", "w.pl"]
)";
  auto options = parse_config(text, "/etc/snakepit", "rel.toml");
  ASSERT_TRUE(options.ok()) << options.status();
  EXPECT_EQ(options->data_dir, "/etc/snakepit/state");
  const auto& pools = options->pools;
  ASSERT_EQ(pools.size(), 5u);
  EXPECT_EQ(env_of(pools[0].adapter, "PYTHONPATH").rfind("/etc/bridge:/etc/snakepit/adapters:/abs", 0), 0u)
      << env_of(pools[0].adapter, "PYTHONPATH");
  EXPECT_EQ(pools[0].adapter.working_dir, "/etc/snakepit");
  EXPECT_EQ(pools[1].adapter.executable, "/etc/snakepit/bin/node");
  EXPECT_EQ(pools[1].adapter.args.back(), "/etc/snakepit/js/adapter.js");
  EXPECT_EQ(pools[2].adapter.executable, "node");  // a bare name: looked up in PATH at start
  EXPECT_EQ(pools[2].adapter.args.back(), "some-package");
  EXPECT_EQ(pools[3].adapter.executable, "/etc/snakepit/worker");
  EXPECT_EQ(pools[3].adapter.args, (std::vector<std::string>{"data.txt"}));  // arguments stay as written
  EXPECT_EQ(pools[4].adapter.executable, "perl");
}

TEST(ConfigTest, SyntaxErrorReportsLineAndColumn) {
  auto options = parse_config("[pools.py]\nadapter = \"python\"\nsize = = 3\n", "", "bad.toml");
  ASSERT_FALSE(options.ok());
  EXPECT_EQ(options.status().code(), Code::kInvalidArgument);
  EXPECT_EQ(options.status().message().rfind("bad.toml:3:", 0), 0u) << options.status();
  EXPECT_NE(options.status().message().find("syntax error"), std::string::npos) << options.status();
  EXPECT_EQ(options.status().details()["line"], 3);
  EXPECT_TRUE(options.status().details()["column"].is_number()) << options.status().details();
}

TEST(ConfigTest, PoolsKeepFileOrderAndTheDefaultIsTheFirst) {
  const std::string pools = R"(
[pools.zeta]
adapter = "node"
[pools.alpha.restart]
max_restarts = 1
[pools.mid]
adapter = "node"
[pools.alpha]
adapter = "node"
)";
  auto options = parse_config(pools);
  ASSERT_TRUE(options.ok()) << options.status();
  ASSERT_EQ(options->pools.size(), 3u);
  EXPECT_EQ(options->pools[0].name, "zeta");
  EXPECT_EQ(options->pools[1].name, "alpha");  // where it first appears
  EXPECT_EQ(options->pools[2].name, "mid");
  EXPECT_EQ(options->pools[1].restart.max_restarts, 1);
  EXPECT_EQ(options->default_pool, "zeta");

  auto chosen = parse_config("default_pool = \"mid\"\n" + pools);
  ASSERT_TRUE(chosen.ok()) << chosen.status();
  EXPECT_EQ(chosen->default_pool, "mid");
  EXPECT_EQ(chosen->pools[0].name, "zeta");
}

class ConfigFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char pattern[] = "/tmp/snakepit-config-test-XXXXXX";
    ASSERT_NE(::mkdtemp(pattern), nullptr);
    dir_ = pattern;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string write(const std::string& name, const std::string& text) {
    const std::string path = dir_ + "/" + name;
    std::ofstream(path) << text;
    return path;
  }
  std::string dir_;
};

TEST_F(ConfigFileTest, LoadsAndAnchorsPathsAtTheFilesDirectory) {
  const std::string path =
      write("snakepit.toml", "data_dir = \"run\"\n[pools.w]\nadapter = \"exec\"\ncommand = [\"./w\"]\n");
  auto options = load_config_file(path);
  ASSERT_TRUE(options.ok()) << options.status();
  EXPECT_EQ(options->data_dir, dir_ + "/run");
  EXPECT_EQ(options->pools[0].adapter.executable, dir_ + "/w");
}

TEST_F(ConfigFileTest, UnreadableFiles) {
  auto missing = load_config_file(dir_ + "/missing.toml");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), Code::kNotFound) << missing.status();
  EXPECT_NE(missing.status().message().find("missing.toml"), std::string::npos) << missing.status();

  auto directory = load_config_file(dir_);
  ASSERT_FALSE(directory.ok());
  EXPECT_EQ(directory.status().code(), Code::kFailedPrecondition) << directory.status();

  const std::string big = write("big.toml", "# " + std::string(1u << 20, 'x') + "\n");
  auto too_big = load_config_file(big);
  ASSERT_FALSE(too_big.ok());
  EXPECT_EQ(too_big.status().code(), Code::kInvalidArgument) << too_big.status();

  const std::string bad = write("bad.toml", "[pools.py]\nadapter = \"python\"\nsise = 1\n");
  auto error = load_config_file(bad);
  ASSERT_FALSE(error.ok());
  EXPECT_EQ(error.status().message().rfind(bad + ":3:1: pools.py.sise", 0), 0u) << error.status();
}

}  // namespace
}  // namespace snakepit
