#include "process/run_registry.h"

#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <set>
#include <thread>

#include <fmt/format.h>

#include "base/errno_status.h"

namespace snakepit::internal {
namespace {

constexpr const char* kOwnerFile = "owner.json";
constexpr const char* kStagingPrefix = ".new-";
constexpr const char* kTempPrefix = ".tmp-";
constexpr std::size_t kMaxInstanceBytes = 256;
// A staging directory without a valid owner.json older than this was
// abandoned by a host that died inside open().
constexpr std::time_t kStagingGraceSeconds = 60;
// How long the sweep waits for SIGKILLed processes to disappear.
constexpr std::chrono::milliseconds kKillWait{2000};
constexpr int kOwnerFormatVersion = 1;
// Looks at an empty environ (a process inside execve) this often, 2 ms apart.
constexpr int kEmptyEnvironRetries = 25;

// ---------------------------------------------------------------- helpers --

bool is_run_id(std::string_view text) {
  if (text.size() != 32) return false;
  return std::all_of(text.begin(), text.end(), [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

std::string dump(const Json& json) { return json.dump(-1, ' ', false, Json::error_handler_t::replace); }

Result<std::string> random_run_id() {
  unsigned char bytes[16];
  std::size_t got = 0;
  while (got < sizeof bytes) {
    const ssize_t n = ::getrandom(bytes + got, sizeof bytes - got, 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      break;  // ENOSYS and friends: fall back to /dev/urandom
    }
    got += static_cast<std::size_t>(n);
  }
  if (got < sizeof bytes) {
    auto data = read_bounded("/dev/urandom", sizeof bytes);
    if (!data.ok()) return data.status();
    if (data->size() < sizeof bytes) return internal_error("short read from /dev/urandom");
    std::copy(data->begin(), data->begin() + sizeof bytes, bytes);
  }
  std::string id;
  id.reserve(32);
  for (unsigned char b : bytes) id += fmt::format("{:02x}", b);
  return id;
}

std::vector<std::string> list_dir(int dir_fd) {
  std::vector<std::string> names;
  const int fd = ::fcntl(dir_fd, F_DUPFD_CLOEXEC, 0);
  if (fd < 0) return names;
  DIR* dir = ::fdopendir(fd);  // owns fd from here on
  if (dir == nullptr) {
    ::close(fd);
    return names;
  }
  ::rewinddir(dir);
  while (const dirent* entry = ::readdir(dir)) {
    const std::string_view name(entry->d_name);
    if (name != "." && name != "..") names.emplace_back(name);
  }
  ::closedir(dir);
  return names;
}

// Opens (and with `create`, makes) the directory `name` under `parent_fd`
// without following a symlink; refuses one that is not ours or that others
// may write. `shown` names it in errors.
Result<UniqueFd> open_private_dir(int parent_fd, const char* name, const std::string& shown, bool create) {
  bool created = false;
  if (create) {
    if (::mkdirat(parent_fd, name, 0700) == 0) {
      created = true;
    } else if (errno != EEXIST) {
      return errno_status(fmt::format("create directory {}", shown), errno);
    }
  }
  struct stat st {};
  if (::fstatat(parent_fd, name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
    return errno_status(fmt::format("stat {}", shown), errno);
  }
  if (S_ISLNK(st.st_mode)) {
    return failed_precondition(fmt::format("data directory {} is a symlink; refusing to use it", shown),
                               Json{{"path", shown}});
  }
  if (!S_ISDIR(st.st_mode)) {
    return failed_precondition(fmt::format("data directory {} is not a directory", shown), Json{{"path", shown}});
  }
  UniqueFd fd(::openat(parent_fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!fd.valid()) {
    if (errno == ELOOP || errno == ENOTDIR) {
      return failed_precondition(fmt::format("data directory {} is a symlink; refusing to use it", shown),
                                 Json{{"path", shown}});
    }
    return errno_status(fmt::format("open directory {}", shown), errno);
  }
  if (::fstat(fd.get(), &st) != 0) return errno_status(fmt::format("stat {}", shown), errno);
  if (st.st_uid != ::geteuid()) {
    return failed_precondition(
        fmt::format("data directory {} is owned by uid {}, not by us (uid {})", shown, st.st_uid, ::geteuid()),
        Json{{"path", shown}, {"uid", st.st_uid}});
  }
  if (created && ::fchmod(fd.get(), 0700) != 0) return errno_status(fmt::format("chmod {}", shown), errno);
  if (created) st.st_mode = (st.st_mode & ~07777u) | 0700;
  if ((st.st_mode & (S_IWGRP | S_IWOTH)) != 0) {
    return failed_precondition(
        fmt::format("data directory {} is writable by group or others (mode {:o}); refusing to use it", shown,
                    st.st_mode & 07777),
        Json{{"path", shown}, {"mode", st.st_mode & 07777}});
  }
  return fd;
}

std::string strip_trailing_slashes(std::string path) {
  while (path.size() > 1 && path.back() == '/') path.pop_back();
  return path;
}

// Opens the data dir (creating it and missing parents if `create`). NotFound
// when it does not exist and !create.
Result<UniqueFd> open_data_dir(const std::string& data_dir, bool create) {
  if (data_dir.empty()) return invalid_argument("empty data directory path");
  if (create) {
    for (std::size_t slash = data_dir.find('/', 1); slash != std::string::npos; slash = data_dir.find('/', slash + 1)) {
      const std::string parent = data_dir.substr(0, slash);
      if (::mkdir(parent.c_str(), 0700) != 0 && errno != EEXIST) {
        return errno_status(fmt::format("create directory {}", parent), errno);
      }
    }
  }
  return open_private_dir(AT_FDCWD, data_dir.c_str(), data_dir, create);
}

// Reads a small regular file of ours under dir_fd, refusing symlinks, other
// file types and anything above `max` bytes (InvalidArgument).
Result<std::string> read_record_file(int dir_fd, const std::string& name, std::size_t max) {
  UniqueFd fd(::openat(dir_fd, name.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY));
  if (!fd.valid()) {
    if (errno == ELOOP) return invalid_argument("is a symlink");
    return errno_status("open", errno);
  }
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) return errno_status("stat", errno);
  if (!S_ISREG(st.st_mode)) return invalid_argument("not a regular file");
  if (st.st_uid != ::geteuid()) return invalid_argument(fmt::format("owned by uid {}", st.st_uid));
  if (static_cast<std::uint64_t>(st.st_size) > max) {
    return invalid_argument(fmt::format("{} bytes, above the {} byte limit", st.st_size, max));
  }
  bool truncated = false;
  auto content = read_fd_bounded(fd.get(), max, &truncated, name);
  if (content.ok() && truncated) return invalid_argument(fmt::format("grew above the {} byte limit", max));
  return content;
}

// Writes `content` to dir_fd/name via dir_fd/temp_name + rename.
Status write_file_atomic(int dir_fd, const std::string& name, const std::string& temp_name,
                         const std::string& content) {
  UniqueFd fd(::openat(dir_fd, temp_name.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600));
  if (!fd.valid()) return errno_status(fmt::format("create {}", temp_name), errno);
  std::size_t written = 0;
  Status status;
  while (written < content.size()) {
    const ssize_t n = ::write(fd.get(), content.data() + written, content.size() - written);
    if (n < 0) {
      if (errno == EINTR) continue;
      status = errno_status(fmt::format("write {}", temp_name), errno);
      break;
    }
    written += static_cast<std::size_t>(n);
  }
  if (status.ok() && ::close(fd.release()) != 0) status = errno_status(fmt::format("close {}", temp_name), errno);
  if (status.ok() && ::renameat(dir_fd, temp_name.c_str(), dir_fd, name.c_str()) != 0) {
    status = errno_status(fmt::format("rename {} to {}", temp_name, name), errno);
  }
  if (!status.ok()) ::unlinkat(dir_fd, temp_name.c_str(), 0);
  return status;
}

// Removes parent_fd/name and the files in it, without following symlinks.
// A directory that is already gone is fine.
Status remove_dir_tree(int parent_fd, const std::string& name) {
  UniqueFd dir(::openat(parent_fd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!dir.valid()) {
    if (errno == ENOENT) return {};
    return errno_status(fmt::format("open {}", name), errno);
  }
  for (int attempt = 0; attempt < 3; ++attempt) {
    for (const auto& entry : list_dir(dir.get())) {
      if (::unlinkat(dir.get(), entry.c_str(), 0) != 0 && errno == EISDIR) {
        ::unlinkat(dir.get(), entry.c_str(), AT_REMOVEDIR);  // only an empty one; reported below
      }
    }
    if (::unlinkat(parent_fd, name.c_str(), AT_REMOVEDIR) == 0 || errno == ENOENT) return {};
    if (errno != ENOTEMPTY && errno != EEXIST) break;
  }
  return errno_status(fmt::format("remove {}", name), errno);
}

// Rejects JSON nested deeper than `max_depth` before it reaches the parser.
bool nesting_within(std::string_view text, int max_depth) {
  int depth = 0;
  bool in_string = false;
  bool escaped = false;
  for (char c : text) {
    if (in_string) {
      if (escaped) {
        escaped = false;
      } else if (c == '\\') {
        escaped = true;
      } else if (c == '"') {
        in_string = false;
      }
      continue;
    }
    if (c == '"') {
      in_string = true;
    } else if (c == '{' || c == '[') {
      if (++depth > max_depth) return false;
    } else if (c == '}' || c == ']') {
      --depth;
    }
  }
  return true;
}

std::optional<Json> parse_object(std::string_view text, std::string* why) {
  if (!nesting_within(text, 4)) {
    *why = "nested too deeply";
    return std::nullopt;
  }
  Json json = Json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (json.is_discarded() || !json.is_object()) {
    *why = "not a JSON object";
    return std::nullopt;
  }
  return json;
}

std::optional<std::uint64_t> json_u64(const Json& json, const char* key) {
  const auto it = json.find(key);
  if (it == json.end()) return std::nullopt;
  if (it->is_number_unsigned()) return it->get<std::uint64_t>();
  if (it->is_number_integer() && it->get<std::int64_t>() >= 0)
    return static_cast<std::uint64_t>(it->get<std::int64_t>());
  return std::nullopt;
}

std::optional<pid_t> json_pid(const Json& json, const char* key, pid_t min) {
  const auto value = json_u64(json, key);
  if (!value || *value < static_cast<std::uint64_t>(min) || *value > static_cast<std::uint64_t>(INT_MAX)) {
    return std::nullopt;
  }
  return static_cast<pid_t>(*value);
}

std::optional<std::string> json_string(const Json& json, const char* key) {
  const auto it = json.find(key);
  if (it == json.end() || !it->is_string()) return std::nullopt;
  return it->get<std::string>();
}

struct OwnerRecord {
  RunMarker marker;
  std::string boot_id;
  std::string pid_ns;
};

std::optional<OwnerRecord> parse_owner(std::string_view text, const std::string& run_id, std::string* why) {
  auto json = parse_object(text, why);
  if (!json) return std::nullopt;
  OwnerRecord owner;
  auto id = json_string(*json, "run_id");
  auto instance = json_string(*json, "instance");
  auto pid = json_pid(*json, "owner_pid", 1);
  auto start = json_u64(*json, "owner_start");
  if (!id || !instance || !pid || !start) {
    *why = "missing or mistyped field (run_id, instance, owner_pid, owner_start)";
    return std::nullopt;
  }
  if (*id != run_id) {
    *why = fmt::format("names run {}", *id);
    return std::nullopt;
  }
  owner.marker = RunMarker{std::move(*id), std::move(*instance), *pid, *start};
  owner.boot_id = json_string(*json, "boot_id").value_or("");
  owner.pid_ns = json_string(*json, "pid_ns").value_or("");
  return owner;
}

struct WorkerRecord {
  pid_t pid = 0;
  std::uint64_t start_time = 0;
  pid_t pgid = 0;
  std::string worker_id;
};

std::optional<WorkerRecord> parse_worker(std::string_view text, const std::string& run_id, pid_t file_pid,
                                         std::string* why) {
  auto json = parse_object(text, why);
  if (!json) return std::nullopt;
  auto pid = json_pid(*json, "pid", 2);
  auto start = json_u64(*json, "start_time");
  auto pgid = json_pid(*json, "pgid", 0);
  auto worker_id = json_string(*json, "worker_id");
  auto id = json_string(*json, "run_id");
  if (!pid || !start || !pgid || !worker_id || !id) {
    *why = "missing or mistyped field (pid, start_time, pgid, worker_id, run_id)";
    return std::nullopt;
  }
  if (*pid != file_pid) {
    *why = fmt::format("records pid {} in the file of pid {}", *pid, file_pid);
    return std::nullopt;
  }
  if (*id != run_id) {
    *why = fmt::format("names run {}", *id);
    return std::nullopt;
  }
  return WorkerRecord{*pid, *start, *pgid, std::move(*worker_id)};
}

// "<pid>.json" → pid; nullopt for any other name.
std::optional<pid_t> record_pid(std::string_view name) {
  constexpr std::string_view kSuffix = ".json";
  if (name.size() <= kSuffix.size() || name.substr(name.size() - kSuffix.size()) != kSuffix) return std::nullopt;
  pid_t pid = 0;
  if (!parse_number(name.substr(0, name.size() - kSuffix.size()), pid) || pid <= 0) return std::nullopt;
  return pid;
}

int pidfd_open(pid_t pid) { return static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)); }

int pidfd_send_signal(int pidfd, int sig) {
  return static_cast<int>(::syscall(SYS_pidfd_send_signal, pidfd, sig, nullptr, 0));
}

bool pidfd_exited(int pidfd) {
  pollfd p{pidfd, POLLIN, 0};
  return ::poll(&p, 1, 0) > 0;
}

// ---------------------------------------------------------------- sweeper --

// One sweep: gathers verified orphans from the records and /proc, signals them
// as a batch (SIGTERM, grace, SIGKILL), then removes the runs they belonged to.
class Sweeper {
 public:
  Sweeper(const SweepOptions& options, SweepReport& report)
      : options_(options),
        report_(report),
        self_pid_(::getpid()),
        self_pgrp_(::getpgrp()),
        euid_(::geteuid()),
        pid_ns_(pid_namespace()),
        boot_id_(boot_id()) {}

  void sweep_runs(int runs_fd);
  void scan_proc();
  void terminate_targets();
  void remove_finished_runs(int runs_fd);

 private:
  struct Candidate {  // a process of ours carrying a marker, from the /proc scan
    pid_t pid = 0;
    ProcStat stat;
    RunMarker marker;
  };
  struct Target {  // a verified orphan
    pid_t pid = 0;
    std::uint64_t start_time = 0;
    pid_t pgid = 0;  // > 0: signal the process group
    std::string what;
    UniqueFd pidfd;
    bool done = false;
  };
  struct DeadRun {
    std::string name;
    std::vector<std::size_t> targets;
  };

  void sweep_run(int runs_fd, const std::string& name);
  void sweep_staging(int runs_fd, const std::string& name);
  void consider_record(const std::string& run_id, const WorkerRecord& record, DeadRun& run);
  // Verifies `pid` (started at start_time, carries a marker of run_id if
  // non-empty, marked owner dead) and adds it; the refusal reason otherwise.
  std::optional<std::string> add_target(pid_t pid, std::uint64_t start_time, const std::string& run_id, bool group,
                                        std::string what, std::vector<std::size_t>* run_targets);
  void kill_marked(const std::string& run_id, DeadRun* run);
  // Already a target, or a member of a process group being signalled.
  bool covered(const Candidate& candidate) const;
  const std::vector<Candidate>& candidates();
  // Owner judged dead (true), alive (false) or not ours to judge (nullopt).
  std::optional<bool> owner_dead(const OwnerRecord& owner, std::string* why) const;
  bool target_done(const Target& target, const std::set<pid_t>& live_groups) const;
  std::set<pid_t> live_groups() const;
  // `groups`: live_groups() taken just before.
  void signal_target(Target& target, int sig, const std::set<pid_t>& groups);
  void wait_targets(std::chrono::milliseconds budget);
  void act(std::string line) { report_.actions.push_back(std::move(line)); }

  const SweepOptions& options_;
  SweepReport& report_;
  const pid_t self_pid_;
  const pid_t self_pgrp_;
  const uid_t euid_;
  const std::string pid_ns_;
  const std::string boot_id_;
  std::optional<std::vector<Candidate>> candidates_;
  std::vector<Target> targets_;
  std::vector<DeadRun> dead_runs_;
};

std::optional<bool> Sweeper::owner_dead(const OwnerRecord& owner, std::string* why) const {
  const RunMarker& m = owner.marker;
  if (!owner.boot_id.empty() && !boot_id_.empty() && owner.boot_id != boot_id_) {
    *why = fmt::format("owner pid {} ran before the last reboot", m.owner_pid);
    return true;
  }
  if (!owner.pid_ns.empty() && !pid_ns_.empty() && owner.pid_ns != pid_ns_) {
    *why = fmt::format("owner pid {} lives in pid namespace {}, not ours ({})", m.owner_pid, owner.pid_ns, pid_ns_);
    return std::nullopt;
  }
  if (owner_alive(m.owner_pid, m.owner_start)) {
    *why = fmt::format("owner pid {} is alive", m.owner_pid);
    return false;
  }
  *why = fmt::format("owner pid {} (start {}) is dead", m.owner_pid, m.owner_start);
  return true;
}

void Sweeper::sweep_runs(int runs_fd) {
  for (const auto& name : list_dir(runs_fd)) {
    if (is_run_id(name)) {
      sweep_run(runs_fd, name);
    } else if (std::string_view(name).starts_with(kStagingPrefix) && is_run_id(std::string_view(name).substr(5))) {
      sweep_staging(runs_fd, name);
    } else {
      act(fmt::format("runs/{}: unexpected entry, ignored", name));
    }
  }
}

void Sweeper::sweep_run(int runs_fd, const std::string& name) {
  ++report_.runs_seen;
  const std::string shown = "runs/" + name;
  struct stat st {};
  if (::fstatat(runs_fd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) return;  // removed meanwhile
  if (!S_ISDIR(st.st_mode) || st.st_uid != euid_) {
    act(fmt::format("{}: not a directory of ours; refused", shown));
    return;
  }
  UniqueFd dir(::openat(runs_fd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!dir.valid()) {
    act(fmt::format("{}: cannot open ({}); skipped", shown, std::strerror(errno)));
    return;
  }
  std::optional<OwnerRecord> owner;
  std::string why;
  auto text = read_record_file(dir.get(), kOwnerFile, kMaxRecordBytes);
  if (text.ok()) {
    owner = parse_owner(*text, name, &why);
  } else {
    why = text.status().message();
  }
  if (!owner) {
    ++report_.records_invalid;
    act(fmt::format("{}/{}: invalid owner record ({}); not trusted, run left in place, /proc scanned for its marker",
                    shown, kOwnerFile, why));
    kill_marked(name, nullptr);
    return;
  }
  const auto dead = owner_dead(*owner, &why);
  if (!dead.has_value()) {
    ++report_.skipped_foreign;
    act(fmt::format("{}: {}; left alone", shown, why));
    return;
  }
  if (!*dead) {
    ++report_.skipped_live_owner;
    act(fmt::format("{} (instance '{}'): {}; left alone", shown, owner->marker.instance, why));
    return;
  }
  act(fmt::format("{} (instance '{}'): {}", shown, owner->marker.instance, why));
  DeadRun run{name, {}};
  bool scan = false;
  for (const auto& entry : list_dir(dir.get())) {
    if (entry == kOwnerFile) continue;
    const std::string file = shown + "/" + entry;
    if (std::string_view(entry).starts_with(kTempPrefix)) {
      ++report_.records_invalid;
      act(fmt::format("{}: torn record; not trusted, /proc scanned for the run's marker", file));
      scan = true;
      continue;
    }
    const auto pid = record_pid(entry);
    if (!pid) {
      act(fmt::format("{}: unexpected file; removed with the run", file));
      continue;
    }
    auto record_text = read_record_file(dir.get(), entry, kMaxRecordBytes);
    std::optional<WorkerRecord> record;
    if (record_text.ok()) {
      record = parse_worker(*record_text, name, *pid, &why);
    } else {
      why = record_text.status().message();
    }
    if (!record) {
      ++report_.records_invalid;
      act(fmt::format("{}: invalid record ({}); not trusted, /proc scanned for the run's marker", file, why));
      scan = true;
      continue;
    }
    consider_record(name, *record, run);
    // A recorded worker that is gone may have left its process group behind.
    if (!process_running(record->pid, record->start_time)) scan = true;
  }
  if (scan) kill_marked(name, &run);
  dead_runs_.push_back(std::move(run));
}

void Sweeper::consider_record(const std::string& run_id, const WorkerRecord& record, DeadRun& run) {
  const std::string what = fmt::format("worker '{}' pid {} of run {}", record.worker_id, record.pid, run_id);
  auto stat = read_proc_stat(record.pid);
  if (!stat.ok()) {
    act(fmt::format("{}: already gone", what));
    return;
  }
  if (stat->start_time != record.start_time) {
    act(fmt::format("{}: pid now belongs to another process (start time {}, recorded {}); not touched", what,
                    stat->start_time, record.start_time));
    return;
  }
  if (!stat->running()) {
    act(fmt::format("{}: already exited", what));
    return;
  }
  const bool group = record.pgid == record.pid && stat->pgrp == record.pid;
  if (auto refused = add_target(record.pid, record.start_time, run_id, group, what, &run.targets)) {
    act(fmt::format("{}: {}; not touched", what, *refused));
  }
}

std::optional<std::string> Sweeper::add_target(pid_t pid, std::uint64_t start_time, const std::string& run_id,
                                               bool group, std::string what, std::vector<std::size_t>* run_targets) {
  if (pid <= 1) return fmt::format("pid {} is never a worker", pid);
  if (pid == self_pid_) return "it is this process";
  for (std::size_t i = 0; i < targets_.size(); ++i) {
    if (targets_[i].pid == pid && targets_[i].start_time == start_time) {
      if (run_targets != nullptr) run_targets->push_back(i);
      return std::nullopt;  // already a target
    }
  }
  // A pidfd taken before the checks pins the process the checks then see.
  UniqueFd pidfd(pidfd_open(pid));
  if (!pidfd.valid() && errno == ESRCH) return "it exited";
  auto stat = read_proc_stat(pid);
  if (!stat.ok() || !stat->running()) return "it exited";
  if (stat->start_time != start_time) {
    return fmt::format("start time {} differs from the expected {}", stat->start_time, start_time);
  }
  std::optional<RunMarker> marker;
  for (int attempt = 0;; ++attempt) {
    auto block = read_environ(pid);
    // Empty while the process is inside execve: the new image's environment
    // is not set up yet. Look again for a moment.
    if (block.ok() && block->empty() && attempt < kEmptyEnvironRetries) {
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
      continue;
    }
    if (block.ok()) marker = parse_marker(*block);
    break;
  }
  if (!marker) return "it carries no run marker";
  if (!run_id.empty() && marker->run_id != run_id)
    return fmt::format("it carries the marker of run {}", marker->run_id);
  if (owner_alive(marker->owner_pid, marker->owner_start)) {
    return fmt::format("its marked owner pid {} is alive", marker->owner_pid);
  }
  // The environ read above must have been this process's: recheck the start.
  auto again = read_proc_stat(pid);
  if (!again.ok() || again->start_time != start_time) return "it exited";
  const pid_t pgid = group && pid != self_pgrp_ ? pid : 0;
  if (run_targets != nullptr) run_targets->push_back(targets_.size());
  targets_.push_back(Target{pid, start_time, pgid, std::move(what), std::move(pidfd), false});
  return std::nullopt;
}

const std::vector<Sweeper::Candidate>& Sweeper::candidates() {
  if (candidates_) return *candidates_;
  candidates_.emplace();
  for (pid_t pid : list_pids()) {
    if (pid == self_pid_) continue;
    if (process_uid(pid) != euid_) continue;
    // Pids in a marker mean something only in the namespace that wrote it.
    if (!pid_ns_.empty() && pid_namespace(pid) != pid_ns_) continue;
    auto stat = read_proc_stat(pid);
    if (!stat.ok() || !stat->running()) continue;
    auto marker = read_marker(pid);
    if (!marker) continue;
    candidates_->push_back(Candidate{pid, *stat, std::move(*marker)});
  }
  return *candidates_;
}

bool Sweeper::covered(const Candidate& candidate) const {
  return std::any_of(targets_.begin(), targets_.end(), [&](const Target& t) {
    return t.pid == candidate.pid || (t.pgid > 0 && t.pgid == candidate.stat.pgrp);
  });
}

void Sweeper::kill_marked(const std::string& run_id, DeadRun* run) {
  for (const auto& c : candidates()) {
    if (c.marker.run_id != run_id || covered(c)) continue;
    const std::string what = fmt::format("pid {} marked for run {} (found in /proc)", c.pid, run_id);
    if (auto refused = add_target(c.pid, c.stat.start_time, run_id, c.stat.pgrp == c.pid, what,
                                  run != nullptr ? &run->targets : nullptr)) {
      act(fmt::format("{}: {}; not touched", what, *refused));
    }
  }
}

void Sweeper::scan_proc() {
  for (const auto& c : candidates()) {
    if (!options_.scan_instance.empty() && c.marker.instance != options_.scan_instance) continue;
    if (covered(c) || owner_alive(c.marker.owner_pid, c.marker.owner_start)) continue;
    const std::string what = fmt::format("pid {} marked for run {} (instance '{}') whose owner pid {} is dead", c.pid,
                                         c.marker.run_id, c.marker.instance, c.marker.owner_pid);
    if (auto refused = add_target(c.pid, c.stat.start_time, c.marker.run_id, c.stat.pgrp == c.pid, what, nullptr)) {
      act(fmt::format("{}: {}; not touched", what, *refused));
    }
  }
}

void Sweeper::sweep_staging(int runs_fd, const std::string& name) {
  const std::string shown = "runs/" + name;
  struct stat st {};
  if (::fstatat(runs_fd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) return;
  if (!S_ISDIR(st.st_mode) || st.st_uid != euid_) {
    act(fmt::format("{}: not a directory of ours; refused", shown));
    return;
  }
  UniqueFd dir(::openat(runs_fd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!dir.valid()) return;
  std::string why;
  std::optional<OwnerRecord> owner;
  if (auto text = read_record_file(dir.get(), kOwnerFile, kMaxRecordBytes); text.ok()) {
    owner = parse_owner(*text, name.substr(5), &why);
  }
  bool remove = false;
  if (owner) {
    const auto dead = owner_dead(*owner, &why);
    remove = dead.value_or(false);
  } else {
    remove = std::time(nullptr) - st.st_mtime > kStagingGraceSeconds;
    why = remove ? "abandoned while being created" : "being created";
  }
  if (!remove) return;
  if (options_.dry_run) {
    act(fmt::format("{}: {}; would remove it", shown, why));
    return;
  }
  const Status status = remove_dir_tree(runs_fd, name);
  act(status.ok() ? fmt::format("{}: {}; removed", shown, why)
                  : fmt::format("{}: {}; cannot remove: {}", shown, why, status.message()));
}

std::set<pid_t> Sweeper::live_groups() const {
  std::set<pid_t> wanted;
  for (const auto& t : targets_) {
    if (!t.done && t.pgid > 0) wanted.insert(t.pgid);
  }
  std::set<pid_t> live;
  if (wanted.empty()) return live;
  for (pid_t pid : list_pids()) {
    auto stat = read_proc_stat(pid);
    if (stat.ok() && stat->running() && wanted.count(stat->pgrp) != 0 && process_uid(pid) == euid_) {
      live.insert(stat->pgrp);
    }
  }
  return live;
}

bool Sweeper::target_done(const Target& target, const std::set<pid_t>& groups) const {
  const bool leader_gone =
      target.pidfd.valid() ? pidfd_exited(target.pidfd.get()) : !process_running(target.pid, target.start_time);
  return leader_gone && (target.pgid <= 0 || groups.count(target.pgid) == 0);
}

void Sweeper::signal_target(Target& target, int sig, const std::set<pid_t>& groups) {
  const bool leader_alive =
      target.pidfd.valid() ? !pidfd_exited(target.pidfd.get()) : process_running(target.pid, target.start_time);
  // The group is the worker's while its verified leader runs; after the
  // leader exited, while members remain (seen just before), its id cannot
  // have been reused.
  if (target.pgid > 1 && target.pgid != self_pgrp_ && (leader_alive || groups.count(target.pgid) != 0)) {
    ::kill(-target.pgid, sig);
  }
  // The leader itself too, in case it left its group.
  if (!leader_alive) return;
  if (target.pidfd.valid()) {
    pidfd_send_signal(target.pidfd.get(), sig);
  } else if (process_running(target.pid, target.start_time)) {
    ::kill(target.pid, sig);
  }
}

void Sweeper::wait_targets(std::chrono::milliseconds budget) {
  const auto deadline = std::chrono::steady_clock::now() + budget;
  auto pause = std::chrono::milliseconds(1);
  while (true) {
    const auto groups = live_groups();
    bool all_done = true;
    for (auto& t : targets_) {
      if (!t.done) t.done = target_done(t, groups);
      all_done = all_done && t.done;
    }
    if (all_done || std::chrono::steady_clock::now() >= deadline) return;
    std::this_thread::sleep_for(pause);
    pause = std::min(pause * 2, std::chrono::milliseconds(20));
  }
}

void Sweeper::terminate_targets() {
  if (targets_.empty()) return;
  if (options_.dry_run) {
    for (const auto& t : targets_) {
      ++report_.processes_killed;
      act(fmt::format("{}: would send SIGTERM{}, then SIGKILL after {} ms", t.what,
                      t.pgid > 0 ? " to its process group" : "", options_.term_grace.count()));
    }
    return;
  }
  const auto groups = live_groups();
  for (auto& t : targets_) {
    signal_target(t, SIGTERM, groups);
    ++report_.processes_killed;
    act(fmt::format("{}: SIGTERM{}", t.what, t.pgid > 0 ? fmt::format(" to process group {}", t.pgid) : ""));
  }
  wait_targets(options_.term_grace);
  bool any_left = false;
  const auto survivors = live_groups();
  for (auto& t : targets_) {
    if (t.done || target_done(t, survivors)) {
      t.done = true;
      continue;
    }
    any_left = true;
    signal_target(t, SIGKILL, survivors);
    act(fmt::format("{}: still running {} ms after SIGTERM; SIGKILL", t.what, options_.term_grace.count()));
  }
  if (!any_left) return;
  wait_targets(kKillWait);
  for (const auto& t : targets_) {
    if (!t.done) act(fmt::format("{}: still running after SIGKILL; its run is kept for the next sweep", t.what));
  }
}

void Sweeper::remove_finished_runs(int runs_fd) {
  for (const auto& run : dead_runs_) {
    const std::string shown = "runs/" + run.name;
    const bool finished = std::all_of(run.targets.begin(), run.targets.end(),
                                      [&](std::size_t i) { return options_.dry_run || targets_[i].done; });
    if (!finished) continue;
    if (options_.dry_run) {
      ++report_.runs_removed;
      act(fmt::format("{}: would remove the run directory", shown));
      continue;
    }
    const Status status = remove_dir_tree(runs_fd, run.name);
    if (status.ok()) {
      ++report_.runs_removed;
      act(fmt::format("{}: removed the run directory", shown));
    } else {
      act(fmt::format("{}: cannot remove the run directory: {}", shown, status.message()));
    }
  }
}

}  // namespace

// ------------------------------------------------------------------ marker --

std::vector<std::pair<std::string, std::string>> marker_environment(const RunMarker& marker) {
  return {{kRunIdEnv, marker.run_id},
          {kInstanceEnv, marker.instance},
          {kOwnerPidEnv, std::to_string(marker.owner_pid)},
          {kOwnerStartEnv, std::to_string(marker.owner_start)}};
}

std::optional<RunMarker> parse_marker(std::string_view environ_block) {
  const auto run_id = environ_value(environ_block, kRunIdEnv);
  const auto owner_pid = environ_value(environ_block, kOwnerPidEnv);
  const auto owner_start = environ_value(environ_block, kOwnerStartEnv);
  if (!run_id || !owner_pid || !owner_start || !is_run_id(*run_id)) return std::nullopt;
  RunMarker marker;
  marker.run_id = std::string(*run_id);
  if (!parse_number(*owner_pid, marker.owner_pid) || marker.owner_pid <= 0) return std::nullopt;
  if (!parse_number(*owner_start, marker.owner_start)) return std::nullopt;
  marker.instance = std::string(environ_value(environ_block, kInstanceEnv).value_or(""));
  return marker;
}

std::optional<RunMarker> read_marker(pid_t pid) {
  auto block = read_environ(pid);
  if (!block.ok()) return std::nullopt;
  return parse_marker(*block);
}

std::string default_data_dir() {
  if (const char* dir = std::getenv("SNAKEPIT_DATA_DIR"); dir != nullptr && *dir != '\0') return dir;
  if (const char* dir = std::getenv("XDG_RUNTIME_DIR"); dir != nullptr && *dir != '\0') {
    return std::string(dir) + "/snakepit";
  }
  return fmt::format("/tmp/snakepit-{}", ::geteuid());
}

// ---------------------------------------------------------------- registry --

Result<std::unique_ptr<RunRegistry>> RunRegistry::open(const std::string& data_dir, std::string instance) {
  auto start = process_start_time(::getpid());
  if (!start.ok()) return start.status();
  return open_for_owner(data_dir, std::move(instance), RunOwner{::getpid(), *start});
}

Result<std::unique_ptr<RunRegistry>> RunRegistry::open_for_owner(const std::string& data_dir_arg, std::string instance,
                                                                 RunOwner owner) {
  assert(owner.pid > 0);
  if (instance.size() > kMaxInstanceBytes) {
    return invalid_argument(fmt::format("instance name longer than {} bytes", kMaxInstanceBytes));
  }
  for (unsigned char c : instance) {
    if (c < 0x20 || c == 0x7f) return invalid_argument("instance name holds a control character");
  }
  const std::string data_dir = strip_trailing_slashes(data_dir_arg);
  auto data_fd = open_data_dir(data_dir, /*create=*/true);
  if (!data_fd.ok()) return data_fd.status();
  auto runs_fd = open_private_dir(data_fd->get(), "runs", data_dir + "/runs", /*create=*/true);
  if (!runs_fd.ok()) return runs_fd.status();

  auto run_id = random_run_id();
  if (!run_id.ok()) return run_id.status();
  const std::string staging = kStagingPrefix + *run_id;
  auto run_fd = open_private_dir(runs_fd->get(), staging.c_str(), data_dir + "/runs/" + staging, /*create=*/true);
  if (!run_fd.ok()) return run_fd.status();

  RunMarker marker{*run_id, std::move(instance), owner.pid, owner.start_time};
  const Json owner_json = {{"version", kOwnerFormatVersion},
                           {"run_id", marker.run_id},
                           {"instance", marker.instance},
                           {"owner_pid", marker.owner_pid},
                           {"owner_start", marker.owner_start},
                           {"created", static_cast<std::int64_t>(std::time(nullptr))},
                           {"boot_id", boot_id()},
                           {"pid_ns", pid_namespace()}};
  Status status = write_file_atomic(run_fd->get(), kOwnerFile, std::string(kTempPrefix) + kOwnerFile, dump(owner_json));
  // The run appears under its name only once owner.json is complete.
  if (status.ok() && ::renameat(runs_fd->get(), staging.c_str(), runs_fd->get(), marker.run_id.c_str()) != 0) {
    status = errno_status(fmt::format("rename {} to {}", staging, marker.run_id), errno);
  }
  if (!status.ok()) {
    (void)remove_dir_tree(runs_fd->get(), staging);
    return status;
  }
  std::string run_dir = data_dir + "/runs/" + marker.run_id;
  return std::unique_ptr<RunRegistry>(
      new RunRegistry(std::move(run_dir), std::move(marker), std::move(*runs_fd), std::move(*run_fd)));
}

RunRegistry::RunRegistry(std::string run_dir, RunMarker marker, UniqueFd runs_fd, UniqueFd run_fd)
    : run_dir_(std::move(run_dir)),
      marker_(std::move(marker)),
      runs_fd_(std::move(runs_fd)),
      run_fd_(std::move(run_fd)) {}

RunRegistry::~RunRegistry() { close(); }

Status RunRegistry::add_worker(pid_t pid, std::string_view worker_id) {
  if (pid <= 1 || pid == ::getpid()) return invalid_argument(fmt::format("cannot record pid {} as a worker", pid));
  auto stat = read_proc_stat(pid);
  if (!stat.ok()) return stat.status();
  const Json record = {{"pid", pid},
                       {"start_time", stat->start_time},
                       {"pgid", stat->pgrp},
                       {"worker_id", std::string(worker_id)},
                       {"run_id", marker_.run_id}};
  MutexLock lock(mutex_);
  if (!run_fd_.valid()) return failed_precondition("run registry is closed");
  const std::string temp = fmt::format("{}{}-{}", kTempPrefix, pid, temp_counter_++);
  return write_file_atomic(run_fd_.get(), fmt::format("{}.json", pid), temp, dump(record));
}

void RunRegistry::remove_worker(pid_t pid) {
  MutexLock lock(mutex_);
  if (run_fd_.valid()) ::unlinkat(run_fd_.get(), fmt::format("{}.json", pid).c_str(), 0);
}

void RunRegistry::close() {
  MutexLock lock(mutex_);
  if (!run_fd_.valid()) return;
  // Remove the directory only if runs/<run_id> is still the one we created.
  struct stat ours {};
  struct stat named {};
  if (::fstat(run_fd_.get(), &ours) == 0 &&
      ::fstatat(runs_fd_.get(), marker_.run_id.c_str(), &named, AT_SYMLINK_NOFOLLOW) == 0 &&
      ours.st_dev == named.st_dev && ours.st_ino == named.st_ino) {
    (void)remove_dir_tree(runs_fd_.get(), marker_.run_id);
  }
  run_fd_.reset();
  runs_fd_.reset();
}

// ------------------------------------------------------------------- sweep --

Json SweepReport::to_json() const {
  return {{"dry_run", dry_run},
          {"runs_seen", runs_seen},
          {"runs_removed", runs_removed},
          {"processes_killed", processes_killed},
          {"records_invalid", records_invalid},
          {"skipped_live_owner", skipped_live_owner},
          {"skipped_foreign", skipped_foreign},
          {"actions", actions}};
}

Result<SweepReport> sweep_orphans(const std::string& data_dir_arg, const SweepOptions& options) {
  SweepReport report;
  report.dry_run = options.dry_run;
  Sweeper sweeper(options, report);
  const std::string data_dir = strip_trailing_slashes(data_dir_arg);
  if (data_dir.empty()) return invalid_argument("empty data directory path");
  UniqueFd runs_fd;
  struct stat st {};
  if (::lstat(data_dir.c_str(), &st) == 0) {
    auto data_fd = open_data_dir(data_dir, /*create=*/false);
    if (!data_fd.ok()) return data_fd.status();
    if (::fstatat(data_fd->get(), "runs", &st, AT_SYMLINK_NOFOLLOW) == 0) {
      auto runs = open_private_dir(data_fd->get(), "runs", data_dir + "/runs", /*create=*/false);
      if (!runs.ok()) return runs.status();
      runs_fd = std::move(*runs);
    } else if (errno != ENOENT) {
      return errno_status(fmt::format("stat {}/runs", data_dir), errno);
    }
  } else if (errno != ENOENT) {
    return errno_status(fmt::format("stat {}", data_dir), errno);
  }
  if (runs_fd.valid()) sweeper.sweep_runs(runs_fd.get());
  if (options.scan_proc) sweeper.scan_proc();
  sweeper.terminate_targets();
  if (runs_fd.valid()) sweeper.remove_finished_runs(runs_fd.get());
  return report;
}

}  // namespace snakepit::internal
