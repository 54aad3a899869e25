#include "process/run_registry.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "process/proc_info.h"
#include "process/spawn.h"

namespace snakepit::internal {
namespace {

using ::testing::HasSubstr;
namespace fs = std::filesystem;

// ----------------------------------------------------------------- helpers --

class TempDir {
 public:
  TempDir() {
    char pattern[] = "/tmp/snakepit-registry-test-XXXXXX";
    const char* made = ::mkdtemp(pattern);
    EXPECT_NE(made, nullptr);
    path_ = made != nullptr ? made : "";
  }
  ~TempDir() {
    std::error_code ignored;
    fs::remove_all(path_, ignored);
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

std::vector<char*> c_strings(std::vector<std::string>& strings) {
  std::vector<char*> out;
  for (auto& s : strings) out.push_back(s.data());
  out.push_back(nullptr);
  return out;
}

// Polls (bounded) until `done` holds.
template <typename Predicate>
bool eventually(Predicate done, std::chrono::milliseconds bound = std::chrono::seconds(10)) {
  const auto deadline = std::chrono::steady_clock::now() + bound;
  while (!done()) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return true;
}

// A child process of the test: fork + execve, returned once the new image's
// environment is visible in /proc (a close-on-exec pipe reports the exec; the
// kernel fills in the environment a moment later). Killed (as a group when it
// leads one) and reaped on destruction.
class Child {
 public:
  Child(std::vector<std::string> argv, std::vector<std::string> env, bool own_group) : own_group_(own_group) {
    auto c_argv = c_strings(argv);
    auto c_env = c_strings(env);
    int ready[2];
    EXPECT_EQ(::pipe2(ready, O_CLOEXEC), 0);
    pid_ = ::fork();
    if (pid_ == 0) {
      if (own_group) ::setpgid(0, 0);
      ::execve(c_argv[0], c_argv.data(), c_env.data());
      ::_exit(127);
    }
    EXPECT_GT(pid_, 0);
    if (own_group) ::setpgid(pid_, pid_);
    ::close(ready[1]);
    char byte;
    while (::read(ready[0], &byte, 1) < 0 && errno == EINTR) {
    }
    ::close(ready[0]);
    EXPECT_TRUE(eventually([&] {
      auto block = read_environ(pid_);
      return !block.ok() || !block->empty();
    }));
  }
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;
  ~Child() {
    if (reaped_) return;
    ::kill(own_group_ ? -pid_ : pid_, SIGKILL);
    int status;
    ::waitpid(pid_, &status, 0);
  }

  pid_t pid() const { return pid_; }
  // Waits (bounded) for the child to exit; its wait status. A child still
  // running after the bound is a failure: it is killed so the test ends.
  int wait() {
    int status = 0;
    const bool exited = eventually([&] { return ::waitpid(pid_, &status, WNOHANG) == pid_; });
    if (!exited) {
      ADD_FAILURE() << "pid " << pid_ << " still running";
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, &status, 0);
    }
    reaped_ = true;
    return status;
  }
  // Not exited (and not reaped).
  bool running() {
    int status;
    return ::waitpid(pid_, &status, WNOHANG) == 0;
  }

 private:
  pid_t pid_ = -1;
  bool own_group_ = false;
  bool reaped_ = false;
};

std::vector<std::string> marked_env(const RunMarker& marker) { return build_environment(marker_environment(marker)); }
std::vector<std::string> plain_env() { return build_environment({}); }

std::unique_ptr<Child> start_sleep(std::vector<std::string> env, bool own_group = true) {
  return std::make_unique<Child>(std::vector<std::string>{"/bin/sleep", "60"}, std::move(env), own_group);
}

// The identity of a process that existed and is now dead and reaped.
RunOwner dead_owner() {
  const pid_t pid = ::fork();
  if (pid == 0) ::_exit(0);
  auto start = process_start_time(pid);  // exited or not, not reaped yet: still listed
  EXPECT_TRUE(start.ok());
  int status;
  EXPECT_EQ(::waitpid(pid, &status, 0), pid);
  return RunOwner{pid, start.ok() ? *start : 1};
}

std::vector<pid_t> group_members(pid_t pgid) {
  std::vector<pid_t> members;
  for (pid_t pid : list_pids()) {
    auto stat = read_proc_stat(pid);
    if (stat.ok() && stat->pgrp == pgid && stat->running()) members.push_back(pid);
  }
  return members;
}

std::string read_text(const std::string& path) {
  std::ifstream in(path);
  std::stringstream out;
  out << in.rdbuf();
  return out.str();
}

// Waits until `pid` runs /bin/sleep (a shell exec'd it) and its new
// environment shows the marker.
bool runs_sleep_with_marker(pid_t pid) {
  return eventually(
      [&] { return read_text(fmt::format("/proc/{}/comm", pid)) == "sleep\n" && read_marker(pid).has_value(); });
}

void write_text(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::trunc);
  out << text;
}

int count_fds() {
  int count = 0;
  for ([[maybe_unused]] const auto& entry : fs::directory_iterator("/proc/self/fd")) ++count;
  return count;
}

bool contains_action(const SweepReport& report, std::string_view needle) {
  for (const auto& line : report.actions) {
    if (line.find(needle) != std::string::npos) return true;
  }
  return false;
}

std::string dump_actions(const SweepReport& report) { return report.to_json().dump(2); }

// Sweep options that confine the /proc scan to this test's instance, so
// tests running in parallel never sweep each other's processes.
class SweepTest : public ::testing::Test {
 protected:
  SweepTest() {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    instance_ = fmt::format("test-{}-{}", ::getpid(), info != nullptr ? info->name() : "none");
    options_.scan_instance = instance_;
    options_.term_grace = std::chrono::milliseconds(2000);
  }

