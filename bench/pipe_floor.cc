// The floor under the pool (issue 7, docs/performance.md): the same worker
// program driven over bare pipes by a minimal C++ driver, no pool, one
// request in flight per worker. Prints one JSON object per scenario.
//
//   snakepit_pipe_floor [--size N] [--requests R] [--warmup W] [--pin]
//                       [--payload-bytes B | --binary-bytes B]
//                       [--spawn-only] [--sequential] [--timeout-s S] -- WORKER_ARGV...
//
// Default: start N workers at once (floor_startup), then N driver threads
// send `ping` requests, R in all (floor_ping). --payload-bytes: `echo` of a
// B-byte JSON string (floor_echo). --binary-bytes: `transform` (identity;
// `echo` if the worker lacks it) of B bytes as a BINARY frame (floor_binary).
// --spawn-only: run N copies of WORKER_ARGV to completion, no protocol
// (spawn_floor). --sequential: start one after another instead of at once.
// --requests 0 skips the request phase.
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <latch>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "bare_frames.h"

extern char** environ;

namespace {

using Clock = std::chrono::steady_clock;
using Json = nlohmann::ordered_json;  // keeps the fields in the documented order

using namespace bare;
constexpr std::size_t kMaxFrame = 64u << 20;

[[noreturn]] void die(const std::string& what) {
  fmt::print(stderr, "snakepit_pipe_floor: {}\n", what);
  std::exit(1);
}

// Length + header + the start of the payload; the id is patched per request.
std::string frame_head(std::uint8_t kind, std::uint8_t flags, std::string_view payload, std::size_t extra = 0) {
  std::string f(4 + kHeader, '\0');
  put32(f.data(), static_cast<std::uint32_t>(kHeader + payload.size() + extra));
  f[4] = static_cast<char>(kind);
  f[5] = static_cast<char>(flags);
  return f.append(payload);
}

// Frames from one worker; the protocol allows the largest frame.
struct Reader : FrameReader {
  explicit Reader(int fd) : FrameReader(fd, kMaxFrame) {}
  bool next(Frame& f) { return FrameReader::next(f) == Next::kFrame; }  // false: end of input or a bad length
};

struct Options {
  std::size_t size = 1, payload_bytes = 0, binary_bytes = 0;
  long requests = 20000, warmup = 100, timeout_s = 600;
  bool pin = false, spawn_only = false, sequential = false;
  std::vector<char*> argv;
};

struct Worker {
  pid_t pid = -1;
  int to = -1, from = -1;  // our ends: host → worker, worker → host
  std::vector<std::string> commands;
};

std::vector<int> allowed_cpus() {
  cpu_set_t set;
  CPU_ZERO(&set);
  std::vector<int> cpus;
  if (::sched_getaffinity(0, sizeof set, &set) == 0) {
    for (int c = 0; c < CPU_SETSIZE; ++c)
      if (CPU_ISSET(c, &set)) cpus.push_back(c);
  }
  return cpus.empty() ? std::vector<int>{0} : cpus;
}

void pin(pid_t pid, int cpu) {  // pid 0: the calling thread
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  if (::sched_setaffinity(pid, sizeof set, &set) != 0) fmt::print(stderr, "sched_setaffinity: {}\n", std::strerror(errno));
}

// Pipe ends moved above fd 10, close-on-exec: dup2 onto 3 and 4 in the child
// can then never clobber a source fd, and no worker inherits another's pipes.
int high_fd(int fd) {
  const int moved = ::fcntl(fd, F_DUPFD_CLOEXEC, 10);
  if (moved < 0) die(fmt::format("fcntl: {}", std::strerror(errno)));
  ::close(fd);
  return moved;
}

// posix_spawnp (vfork-like, no shell). With pipes: fds 3/4 and the
// SNAKEPIT_* environment; the worker's stdout goes to our stderr so it
// cannot mix with the JSON lines.
Worker spawn(const Options& o, std::size_t i, bool with_pipes) {
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&fa, 2, 1);
  Worker w;
  int in[2] = {-1, -1}, out[2] = {-1, -1};
  std::vector<std::string> env_store;
  for (char** e = environ; *e != nullptr; ++e)
    if (std::strncmp(*e, "SNAKEPIT_", 9) != 0) env_store.emplace_back(*e);
  if (with_pipes) {
    if (::pipe(in) != 0 || ::pipe(out) != 0) die(fmt::format("pipe: {} (raise ulimit -n?)", std::strerror(errno)));
    for (int* fd : {&in[0], &in[1], &out[0], &out[1]}) *fd = high_fd(*fd);
    // 1 MiB pipes like the pool's (needs /proc/sys/fs/pipe-max-size >= 1 MiB).
    ::fcntl(in[1], F_SETPIPE_SZ, 1 << 20);
    ::fcntl(out[1], F_SETPIPE_SZ, 1 << 20);
    posix_spawn_file_actions_adddup2(&fa, in[0], 3);
    posix_spawn_file_actions_adddup2(&fa, out[1], 4);
    for (const char* kv : {"SNAKEPIT_FD_IN=3", "SNAKEPIT_FD_OUT=4", "SNAKEPIT_PROTOCOL=native", "SNAKEPIT_MAX_FRAME=67108864"})
      env_store.emplace_back(kv);
    env_store.push_back(fmt::format("SNAKEPIT_WORKER_ID=floor-{}", i));
  }
  std::vector<char*> env;
  for (auto& kv : env_store) env.push_back(kv.data());
  env.push_back(nullptr);
  std::vector<char*> argv = o.argv;
  argv.push_back(nullptr);
  const int rc = ::posix_spawnp(&w.pid, argv[0], &fa, nullptr, argv.data(), env.data());
  posix_spawn_file_actions_destroy(&fa);
  if (rc != 0) die(fmt::format("posix_spawnp {}: {}", argv[0], std::strerror(rc)));
  if (with_pipes) {
    ::close(in[0]);
    ::close(out[1]);
    w.to = in[1];
    w.from = out[0];
  }
  return w;
}

