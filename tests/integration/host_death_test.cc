// kill -9 of the host: its workers must not survive it. A helper host
// process (snakepit_test_host) runs a pool of 4 Python workers; the test
// SIGKILLs it and checks what is left, and what the next host finds.
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <string>

#include <gtest/gtest.h>

#include "process/exit_info.h"
#include "process/proc_info.h"
#include "process/run_registry.h"
#include "snakepit/snakepit.h"
#include "tests/integration/test_support.h"

namespace snakepit::testing {
namespace {

class HostDeathTest : public HygieneCheckedTest {
 protected:
  void SetUp() override {
    char pattern[] = "/tmp/snakepit-host-death-XXXXXX";
    ASSERT_NE(::mkdtemp(pattern), nullptr);
    data_dir_ = pattern;
  }
  void TearDown() override {
    std::filesystem::remove_all(data_dir_);
    HygieneCheckedTest::TearDown();
  }

  // Starts the helper host and reads its JSON line.
  Json start_host(const std::string& mode) {
    int out[2];
    EXPECT_EQ(::pipe2(out, O_CLOEXEC), 0);
    host_ = ::fork();
    if (host_ == 0) {
      ::dup2(out[1], 1);
      const std::string binary = std::string(SNAKEPIT_BINARY_DIR) + "/bin/snakepit_test_host";
      ::execl(binary.c_str(), binary.c_str(), data_dir_.c_str(), mode.c_str(), nullptr);
      ::_exit(127);
    }
    ::close(out[1]);
    std::string line;
    char c;
    while (::read(out[0], &c, 1) == 1 && c != '\n') line += c;
    ::close(out[0]);
    return Json::parse(line, nullptr, false);
  }

  // Why the helper host printed no line (it closed its stdout: exited).
  // Reaps it, so the failure shows its own cause, not a zombie.
  std::string host_outcome() {
    int status = 0;
    if (::waitpid(host_, &status, 0) != host_) return "could not wait for it";
    return internal::ExitInfo::from_wait_status(status).describe();
  }

  void kill_host() {
    ASSERT_EQ(::kill(host_, SIGKILL), 0);
    int status = 0;
    ASSERT_EQ(::waitpid(host_, &status, 0), host_);
  }

  std::string data_dir_;
  pid_t host_ = 0;
};

TEST_F(HostDeathTest, WorkersDieWithTheirHostAndTheNextHostFindsNothing) {
  const Json host = start_host("inflight");
  ASSERT_TRUE(host.is_object()) << "the helper host did not start: " << host_outcome();
  ASSERT_EQ(host["workers"].size(), 4u);
  kill_host();
  for (const auto& pid : host["workers"]) {
    EXPECT_TRUE(wait_gone(pid.get<pid_t>(), 2s)) << "worker " << pid << " outlived its host";
  }
  // The grandchild has no parent-death signal of its own; it carries the
  // run marker, so the next host's sweep finds and kills it.
  const pid_t grandchild = host["grandchild"].get<pid_t>();
  ASSERT_GT(grandchild, 0);
  auto report = internal::sweep_orphans(data_dir_);
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_TRUE(wait_gone(grandchild, 2s));
  EXPECT_LE(report->processes_killed, 1) << report->to_json().dump();
  // A second sweep (the next start) has nothing left to do.
  auto again = internal::sweep_orphans(data_dir_);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(again->processes_killed, 0) << again->to_json().dump();
  EXPECT_EQ(again->runs_seen, 0) << again->to_json().dump();
}

TEST_F(HostDeathTest, WorkersThatDefeatedTheParentDeathSignalAreSweptByTheNextStart) {
  const Json host = start_host("defeat");
  ASSERT_TRUE(host.is_object()) << "the helper host did not start: " << host_outcome();
  kill_host();
  // They survive their host...
  for (const auto& pid : host["workers"]) EXPECT_TRUE(process_alive(pid.get<pid_t>())) << pid;
  // ...until the next host starts with the same data dir.
  Options options = generic_options(1);
  options.data_dir = data_dir_;
  Snakepit next = start_or_die(options);
  for (const auto& pid : host["workers"]) EXPECT_TRUE(wait_gone(pid.get<pid_t>(), 2s)) << pid;
  next.shutdown();
  auto again = internal::sweep_orphans(data_dir_);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(again->processes_killed, 0) << again->to_json().dump();
}

TEST_F(HostDeathTest, TwoLiveHostsSharingADataDirLeaveEachOtherAlone) {
  Options options = generic_options(2);
  options.data_dir = data_dir_;
  Snakepit first = start_or_die(options);
  const pid_t first_worker = worker_pid(first, 0);
  Snakepit second = start_or_die(options);  // its start sweeps the same dir
  EXPECT_TRUE(process_alive(first_worker));
  EXPECT_TRUE(call(first, "ping").ok());
  auto report = internal::sweep_orphans(data_dir_);
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_EQ(report->processes_killed, 0);
  EXPECT_EQ(report->skipped_live_owner, 2) << report->to_json().dump();
  second.shutdown();
  first.shutdown();
}

}  // namespace
}  // namespace snakepit::testing