  std::unique_ptr<RunRegistry> open_dead_run() {
    auto registry = RunRegistry::open_for_owner(data_dir(), instance_, dead_owner());
    EXPECT_TRUE(registry.ok()) << registry.status();
    return registry.ok() ? std::move(*registry) : nullptr;
  }
  std::string data_dir() const { return tmp_.path() + "/data"; }

  TempDir tmp_;
  std::string instance_;
  SweepOptions options_;
};

using RunRegistryTest = SweepTest;
using ProcInfoTest = SweepTest;

// --------------------------------------------------------------- proc info --

TEST_F(ProcInfoTest, StartTimeAndMarkerOfLiveChild) {
  const RunMarker marker{std::string(32, 'a'), instance_, ::getpid(), *process_start_time(::getpid())};
  auto marked = start_sleep(marked_env(marker));
  auto plain = start_sleep(plain_env());

  auto start = process_start_time(marked->pid());
  ASSERT_TRUE(start.ok()) << start.status();
  auto stat = read_proc_stat(marked->pid());
  ASSERT_TRUE(stat.ok());
  EXPECT_EQ(stat->start_time, *start);
  EXPECT_EQ(stat->pid, marked->pid());
  EXPECT_EQ(stat->pgrp, marked->pid());
  EXPECT_EQ(stat->ppid, ::getpid());
  EXPECT_TRUE(stat->running());
  EXPECT_TRUE(process_running(marked->pid(), *start));
  EXPECT_FALSE(process_running(marked->pid(), *start + 1));

  EXPECT_EQ(read_marker(marked->pid()), marker);
  EXPECT_EQ(read_marker(plain->pid()), std::nullopt);
  EXPECT_EQ(process_uid(marked->pid()), ::geteuid());
  EXPECT_EQ(pid_namespace(marked->pid()), pid_namespace());
}

TEST_F(ProcInfoTest, ReapedPidIsNotFound) {
  const RunOwner gone = dead_owner();
  auto start = process_start_time(gone.pid);
  ASSERT_FALSE(start.ok());
  EXPECT_EQ(start.status().code(), Code::kNotFound);
  EXPECT_EQ(read_marker(gone.pid), std::nullopt);
  EXPECT_FALSE(process_running(gone.pid, gone.start_time));
  EXPECT_EQ(process_start_time(0).status().code(), Code::kNotFound);
  EXPECT_EQ(process_start_time(-1).status().code(), Code::kNotFound);
}

TEST_F(ProcInfoTest, ZombieIsNotRunning) {
  auto child = std::make_unique<Child>(std::vector<std::string>{"/bin/true"}, plain_env(), true);
  // Not reaped yet: a zombie once it exits.
  ASSERT_TRUE(eventually([&] {
    auto stat = read_proc_stat(child->pid());
    return stat.ok() && stat->state == 'Z';
  }));
  auto start = process_start_time(child->pid());
  ASSERT_TRUE(start.ok());
  EXPECT_FALSE(process_running(child->pid(), *start));
  EXPECT_EQ(child->wait(), 0);
}

TEST_F(ProcInfoTest, ParsesStatWithParenthesesAndSpacesInComm) {
  const std::string line =
      "4242 (a) b (c) R 17 4242 4242 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 987654321 1000 200 "
      "18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 0 0 0 0 0 0\n";
  auto stat = parse_proc_stat(line);
  ASSERT_TRUE(stat.ok()) << stat.status();
  EXPECT_EQ(stat->pid, 4242);
  EXPECT_EQ(stat->state, 'R');
  EXPECT_EQ(stat->ppid, 17);
  EXPECT_EQ(stat->pgrp, 4242);
  EXPECT_EQ(stat->start_time, 987654321u);

  EXPECT_EQ(parse_proc_stat("").status().code(), Code::kInvalidArgument);
  EXPECT_EQ(parse_proc_stat("12 (x) S 1 2").status().code(), Code::kInvalidArgument);
  EXPECT_EQ(parse_proc_stat("x (y) S 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20").status().code(),
            Code::kInvalidArgument);
}

TEST_F(ProcInfoTest, ParsesMarkersStrictly) {
  using namespace std::string_literals;
  const std::string id(32, 'f');
  const auto block = "A=1\0SNAKEPIT_RUN_ID="s + id + "\0SNAKEPIT_INSTANCE=x\0SNAKEPIT_OWNER_PID=12\0"s +
                     "SNAKEPIT_OWNER_START=34\0Z=2"s;
  EXPECT_EQ(parse_marker(block), (RunMarker{id, "x", 12, 34}));
  EXPECT_EQ(environ_value(block, "A"), "1");
  EXPECT_EQ(environ_value(block, "Z"), "2");
  EXPECT_EQ(environ_value(block, "SNAKEPIT_RUN"), std::nullopt);

  EXPECT_EQ(parse_marker("SNAKEPIT_RUN_ID=abc\0SNAKEPIT_OWNER_PID=12\0SNAKEPIT_OWNER_START=34"s), std::nullopt);
  EXPECT_EQ(parse_marker("SNAKEPIT_RUN_ID="s + id + "\0SNAKEPIT_OWNER_PID=-3\0SNAKEPIT_OWNER_START=34"s), std::nullopt);
  EXPECT_EQ(parse_marker("SNAKEPIT_RUN_ID="s + id + "\0SNAKEPIT_OWNER_PID=3\0SNAKEPIT_OWNER_START=x"s), std::nullopt);
  EXPECT_EQ(parse_marker("SNAKEPIT_RUN_ID="s + id + "\0SNAKEPIT_OWNER_PID=3"s), std::nullopt);
}

// ---------------------------------------------------------------- registry --

TEST_F(RunRegistryTest, OpenCreatesPrivateDirAndOwnerRecord) {
  const std::string dir = tmp_.path() + "/nested/data";
  auto registry = RunRegistry::open(dir, instance_);
  ASSERT_TRUE(registry.ok()) << registry.status();
  const RunMarker& marker = (*registry)->marker();

  struct stat st {};
  ASSERT_EQ(::lstat(dir.c_str(), &st), 0);
  EXPECT_TRUE(S_ISDIR(st.st_mode));
  EXPECT_EQ(st.st_mode & 07777, 0700u);
  ASSERT_EQ(::lstat((dir + "/runs").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0700u);
  ASSERT_EQ(::lstat((*registry)->run_dir().c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0700u);
  EXPECT_EQ((*registry)->run_dir(), dir + "/runs/" + marker.run_id);

  EXPECT_EQ(marker.run_id.size(), 32u);
  EXPECT_EQ(marker.run_id.find_first_not_of("0123456789abcdef"), std::string::npos);
  EXPECT_EQ(marker.instance, instance_);
  EXPECT_EQ(marker.owner_pid, ::getpid());
  EXPECT_EQ(marker.owner_start, *process_start_time(::getpid()));

  const std::string owner_path = (*registry)->run_dir() + "/owner.json";
  ASSERT_EQ(::lstat(owner_path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0600u);
  const Json owner = Json::parse(read_text(owner_path));
  EXPECT_EQ(owner["run_id"], marker.run_id);
  EXPECT_EQ(owner["instance"], instance_);
  EXPECT_EQ(owner["owner_pid"], ::getpid());
  EXPECT_EQ(owner["owner_start"], marker.owner_start);
  EXPECT_TRUE(owner["created"].is_number_integer());
  EXPECT_EQ(owner["boot_id"], boot_id());
  EXPECT_EQ(owner["pid_ns"], pid_namespace());

  // Nothing but the run itself: no staging dir, no temp file left behind.
  EXPECT_EQ(std::distance(fs::directory_iterator(dir + "/runs"), fs::directory_iterator{}), 1);
  EXPECT_EQ(std::distance(fs::directory_iterator((*registry)->run_dir()), fs::directory_iterator{}), 1);

  const auto env = marker_environment(marker);
  ASSERT_EQ(env.size(), 4u);
  EXPECT_EQ(env[0], (std::pair<std::string, std::string>{"SNAKEPIT_RUN_ID", marker.run_id}));
  EXPECT_EQ(env[2], (std::pair<std::string, std::string>{"SNAKEPIT_OWNER_PID", std::to_string(::getpid())}));

  auto other = RunRegistry::open(dir, instance_);
  ASSERT_TRUE(other.ok());
  EXPECT_NE((*other)->marker().run_id, marker.run_id);
}

TEST_F(RunRegistryTest, RefusesSymlinkedDataDir) {
  const std::string real = tmp_.path() + "/real";
  const std::string link = tmp_.path() + "/link";
  ASSERT_EQ(::mkdir(real.c_str(), 0700), 0);
  ASSERT_EQ(::symlink(real.c_str(), link.c_str()), 0);
  for (const std::string& path : {link, link + "/"}) {
    auto registry = RunRegistry::open(path, instance_);
    ASSERT_FALSE(registry.ok());
    EXPECT_EQ(registry.status().code(), Code::kFailedPrecondition);
    EXPECT_THAT(registry.status().message(), HasSubstr(link));
    auto sweep = sweep_orphans(path, options_);
    ASSERT_FALSE(sweep.ok());
    EXPECT_EQ(sweep.status().code(), Code::kFailedPrecondition);
  }
  EXPECT_FALSE(fs::exists(real + "/runs"));

  // runs/ itself a symlink.
  const std::string data = data_dir();
  ASSERT_EQ(::mkdir(data.c_str(), 0700), 0);
  ASSERT_EQ(::symlink(real.c_str(), (data + "/runs").c_str()), 0);
  auto registry = RunRegistry::open(data, instance_);
  ASSERT_FALSE(registry.ok());
  EXPECT_EQ(registry.status().code(), Code::kFailedPrecondition);
  EXPECT_THAT(registry.status().message(), HasSubstr(data + "/runs"));
  EXPECT_EQ(sweep_orphans(data, options_).status().code(), Code::kFailedPrecondition);
}

TEST_F(RunRegistryTest, RefusesGroupOrWorldWritableDataDir) {
  for (mode_t mode : {0777, 0770, 0702}) {
    const std::string dir = tmp_.path() + fmt::format("/open-{:o}", mode);
    ASSERT_EQ(::mkdir(dir.c_str(), 0700), 0);
    ASSERT_EQ(::chmod(dir.c_str(), mode), 0);
    auto registry = RunRegistry::open(dir, instance_);
    ASSERT_FALSE(registry.ok());
    EXPECT_EQ(registry.status().code(), Code::kFailedPrecondition);
    EXPECT_THAT(registry.status().message(), HasSubstr(dir));
    EXPECT_EQ(sweep_orphans(dir, options_).status().code(), Code::kFailedPrecondition);
    EXPECT_FALSE(fs::exists(dir + "/runs"));
  }
}

TEST_F(RunRegistryTest, RefusesDataDirOfAnotherUid) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to give a directory away";
  const std::string dir = data_dir();
  ASSERT_EQ(::mkdir(dir.c_str(), 0700), 0);
  ASSERT_EQ(::chown(dir.c_str(), 65534, 65534), 0);
  auto registry = RunRegistry::open(dir, instance_);
  ASSERT_FALSE(registry.ok());
  EXPECT_EQ(registry.status().code(), Code::kFailedPrecondition);
  EXPECT_THAT(registry.status().message(), HasSubstr(dir));
}

TEST_F(RunRegistryTest, RejectsBadInstanceNames) {
  EXPECT_EQ(RunRegistry::open(data_dir(), "a\nb").status().code(), Code::kInvalidArgument);
  EXPECT_EQ(RunRegistry::open(data_dir(), std::string(300, 'x')).status().code(), Code::kInvalidArgument);
  EXPECT_EQ(RunRegistry::open("", "x").status().code(), Code::kInvalidArgument);
}

TEST_F(RunRegistryTest, AddsAndRemovesWorkerRecords) {
  auto registry = RunRegistry::open(data_dir(), instance_);
  ASSERT_TRUE(registry.ok()) << registry.status();
  auto worker = start_sleep(marked_env((*registry)->marker()));
  ASSERT_TRUE((*registry)->add_worker(worker->pid(), "worker-1").ok());

  const std::string record_path = fmt::format("{}/{}.json", (*registry)->run_dir(), worker->pid());
  struct stat st {};
  ASSERT_EQ(::lstat(record_path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0600u);
  const Json record = Json::parse(read_text(record_path));
  EXPECT_EQ(record["pid"], worker->pid());
  EXPECT_EQ(record["start_time"], *process_start_time(worker->pid()));
  EXPECT_EQ(record["pgid"], worker->pid());
  EXPECT_EQ(record["worker_id"], "worker-1");
  EXPECT_EQ(record["run_id"], (*registry)->marker().run_id);
  // Only owner.json and the record: the temp file was renamed.
  EXPECT_EQ(std::distance(fs::directory_iterator((*registry)->run_dir()), fs::directory_iterator{}), 2);

  (*registry)->remove_worker(worker->pid());
  EXPECT_FALSE(fs::exists(record_path));
  (*registry)->remove_worker(worker->pid());  // missing is fine

  const RunOwner gone = dead_owner();
  EXPECT_EQ((*registry)->add_worker(gone.pid, "gone").code(), Code::kNotFound);
  EXPECT_EQ((*registry)->add_worker(1, "init").code(), Code::kInvalidArgument);
  EXPECT_EQ((*registry)->add_worker(0, "zero").code(), Code::kInvalidArgument);
  EXPECT_EQ((*registry)->add_worker(::getpid(), "self").code(), Code::kInvalidArgument);
}

TEST_F(RunRegistryTest, CloseRemovesTheRunDirectory) {
  std::string run_dir;
  {
    auto registry = RunRegistry::open(data_dir(), instance_);
    ASSERT_TRUE(registry.ok());
    run_dir = (*registry)->run_dir();
    auto worker = start_sleep(marked_env((*registry)->marker()));
    ASSERT_TRUE((*registry)->add_worker(worker->pid(), "w").ok());
    (*registry)->close();
    EXPECT_FALSE(fs::exists(run_dir));
    (*registry)->close();  // idempotent
    EXPECT_EQ((*registry)->add_worker(worker->pid(), "w").code(), Code::kFailedPrecondition);
    EXPECT_TRUE(fs::exists(data_dir() + "/runs"));
  }
  {
    auto registry = RunRegistry::open(data_dir(), instance_);
    ASSERT_TRUE(registry.ok());
    run_dir = (*registry)->run_dir();
    ASSERT_TRUE(fs::exists(run_dir));
  }  // the destructor closes
  EXPECT_FALSE(fs::exists(run_dir));
}

// ------------------------------------------------------------------- sweep --

TEST_F(SweepTest, KillsWorkerOfDeadOwnerWithItsProcessGroup) {
  auto registry = open_dead_run();
  ASSERT_NE(registry, nullptr);
  // The worker leads its group and has a grandchild in it.
  Child worker({"/bin/sh", "-c", "sleep 60 & exec sleep 60"}, marked_env(registry->marker()), true);
  ASSERT_TRUE(eventually([&] { return group_members(worker.pid()).size() == 2; }));
  ASSERT_TRUE(runs_sleep_with_marker(worker.pid()));
  pid_t grandchild = 0;
  for (pid_t pid : group_members(worker.pid())) {
    if (pid != worker.pid()) grandchild = pid;
  }
  const auto grandchild_start = *process_start_time(grandchild);
  ASSERT_TRUE(registry->add_worker(worker.pid(), "worker-1").ok());
  const std::string run_dir = registry->run_dir();

  auto report = sweep_orphans(data_dir(), options_);
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_EQ(report->runs_seen, 1) << dump_actions(*report);
  EXPECT_EQ(report->processes_killed, 1) << dump_actions(*report);
  EXPECT_EQ(report->runs_removed, 1);
  EXPECT_EQ(report->records_invalid, 0);
  EXPECT_EQ(report->skipped_live_owner, 0);
  EXPECT_TRUE(contains_action(*report, "SIGTERM to process group")) << dump_actions(*report);

  const int status = worker.wait();
  ASSERT_TRUE(WIFSIGNALED(status));
  EXPECT_EQ(WTERMSIG(status), SIGTERM);
  EXPECT_TRUE(eventually([&] { return !process_running(grandchild, grandchild_start); }));
  EXPECT_FALSE(fs::exists(run_dir));
}

TEST_F(SweepTest, EscalatesToSigkillAfterTheGrace) {
  auto registry = open_dead_run();
  ASSERT_NE(registry, nullptr);
  // SIG_IGN survives exec: this sleep ignores SIGTERM.
  Child worker({"/bin/sh", "-c", "trap '' TERM; exec sleep 60"}, marked_env(registry->marker()), true);
  ASSERT_TRUE(runs_sleep_with_marker(worker.pid()));
  ASSERT_TRUE(registry->add_worker(worker.pid(), "stubborn").ok());
  options_.term_grace = std::chrono::milliseconds(50);

  auto report = sweep_orphans(data_dir(), options_);
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_EQ(report->processes_killed, 1) << dump_actions(*report);
  EXPECT_EQ(report->runs_removed, 1) << dump_actions(*report);
  EXPECT_TRUE(contains_action(*report, "SIGKILL")) << dump_actions(*report);
  const int status = worker.wait();
  ASSERT_TRUE(WIFSIGNALED(status));
  EXPECT_EQ(WTERMSIG(status), SIGKILL);
}

TEST_F(SweepTest, EscalatesToSigkillForAGroupMemberThatOutlivesItsLeader) {
  auto registry = open_dead_run();
  ASSERT_NE(registry, nullptr);
  // The leader dies on SIGTERM; the grandchild in its group ignores it.
  Child worker({"/bin/sh", "-c", "(trap '' TERM; exec sleep 60) & exec sleep 60"}, marked_env(registry->marker()),
               true);
  ASSERT_TRUE(eventually([&] { return group_members(worker.pid()).size() == 2; }));
  pid_t grandchild = 0;
  for (pid_t pid : group_members(worker.pid())) {
    if (pid != worker.pid()) grandchild = pid;
  }
  ASSERT_TRUE(runs_sleep_with_marker(worker.pid()));
  ASSERT_TRUE(runs_sleep_with_marker(grandchild));
  const auto grandchild_start = *process_start_time(grandchild);
  ASSERT_TRUE(registry->add_worker(worker.pid(), "w").ok());
  options_.term_grace = std::chrono::milliseconds(50);

  auto report = sweep_orphans(data_dir(), options_);
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_EQ(report->processes_killed, 1) << dump_actions(*report);
  EXPECT_EQ(report->runs_removed, 1) << dump_actions(*report);
  EXPECT_TRUE(contains_action(*report, "SIGKILL")) << dump_actions(*report);
  const int status = worker.wait();
  ASSERT_TRUE(WIFSIGNALED(status));
  EXPECT_EQ(WTERMSIG(status), SIGTERM);
  EXPECT_FALSE(process_running(grandchild, grandchild_start));  // the sweep waited for it
}

TEST_F(SweepTest, NeverKillsAnUnrelatedProcessAtARecordedPid) {
  auto registry = open_dead_run();
  ASSERT_NE(registry, nullptr);
  // Processes below that carry a marker name a live owner (this process):
  // one naming the dead owner would be an orphan by its marker, and the /proc
  // scan would rightly kill it whatever the record says.
  const RunOwner self{::getpid(), *process_start_time(::getpid())};
  // 1. A live process without any marker (the pid was reused by someone else).
  auto unmarked = start_sleep(plain_env());
  ASSERT_TRUE(registry->add_worker(unmarked->pid(), "reused").ok());
  // 2. The right run id, but a start time other than the recorded one.
  RunMarker same_run = registry->marker();
  same_run.owner_pid = self.pid;
  same_run.owner_start = self.start_time;
  auto restarted = start_sleep(marked_env(same_run));
  ASSERT_TRUE(registry->add_worker(restarted->pid(), "restarted").ok());
  const std::string record_path = fmt::format("{}/{}.json", registry->run_dir(), restarted->pid());
  Json record = Json::parse(read_text(record_path));
  record["start_time"] = record["start_time"].get<std::uint64_t>() + 1;
  write_text(record_path, record.dump());
  // 3. Another run's marker, right start time.
  const RunMarker other{std::string(32, 'b'), instance_, self.pid, self.start_time};
  auto foreign = start_sleep(marked_env(other));
  ASSERT_TRUE(registry->add_worker(foreign->pid(), "foreign").ok());
  // 4. This very process, recorded by hand.
  write_text(fmt::format("{}/{}.json", registry->run_dir(), ::getpid()),
             Json{{"pid", ::getpid()},
                  {"start_time", *process_start_time(::getpid())},
                  {"pgid", ::getpgrp()},
                  {"worker_id", "self"},
                  {"run_id", registry->marker().run_id}}
                 .dump());

  auto report = sweep_orphans(data_dir(), options_);
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_EQ(report->processes_killed, 0) << dump_actions(*report);
  EXPECT_EQ(report->records_invalid, 0) << dump_actions(*report);
  EXPECT_TRUE(unmarked->running());
  EXPECT_TRUE(restarted->running());
  EXPECT_TRUE(foreign->running());
  EXPECT_TRUE(contains_action(*report, fmt::format("pid {} of run {}: it carries no run marker; not touched",
                                                   unmarked->pid(), registry->marker().run_id)))
      << dump_actions(*report);
  EXPECT_TRUE(contains_action(*report, fmt::format("worker 'restarted' pid {} of run {}: pid now belongs to another "
                                                   "process",
                                                   restarted->pid(), registry->marker().run_id)))
      << dump_actions(*report);
  EXPECT_TRUE(contains_action(*report, fmt::format("it carries the marker of run {}", other.run_id)))
      << dump_actions(*report);
  EXPECT_TRUE(contains_action(*report, "it is this process")) << dump_actions(*report);
  EXPECT_TRUE(contains_action(*report, fmt::format("pid {} marked for run {} (found in /proc): its marked owner pid {} "
                                                   "is alive; not touched",
                                                   restarted->pid(), registry->marker().run_id, self.pid)))
      << dump_actions(*report);
  // Every record was stale: the run is gone.
  EXPECT_EQ(report->runs_removed, 1);
}

TEST_F(SweepTest, NeverTouchesARunWhoseOwnerIsAlive) {
  auto registry = RunRegistry::open(data_dir(), instance_);  // owned by this test process
  ASSERT_TRUE(registry.ok());
  auto worker = start_sleep(marked_env((*registry)->marker()));
  ASSERT_TRUE((*registry)->add_worker(worker->pid(), "w").ok());
  // Even a torn record in a live run is left alone.
  write_text((*registry)->run_dir() + "/999999.json", "{\"pid\": 9");

  for (bool dry_run : {true, false}) {
    options_.dry_run = dry_run;
    auto report = sweep_orphans(data_dir(), options_);
    ASSERT_TRUE(report.ok()) << report.status();
    EXPECT_EQ(report->runs_seen, 1);
    EXPECT_EQ(report->skipped_live_owner, 1);
    EXPECT_EQ(report->processes_killed, 0) << dump_actions(*report);
    EXPECT_EQ(report->runs_removed, 0);
    EXPECT_EQ(report->records_invalid, 0);
    EXPECT_TRUE(worker->running());
    EXPECT_TRUE(fs::exists(fmt::format("{}/{}.json", (*registry)->run_dir(), worker->pid())));
  }
}

// A second host: a child process that opens its own registry in the same data
// dir, records a worker, sweeps when told to and reports the sweep.
class OtherHost {
 public:
  OtherHost(const std::string& data_dir, const std::string& instance) {
    int to_host[2];
    int from_host[2];
    EXPECT_EQ(::pipe2(to_host, O_CLOEXEC), 0);
    EXPECT_EQ(::pipe2(from_host, O_CLOEXEC), 0);
    pid_ = ::fork();
    if (pid_ == 0) {
      ::close(to_host[1]);
      ::close(from_host[0]);
      run(data_dir, instance, to_host[0], from_host[1]);
    }
    ::close(to_host[0]);
    ::close(from_host[1]);
    command_ = to_host[1];
    replies_ = from_host[0];
    worker_ = std::stoi(reply());
  }
  ~OtherHost() {
    ::close(command_);  // EOF: the host stops its worker and exits
    ::close(replies_);
    int status = 0;
    ::waitpid(pid_, &status, 0);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
  }
  pid_t worker() const { return worker_; }
  Json sweep() {
    EXPECT_EQ(::write(command_, "s", 1), 1);
    return Json::parse(reply());
  }

 private:
  [[noreturn]] static void run(const std::string& data_dir, const std::string& instance, int commands, int replies) {
    int code = 1;
    {
      auto registry = RunRegistry::open(data_dir, instance);
      if (registry.ok()) {
        Child worker({"/bin/sleep", "60"}, marked_env((*registry)->marker()), true);
        if ((*registry)->add_worker(worker.pid(), "b-1").ok()) {
          send(replies, std::to_string(worker.pid()));
          char c;
          while (::read(commands, &c, 1) == 1) {
            SweepOptions options;
            options.scan_instance = instance;
            auto report = sweep_orphans(data_dir, options);
            send(replies, report.ok() ? report->to_json().dump() : Json{{"error", report.status().to_string()}}.dump());
          }
          code = 0;
        }
      }
    }
    ::_exit(code);
  }
  static void send(int fd, const std::string& line) {
    const std::string framed = line + "\n";
    (void)!::write(fd, framed.data(), framed.size());
  }
  std::string reply() {
    std::string line;
    char c;
    while (::read(replies_, &c, 1) == 1 && c != '\n') line += c;
    return line;
  }

  pid_t pid_ = -1;
  int command_ = -1;
  int replies_ = -1;
  pid_t worker_ = -1;
};

TEST_F(SweepTest, TwoLiveHostsSharingADataDirNeverTouchEachOther) {
  auto registry = RunRegistry::open(data_dir(), instance_);
  ASSERT_TRUE(registry.ok());
  auto worker = start_sleep(marked_env((*registry)->marker()));
  ASSERT_TRUE((*registry)->add_worker(worker->pid(), "a-1").ok());
  OtherHost other(data_dir(), instance_);
  const auto other_worker_start = *process_start_time(other.worker());

  // A sweep from this host.
  auto report = sweep_orphans(data_dir(), options_);
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_EQ(report->runs_seen, 2);
  EXPECT_EQ(report->skipped_live_owner, 2) << dump_actions(*report);
  EXPECT_EQ(report->processes_killed, 0) << dump_actions(*report);
  EXPECT_EQ(report->runs_removed, 0);
  // A sweep from the other host.
  const Json theirs = other.sweep();
  EXPECT_EQ(theirs["runs_seen"], 2) << theirs.dump(2);
  EXPECT_EQ(theirs["skipped_live_owner"], 2) << theirs.dump(2);
  EXPECT_EQ(theirs["processes_killed"], 0) << theirs.dump(2);

  EXPECT_TRUE(worker->running());
  EXPECT_TRUE(process_running(other.worker(), other_worker_start));
}

TEST_F(SweepTest, CorruptRecordsAreNotTrustedButTheProcScanFindsTheWorker) {
  options_.scan_proc = false;  // only the run's own marker scan may find it
  auto registry = open_dead_run();
  ASSERT_NE(registry, nullptr);
  Child worker({"/bin/sh", "-c", "sleep 60 & exec sleep 60"}, marked_env(registry->marker()), true);
  ASSERT_TRUE(eventually([&] { return group_members(worker.pid()).size() == 2; }));
  ASSERT_TRUE(runs_sleep_with_marker(worker.pid()));
  ASSERT_TRUE(registry->add_worker(worker.pid(), "w").ok());
  const std::string dir = registry->run_dir();
  // Torn (truncated) JSON in the worker's own record.
  const std::string record = read_text(fmt::format("{}/{}.json", dir, worker.pid()));
  write_text(fmt::format("{}/{}.json", dir, worker.pid()), record.substr(0, record.size() / 2));
  // Garbage, an oversized record, a record missing fields, a torn temp file.
  write_text(dir + "/4000001.json", std::string("\x01\x02garbage\xff", 11));
  write_text(dir + "/4000002.json", "{\"pid\": 4000002, \"pad\": \"" + std::string(70 * 1024, 'x') + "\"}");
  write_text(dir + "/4000003.json", "{\"pid\": 4000003}");
  write_text(dir + "/.tmp-4000004-0", "{\"pid\": 40");
  // A symlink posing as a record: never followed.
  ASSERT_EQ(::symlink("/etc/passwd", (dir + "/4000005.json").c_str()), 0);

  auto report = sweep_orphans(data_dir(), options_);
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_EQ(report->records_invalid, 6) << dump_actions(*report);
  EXPECT_EQ(report->processes_killed, 1) << dump_actions(*report);
  EXPECT_EQ(report->runs_removed, 1) << dump_actions(*report);
  EXPECT_TRUE(contains_action(*report, "above the 65536 byte limit")) << dump_actions(*report);
  EXPECT_TRUE(contains_action(*report, "is a symlink")) << dump_actions(*report);
  const int status = worker.wait();
  ASSERT_TRUE(WIFSIGNALED(status));
  EXPECT_TRUE(eventually([&] { return group_members(worker.pid()).empty(); }));
  EXPECT_FALSE(fs::exists(dir));
}

TEST_F(SweepTest, CorruptOwnerRecordLeavesTheRunButKillsMarkedOrphans) {
  options_.scan_proc = false;
  auto registry = open_dead_run();
  ASSERT_NE(registry, nullptr);
  auto worker = start_sleep(marked_env(registry->marker()));
  ASSERT_TRUE(registry->add_worker(worker->pid(), "w").ok());
  write_text(registry->run_dir() + "/owner.json", "{\"run_id\": ");

  auto report = sweep_orphans(data_dir(), options_);
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_EQ(report->records_invalid, 1) << dump_actions(*report);
  EXPECT_EQ(report->processes_killed, 1) << dump_actions(*report);
  EXPECT_EQ(report->runs_removed, 0);
  EXPECT_TRUE(WIFSIGNALED(worker->wait()));
  EXPECT_TRUE(fs::exists(registry->run_dir()));
}

TEST_F(SweepTest, ProcScanKillsMarkedOrphansWithoutAnyRegistry) {
  const RunMarker marker{std::string(32, 'c'), instance_, dead_owner().pid, 12345};
  auto orphan = start_sleep(marked_env(marker));
  // A marked process of a live owner, and one of another instance: not ours to sweep here.
  const RunMarker live{std::string(32, 'd'), instance_, ::getpid(), *process_start_time(::getpid())};
  auto alive = start_sleep(marked_env(live));
  RunMarker elsewhere = marker;
  elsewhere.instance = instance_ + "-other";
  auto other_instance = start_sleep(marked_env(elsewhere));

  auto report = sweep_orphans(tmp_.path() + "/no-such-dir", options_);
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_EQ(report->runs_seen, 0);
  EXPECT_EQ(report->processes_killed, 1) << dump_actions(*report);
  EXPECT_TRUE(WIFSIGNALED(orphan->wait()));
  EXPECT_TRUE(alive->running());
  EXPECT_TRUE(other_instance->running());
  EXPECT_FALSE(fs::exists(tmp_.path() + "/no-such-dir"));

  options_.scan_proc = false;
  report = sweep_orphans(tmp_.path() + "/no-such-dir", options_);
  ASSERT_TRUE(report.ok());
  EXPECT_EQ(report->processes_killed, 0);
}

TEST_F(SweepTest, DryRunKillsNothingAndReportsWhatItWouldDo) {
  auto registry = open_dead_run();
  ASSERT_NE(registry, nullptr);
  auto worker = start_sleep(marked_env(registry->marker()));
  ASSERT_TRUE(registry->add_worker(worker->pid(), "w").ok());
  options_.dry_run = true;

  auto report = sweep_orphans(data_dir(), options_);
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_TRUE(report->dry_run);
  EXPECT_EQ(report->processes_killed, 1) << dump_actions(*report);
  EXPECT_EQ(report->runs_removed, 1);
  EXPECT_TRUE(contains_action(*report, fmt::format("worker 'w' pid {} of run {}: would send SIGTERM", worker->pid(),
                                                   registry->marker().run_id)))
      << dump_actions(*report);
  EXPECT_TRUE(contains_action(*report, "would remove the run directory")) << dump_actions(*report);
  EXPECT_TRUE(worker->running());
  EXPECT_TRUE(fs::exists(fmt::format("{}/{}.json", registry->run_dir(), worker->pid())));
  const Json json = report->to_json();
  EXPECT_EQ(json["dry_run"], true);
  EXPECT_EQ(json["processes_killed"], 1);
  EXPECT_EQ(json["actions"].size(), report->actions.size());

  options_.dry_run = false;
  report = sweep_orphans(data_dir(), options_);
  ASSERT_TRUE(report.ok());
  EXPECT_EQ(report->processes_killed, 1);
  EXPECT_TRUE(WIFSIGNALED(worker->wait()));
}

TEST_F(SweepTest, RemovesAbandonedStagingDirectoriesOnly) {
  auto registry = RunRegistry::open(data_dir(), instance_);  // creates runs/
  ASSERT_TRUE(registry.ok());
  const std::string runs = data_dir() + "/runs";
  const std::string old_staging = runs + "/.new-" + std::string(32, 'e');
  const std::string fresh_staging = runs + "/.new-" + std::string(32, 'f');
  ASSERT_EQ(::mkdir(old_staging.c_str(), 0700), 0);
  ASSERT_EQ(::mkdir(fresh_staging.c_str(), 0700), 0);
  const timespec old_times[2] = {{std::time(nullptr) - 3600, 0}, {std::time(nullptr) - 3600, 0}};
  ASSERT_EQ(::utimensat(AT_FDCWD, old_staging.c_str(), old_times, 0), 0);
  // An entry that is a symlink to a directory posing as a run: refused, target untouched.
  const std::string decoy = tmp_.path() + "/decoy";
  ASSERT_EQ(::mkdir(decoy.c_str(), 0700), 0);
  write_text(decoy + "/owner.json", "{}");
  ASSERT_EQ(::symlink(decoy.c_str(), (runs + "/" + std::string(32, '1')).c_str()), 0);

  auto report = sweep_orphans(data_dir(), options_);
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_FALSE(fs::exists(old_staging)) << dump_actions(*report);
  EXPECT_TRUE(fs::exists(fresh_staging));
  EXPECT_TRUE(fs::exists(decoy + "/owner.json"));
  EXPECT_TRUE(fs::is_symlink(runs + "/" + std::string(32, '1')));
  EXPECT_TRUE(contains_action(*report, "not a directory of ours; refused")) << dump_actions(*report);
  EXPECT_TRUE(fs::exists((*registry)->run_dir()));
}

TEST_F(SweepTest, LeaksNoDescriptors) {
  const int before = count_fds();
  {
    auto live = RunRegistry::open(data_dir(), instance_);
    ASSERT_TRUE(live.ok());
    auto registry = open_dead_run();
    ASSERT_NE(registry, nullptr);
    auto worker = start_sleep(marked_env(registry->marker()));
    ASSERT_TRUE(registry->add_worker(worker->pid(), "w").ok());
    write_text(registry->run_dir() + "/4000001.json", "garbage");
    auto report = sweep_orphans(data_dir(), options_);
    ASSERT_TRUE(report.ok());
    EXPECT_EQ(report->processes_killed, 1);
    EXPECT_TRUE(WIFSIGNALED(worker->wait()));
    registry->remove_worker(worker->pid());
    (*live)->close();
  }
  EXPECT_EQ(count_fds(), before);
}

TEST(RunRegistryDefaults, DataDirFollowsTheEnvironment) {
  const char* saved_data = std::getenv("SNAKEPIT_DATA_DIR");
  const char* saved_xdg = std::getenv("XDG_RUNTIME_DIR");
  const std::string data = saved_data != nullptr ? saved_data : "";
  const std::string xdg = saved_xdg != nullptr ? saved_xdg : "";
  ::setenv("SNAKEPIT_DATA_DIR", "/x/data", 1);
  ::setenv("XDG_RUNTIME_DIR", "/run/user/7", 1);
  EXPECT_EQ(default_data_dir(), "/x/data");
  ::unsetenv("SNAKEPIT_DATA_DIR");
  EXPECT_EQ(default_data_dir(), "/run/user/7/snakepit");
  ::unsetenv("XDG_RUNTIME_DIR");
  EXPECT_EQ(default_data_dir(), fmt::format("/tmp/snakepit-{}", ::geteuid()));
  if (saved_data != nullptr) ::setenv("SNAKEPIT_DATA_DIR", data.c_str(), 1);
  if (saved_xdg != nullptr) ::setenv("XDG_RUNTIME_DIR", xdg.c_str(), 1);
}

}  // namespace
}  // namespace snakepit::internal
