#include "process/exit_info.h"

#include <signal.h>
#include <stdlib.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <limits>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include "process/oom_counter.h"

namespace snakepit::internal {
namespace {

// Wait statuses as waitpid(2) reports them (the Linux encoding).
int exited(int code) { return code << 8; }
int killed_by(int sig) { return sig; }

TEST(ExitInfoTest, FromWaitStatus) {
  const ExitInfo ok = ExitInfo::from_wait_status(exited(0));
  EXPECT_TRUE(ok.clean());
  EXPECT_EQ(ok.describe(), "exited with code 0");

  const ExitInfo three = ExitInfo::from_wait_status(exited(3));
  EXPECT_FALSE(three.clean());
  EXPECT_FALSE(three.signaled);
  EXPECT_EQ(three.code, 3);
  EXPECT_EQ(three.describe(), "exited with code 3");
  EXPECT_EQ(three.reason(), "exit_code:3");
  EXPECT_EQ(three.to_json(), Json({{"exit_code", 3}}));

  const ExitInfo kill = ExitInfo::from_wait_status(killed_by(SIGKILL));
  EXPECT_FALSE(kill.clean());
  EXPECT_TRUE(kill.signaled);
  EXPECT_EQ(kill.signal, SIGKILL);
  EXPECT_FALSE(kill.oom_killed);
  EXPECT_EQ(kill.describe(), "killed by SIGKILL");
  EXPECT_EQ(kill.reason(), "signal:SIGKILL");
  EXPECT_EQ(kill.to_json(), Json({{"signal", SIGKILL}, {"signal_name", "SIGKILL"}}));
}

TEST(ExitInfoTest, SigkillWithAGrowingOomCountIsAnOomKill) {
  ExitInfo info = ExitInfo::from_wait_status(killed_by(SIGKILL));
  info.classify_oom(4, 5);
  EXPECT_TRUE(info.oom_killed);
  EXPECT_EQ(info.oom_kills_before, 4u);
  EXPECT_EQ(info.oom_kills_after, 5u);
  EXPECT_EQ(info.reason(), "oom_killed");
  EXPECT_EQ(info.describe(),
            "was killed by the kernel's OOM killer (SIGKILL; cgroup memory.events oom_kill went from 4 to 5)");
  EXPECT_EQ(info.to_json(), Json({{"signal", SIGKILL}, {"signal_name", "SIGKILL"}, {"oom_killed", true}}));
  EXPECT_FALSE(info.clean());
}

TEST(ExitInfoTest, OomCountGrowingByMoreThanOne) {
  ExitInfo info = ExitInfo::from_wait_status(killed_by(SIGKILL));
  info.classify_oom(0, 3);
  EXPECT_TRUE(info.oom_killed);
  EXPECT_EQ(info.describe(),
            "was killed by the kernel's OOM killer (SIGKILL; cgroup memory.events oom_kill went from 0 to 3)");
}

void expect_plain_sigkill(const ExitInfo& info) {
  EXPECT_FALSE(info.oom_killed);
  EXPECT_EQ(info.oom_kills_before, 0u);
  EXPECT_EQ(info.oom_kills_after, 0u);
  EXPECT_EQ(info.reason(), "signal:SIGKILL");
  EXPECT_EQ(info.describe(), "killed by SIGKILL");
  EXPECT_EQ(info.to_json(), Json({{"signal", SIGKILL}, {"signal_name", "SIGKILL"}}));
}

TEST(ExitInfoTest, SigkillWithoutOomCountGrowthStaysSigkill) {
  using Counts = std::pair<std::uint64_t, std::uint64_t>;
  for (const auto& [before, after] : std::vector<Counts>{{0, 0}, {7, 7}, {7, 6}}) {
    SCOPED_TRACE(testing::Message() << before << " -> " << after);
    ExitInfo info = ExitInfo::from_wait_status(killed_by(SIGKILL));
    info.classify_oom(before, after);
    expect_plain_sigkill(info);
  }
}

TEST(ExitInfoTest, SigkillWithTheCounterUnavailableStaysSigkill) {
  using Count = std::optional<std::uint64_t>;
  using Counts = std::pair<Count, Count>;
  for (const auto& [before, after] : std::vector<Counts>{{std::nullopt, std::nullopt},
                                                         {std::nullopt, 1},
                                                         {0, std::nullopt}}) {
    ExitInfo info = ExitInfo::from_wait_status(killed_by(SIGKILL));
    info.classify_oom(before, after);
    expect_plain_sigkill(info);
  }
}

TEST(ExitInfoTest, OtherExitsAreNeverOomKills) {
  for (const int status : {killed_by(SIGTERM), killed_by(SIGSEGV), killed_by(SIGABRT), exited(137), exited(0)}) {
    SCOPED_TRACE(status);
    const ExitInfo plain = ExitInfo::from_wait_status(status);
    ExitInfo info = plain;
    info.classify_oom(0, 1);
    EXPECT_FALSE(info.oom_killed);
    EXPECT_EQ(info.reason(), plain.reason());
    EXPECT_EQ(info.describe(), plain.describe());
    EXPECT_EQ(info.to_json(), plain.to_json());
  }
  ExitInfo term = ExitInfo::from_wait_status(killed_by(SIGTERM));
  term.classify_oom(0, 1);
  EXPECT_EQ(term.reason(), "signal:SIGTERM");
}

TEST(OomCounterTest, ParseCgroupV2Path) {
  EXPECT_EQ(parse_cgroup_v2_path("0::/user.slice/user-1000.slice/session-2.scope\n"),
            "/user.slice/user-1000.slice/session-2.scope");
  EXPECT_EQ(parse_cgroup_v2_path("0::/\n"), "/");
  EXPECT_EQ(parse_cgroup_v2_path("0::/system.slice/snakepitd.service"), "/system.slice/snakepitd.service");
  // Hybrid: v1 controllers first, the v2 line last.
  EXPECT_EQ(parse_cgroup_v2_path("12:pids:/\n4:memory:/docker/abc\n1:name=systemd:/\n0::/docker/abc\n"),
            "/docker/abc");
  EXPECT_EQ(parse_cgroup_v2_path("0::/a..b/c.\n"), "/a..b/c.");
}

TEST(OomCounterTest, ParseCgroupV2PathWithoutAUsablePath) {
  EXPECT_EQ(parse_cgroup_v2_path(""), std::nullopt);
  // cgroup v1 only.
  EXPECT_EQ(parse_cgroup_v2_path("4:memory:/process_api/1cf3\n1:cpu:/\n"), std::nullopt);
  EXPECT_EQ(parse_cgroup_v2_path("10::/x\n"), std::nullopt);
  EXPECT_EQ(parse_cgroup_v2_path("0::\n"), std::nullopt);
  EXPECT_EQ(parse_cgroup_v2_path("0::relative\n"), std::nullopt);
  // Outside this cgroup namespace.
  EXPECT_EQ(parse_cgroup_v2_path("0::/../sibling\n"), std::nullopt);
  EXPECT_EQ(parse_cgroup_v2_path("0::/a/..\n"), std::nullopt);
}

TEST(OomCounterTest, ParseOomKill) {
  EXPECT_EQ(parse_oom_kill("low 0\nhigh 12\nmax 30\noom 3\noom_kill 2\noom_group_kill 0\n"), 2u);
  EXPECT_EQ(parse_oom_kill("oom_group_kill 9\noom_kill 0"), 0u);
  EXPECT_EQ(parse_oom_kill("oom_kill 18446744073709551615\n"), std::numeric_limits<std::uint64_t>::max());
  EXPECT_EQ(parse_oom_kill("oom_kill 5 \n"), 5u);
}

TEST(OomCounterTest, ParseOomKillWithoutAUsableLine) {
  EXPECT_EQ(parse_oom_kill(""), std::nullopt);
  EXPECT_EQ(parse_oom_kill("low 0\nhigh 0\nmax 0\noom 1\n"), std::nullopt);  // before Linux 4.13
  EXPECT_EQ(parse_oom_kill("oom_group_kill 4\n"), std::nullopt);
  EXPECT_EQ(parse_oom_kill("oom_kill\n"), std::nullopt);
  EXPECT_EQ(parse_oom_kill("oom_kill \n"), std::nullopt);
  EXPECT_EQ(parse_oom_kill("oom_kill -1\n"), std::nullopt);
  EXPECT_EQ(parse_oom_kill("oom_kill 3x\n"), std::nullopt);
  EXPECT_EQ(parse_oom_kill("oom_kill 18446744073709551616\n"), std::nullopt);
}

// A fake cgroup v2 mount in a temporary directory.
class OomCounterMountTest : public testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = (std::filesystem::temp_directory_path() / "snakepit-cgroup-XXXXXX").string();
    ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
    mount_ = pattern;
    std::filesystem::create_directories(mount_ + "/host.slice/pool/leaf");
  }
  void TearDown() override {
    std::error_code ignored;
    std::filesystem::remove_all(mount_, ignored);
  }