// The hello frame: kind, id 0, protocol 1, a commands list.
bool read_hello(Worker& w, Reader& r) {
  Frame f;
  if (!r.next(f) || f.kind != kHello || f.id != 0 || f.flags != 0) return false;
  const auto hello = Json::parse(f.payload, nullptr, false);
  if (hello.is_discarded() || !hello.is_object() || hello.value("protocol", 0) != 1 || !hello.contains("commands"))
    return false;
  for (const auto& c : hello["commands"])
    if (c.is_string()) w.commands.push_back(c.get<std::string>());
  return true;
}

double ms_since(Clock::time_point t) { return std::chrono::duration<double, std::milli>(Clock::now() - t).count(); }
double round1(double x) { return std::round(x * 10) / 10; }

double host_cpu_us() {
  rusage u{};
  ::getrusage(RUSAGE_SELF, &u);
  const auto us = [](const timeval& t) { return double(t.tv_sec) * 1e6 + double(t.tv_usec); };
  return us(u.ru_utime) + us(u.ru_stime);
}

// utime + stime of a live process, from /proc/<pid>/stat (fields 14, 15).
double proc_cpu_us(pid_t pid) {
  std::ifstream in(fmt::format("/proc/{}/stat", pid));
  std::string stat((std::istreambuf_iterator<char>(in)), {});
  const auto paren = stat.rfind(')');  // the command name may hold spaces
  if (paren == std::string::npos) return 0;
  std::vector<std::string> fields;  // fields[0] is field 3 (state)
  for (std::size_t p = paren + 2, q; p < stat.size() && fields.size() < 13; p = q + 1) {
    q = stat.find(' ', p);
    if (q == std::string::npos) q = stat.size();
    fields.push_back(stat.substr(p, q - p));
  }
  if (fields.size() < 13) return 0;
  const double ticks = std::stod(fields[11]) + std::stod(fields[12]);
  return ticks * 1e6 / double(::sysconf(_SC_CLK_TCK));
}