  void write_events(const std::string& dir, const std::string& text) {
    std::ofstream(mount_ + dir + "/memory.events") << text;
  }
  static std::string events(int oom_kill) {
    return "low 0\nhigh 0\nmax 0\noom " + std::to_string(oom_kill) + "\noom_kill " + std::to_string(oom_kill) +
           "\noom_group_kill 0\n";
  }

  std::string mount_;
};

TEST_F(OomCounterMountTest, ReadsTheCgroupsOwnFile) {
  write_events("", events(100));
  write_events("/host.slice", events(10));
  write_events("/host.slice/pool", events(3));
  EXPECT_EQ(read_oom_kill_count_under(mount_, "/host.slice/pool"), 3u);
  EXPECT_EQ(read_oom_kill_count_under(mount_, "/host.slice/pool/"), 3u);
  EXPECT_EQ(read_oom_kill_count_under(mount_, "/host.slice"), 10u);
  EXPECT_EQ(read_oom_kill_count_under(mount_, "/"), 100u);
  EXPECT_EQ(read_oom_kill_count_under(mount_, ""), 100u);
}

TEST_F(OomCounterMountTest, FallsBackToTheNearestAncestor) {
  write_events("/host.slice", events(10));
  EXPECT_EQ(read_oom_kill_count_under(mount_, "/host.slice/pool/leaf"), 10u);
  // A cgroup that no longer exists.
  EXPECT_EQ(read_oom_kill_count_under(mount_, "/host.slice/gone/deeper"), 10u);
  // A file without the counter counts as missing.
  write_events("/host.slice/pool", "low 0\nhigh 0\nmax 0\noom 0\n");
  EXPECT_EQ(read_oom_kill_count_under(mount_, "/host.slice/pool/leaf"), 10u);
}

TEST_F(OomCounterMountTest, NothingToRead) {
  EXPECT_EQ(read_oom_kill_count_under(mount_, "/host.slice/pool/leaf"), std::nullopt);
  EXPECT_EQ(read_oom_kill_count_under(mount_, "/"), std::nullopt);
  EXPECT_EQ(read_oom_kill_count_under(mount_ + "/no-such-mount", "/host.slice"), std::nullopt);
}

TEST(OomCounterTest, ThisProcessCountNeverShrinks) {
  // Whatever the machine offers (nullopt under cgroup v1): two reads agree
  // with a counter that only grows.
  const auto first = read_oom_kill_count();
  const auto second = read_oom_kill_count();
  EXPECT_EQ(first.has_value(), second.has_value());
  if (first && second) {
    EXPECT_GE(*second, *first);
  }
}

}  // namespace
}  // namespace snakepit::internal