double workers_cpu_us(const std::vector<Worker>& ws) {
  double sum = 0;
  for (const auto& w : ws) sum += proc_cpu_us(w.pid);
  return sum;
}

double percentile(const std::vector<double>& sorted, double q) {
  if (sorted.empty()) return 0;
  const auto i = static_cast<std::size_t>(q * double(sorted.size() - 1) + 0.5);
  return round1(sorted[std::min(i, sorted.size() - 1)]);
}

std::string basename_of(const char* path) {
  const char* slash = std::strrchr(path, '/');
  return slash != nullptr ? slash + 1 : path;
}

// Concurrent (or sequential) run of N copies to completion: the floor for
// starting N interpreters.
int spawn_only(const Options& o) {
  const auto start = Clock::now();
  std::vector<pid_t> pids;
  int errors = 0;
  const auto reap = [&](pid_t pid) {
    int status = 0;
    if (::waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0) ++errors;
  };
  for (std::size_t i = 0; i < o.size; ++i) {
    const pid_t pid = spawn(o, i, false).pid;
    if (o.sequential) reap(pid); else pids.push_back(pid);
  }
  for (pid_t pid : pids) reap(pid);
  Json j = {{"scenario", o.sequential ? "spawn_floor_sequential" : "spawn_floor"}, {"size", o.size},
            {"ready_ms", round1(ms_since(start))}, {"errors", errors}, {"worker", basename_of(o.argv[0])}};
  fmt::print("{}\n", j.dump());
  return errors == 0 ? 0 : 1;
}

// The request every driver thread repeats: its frame minus the id, plus the
// attachment bytes for BINARY (written with writev straight from `bytes`).
struct Work {
  const char* scenario = "floor_ping";
  std::string head;       // length, header, payload (JSON part)
  std::string bytes;      // attachments (binary mode)
  std::size_t min_reply = 0;  // smallest acceptable response payload
  std::uint8_t reply_flags = 0;
};

Work make_work(const Options& o, const std::vector<std::string>& commands) {
  const auto has = [&](const char* c) { return std::find(commands.begin(), commands.end(), c) != commands.end(); };
  Work w;
  if (o.binary_bytes > 0) {
    w.scenario = "floor_binary";
    const bool transform = has("transform");
    Json args = {{"data", {{"$bytes", {0, o.binary_bytes}}}}};
    if (transform) args["op"] = "identity";
    const std::string json = Json{{"command", transform ? "transform" : "echo"}, {"args", args}}.dump();
    std::string prefix(4, '\0');
    put32(prefix.data(), static_cast<std::uint32_t>(json.size()));
    w.bytes.assign(o.binary_bytes, 'x');
    w.head = frame_head(kRequest, kFlagBinary, prefix + json, w.bytes.size());
    w.min_reply = o.binary_bytes;
    w.reply_flags = kFlagBinary;
    return w;
  }
  std::string json = R"({"command":"ping","args":{}})";
  if (o.payload_bytes > 0) {
    w.scenario = "floor_echo";
    json = Json{{"command", "echo"}, {"args", {{"data", std::string(o.payload_bytes, 'x')}}}}.dump();
    w.min_reply = o.payload_bytes;
  }
  w.head = frame_head(kRequest, 0, json);
  return w;
}

struct DriverResult {
  std::vector<double> latency_us;
  long errors = 0;
};

// One request in flight: send, wait for its response, check kind/id/flags.
void drive(Worker& w, Reader& reader, const Work& work, long warmup, long count, std::latch& warmed,
           std::latch& go, DriverResult& out) {
  std::string head = work.head;
  iovec iov[2] = {{head.data(), head.size()}, {const_cast<char*>(work.bytes.data()), work.bytes.size()}};
  out.latency_us.reserve(static_cast<std::size_t>(count));
  std::uint64_t id = 0;
  bool broken = false;
  const auto one = [&]() -> bool {
    put64(head.data() + 8, ++id);
    iovec v[2] = {iov[0], iov[1]};
    Frame f;
    if (!write_all(w.to, v, work.bytes.empty() ? 1 : 2) || !reader.next(f)) return false;
    if (f.kind != kResponse || f.id != id) return broken = true, false;  // the conversation is lost
    return (f.flags & kFlagError) == 0 && (f.flags & kFlagBinary) == work.reply_flags &&
           f.payload.size() >= work.min_reply;
  };
  for (long k = 0; k < warmup && !broken; ++k) one();
  warmed.arrive_and_wait();
  go.wait();
  for (long k = 0; k < count; ++k) {
    if (broken) {
      out.errors += count - k;
      break;
    }
    const auto t = Clock::now();
    const bool ok = one();
    out.latency_us.push_back(std::chrono::duration<double, std::micro>(Clock::now() - t).count());
    if (!ok) ++out.errors;
  }
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  int i = 1;
  for (; i < argc && std::strcmp(argv[i], "--") != 0; ++i) {
    const std::string_view a = argv[i];
    const auto value = [&] {
      if (i + 1 >= argc) die(fmt::format("{} needs a value", a));
      return std::strtol(argv[++i], nullptr, 10);
    };
    if (a == "--size") o.size = static_cast<std::size_t>(std::max(1L, value()));
    else if (a == "--requests") o.requests = std::max(0L, value());
    else if (a == "--warmup") o.warmup = std::max(0L, value());
    else if (a == "--payload-bytes") o.payload_bytes = static_cast<std::size_t>(std::max(0L, value()));
    else if (a == "--binary-bytes") o.binary_bytes = static_cast<std::size_t>(std::max(0L, value()));
    else if (a == "--timeout-s") o.timeout_s = std::max(1L, value());
    else if (a == "--pin") o.pin = true;
    else if (a == "--spawn-only") o.spawn_only = true;
    else if (a == "--sequential") o.sequential = true;
    else die(fmt::format("unknown option {} (usage in bench/pipe_floor.cc)", a));
  }
  o.argv.assign(argv + std::min(i + 1, argc), argv + argc);
  if (o.argv.empty()) die("no worker command: ... -- WORKER_ARGV...");
  if (o.binary_bytes + 4096 > kMaxFrame) die("--binary-bytes above the maximum frame");

  ::signal(SIGPIPE, SIG_IGN);  // a dead worker shows up as EPIPE
  // Reads block without timeouts (the floor makes no extra system calls); a
  // hung worker ends the run here instead (SIGALRM; workers then see EOF).
  ::alarm(static_cast<unsigned>(o.timeout_s));
  rlimit nofile{};             // 1,000 workers need 2,000+ fds
  if (::getrlimit(RLIMIT_NOFILE, &nofile) == 0) {
    nofile.rlim_cur = nofile.rlim_max;
    ::setrlimit(RLIMIT_NOFILE, &nofile);
  }
  if (o.spawn_only) return spawn_only(o);

  // Start-up: every worker spawned before any hello is awaited; waiting for
  // them in order still ends when the last one is ready.
  const auto cpus = allowed_cpus();
  std::vector<Worker> workers;
  std::vector<Reader> readers;
  workers.reserve(o.size);
  readers.reserve(o.size);
  int errors = 0;
  const auto start = Clock::now();
  for (std::size_t k = 0; k < o.size; ++k) {
    workers.push_back(spawn(o, k, true));
    readers.emplace_back(workers.back().from);
    if (o.pin) pin(workers.back().pid, cpus[k % cpus.size()]);
    if (o.sequential && !read_hello(workers[k], readers[k])) ++errors;
  }
  for (std::size_t k = 0; k < o.size && !o.sequential; ++k)
    if (!read_hello(workers[k], readers[k])) ++errors;
  const double ready_ms = ms_since(start);
  fmt::print("{}\n", Json{{"scenario", o.sequential ? "floor_startup_sequential" : "floor_startup"},
                          {"size", o.size}, {"ready_ms", round1(ready_ms)}, {"errors", errors},
                          {"worker", basename_of(o.argv[0])}}
                         .dump());
  std::fflush(stdout);
  if (errors != 0) die("a worker failed to say hello");

  if (o.requests > 0) {
    const Work work = make_work(o, workers[0].commands);
    std::vector<DriverResult> results(o.size);
    std::latch warmed(static_cast<std::ptrdiff_t>(o.size) + 1), go(1);
    std::vector<std::thread> threads;
    for (std::size_t k = 0; k < o.size; ++k) {
      const long count = o.requests / long(o.size) + (long(k) < o.requests % long(o.size) ? 1 : 0);
      threads.emplace_back([&, k, count] {
        if (o.pin) pin(0, cpus[k % cpus.size()]);
        drive(workers[k], readers[k], work, o.warmup, count, warmed, go, results[k]);
      });
    }
    warmed.arrive_and_wait();
    const double host0 = host_cpu_us(), workers0 = workers_cpu_us(workers);
    const auto t0 = Clock::now();
    go.count_down();
    for (auto& t : threads) t.join();
    const double seconds = ms_since(t0) / 1000;
    const double host_us = host_cpu_us() - host0, workers_us = workers_cpu_us(workers) - workers0;

    std::vector<double> lat;
    long errs = 0;
    for (auto& r : results) {
      lat.insert(lat.end(), r.latency_us.begin(), r.latency_us.end());
      errs += r.errors;
    }
    std::sort(lat.begin(), lat.end());
    const double n = double(std::max<std::size_t>(1, lat.size()));
    Json j = {{"scenario", work.scenario}, {"size", o.size}, {"concurrency", o.size}, {"requests", lat.size()},
              {"throughput_rps", round1(double(lat.size()) / seconds)},
              {"p50_us", percentile(lat, 0.5)}, {"p90_us", percentile(lat, 0.9)},
              {"p99_us", percentile(lat, 0.99)}, {"p999_us", percentile(lat, 0.999)}, {"errors", errs},
              {"host_cpu_us_per_req", round1(host_us / n)}, {"worker_cpu_us_per_req", round1(workers_us / n)},
              {"pinned", o.pin}, {"worker", basename_of(o.argv[0])}};
    if (o.payload_bytes > 0) j["payload_bytes"] = o.payload_bytes;
    if (o.binary_bytes > 0) {
      // Both directions: the request's bytes out plus the response's back.
      j["binary_bytes"] = o.binary_bytes;
      j["throughput_mb_s"] = round1(2.0 * double(o.binary_bytes) * double(lat.size()) / seconds / 1e6);
      j["round_trip_mib_s"] = round1(double(o.binary_bytes) * double(lat.size()) / seconds / (1 << 20));
    }
    fmt::print("{}\n", j.dump());
    errors += static_cast<int>(errs);
  }

  // Shut down: a shutdown frame, then end of input; each must exit 0.
  const std::string bye = frame_head(kShutdown, 0, {});
  for (auto& w : workers) {
    if (::write(w.to, bye.data(), bye.size()) < 0) { /* already gone: waitpid tells */ }
    ::close(w.to);
  }
  int bad_exits = 0;
  for (auto& w : workers) {
    int status = 0;
    if (::waitpid(w.pid, &status, 0) != w.pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0) ++bad_exits;
    ::close(w.from);
  }
  if (bad_exits != 0) fmt::print(stderr, "snakepit_pipe_floor: {} worker(s) did not exit 0\n", bad_exits);
  return errors == 0 && bad_exits == 0 ? 0 : 1;
}
