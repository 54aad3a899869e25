#include "bench_command.h"

#include <fmt/format.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <map>
#include <set>
#include <utility>

#include "bench_baselines.h"
#include "bench_report.h"
#include "bench_scenarios.h"
#include "bench_stats.h"

namespace snakepit::cli {
namespace {

using bench::Record;

const std::vector<std::string> kGroups = {"startup", "ping", "session", "payload", "stream", "tiny", "baselines"};

// Sizes of one run. The defaults fit a few minutes on 2 cores
// (docs/performance.md); --quick is a smoke run of seconds.
struct Plan {
  int rounds = 3;
  long requests = 20000;
  bool json = false;
  std::set<std::string> groups;
  std::vector<std::size_t> startup_sizes = {1, 4, 16, 64};
  std::vector<std::size_t> ping_pools = {1, 2, 4, 8};
  std::vector<std::size_t> ping_concurrency = {1, 4, 16, 64};
  std::vector<std::string> placements = {"shared", "per_core"};  // of the ping group's pools
  std::vector<std::size_t> session_concurrency = {1, 4};
  std::size_t session_pool = 2;
  int sessions = 100;
  std::size_t tiny_workers = 1000;
};

Plan make_plan(const BenchFlags& flags) {
  Plan plan;
  plan.rounds = flags.rounds;
  plan.json = flags.json;
  if (flags.quick) {
    plan.requests = 300;
    plan.startup_sizes = {1, 4};
    plan.ping_pools = {1, 2};
    plan.ping_concurrency = {1, 4};
    plan.session_concurrency = {4};
    plan.tiny_workers = 50;
  }
  if (flags.requests > 0) plan.requests = flags.requests;
  if (!flags.ping_pools.empty()) plan.ping_pools = flags.ping_pools;
  if (!flags.ping_concurrency.empty()) plan.ping_concurrency = flags.ping_concurrency;
  if (!flags.placements.empty()) plan.placements = flags.placements;
  for (const auto& g : flags.scenarios.empty() ? kGroups : flags.scenarios) {
    if (flags.scenarios.empty() && flags.quick && g == "baselines") continue;  // Python's pools take the longest
    plan.groups.insert(g == "all" ? std::string() : g);
  }
  if (plan.groups.erase(std::string()) > 0) plan.groups.insert(kGroups.begin(), kGroups.end());
  return plan;
}

// The payload scenarios: the same request for the pool and the floor.
struct Payload {
  const char* scenario;
  const char* floor;
  const char* floor_flag;  // pipe_floor's
  std::size_t bytes;
  long divisor;  // requests = plan.requests / divisor: each run takes about as long
};
constexpr Payload kPayloads[] = {
    {"payload_json_1k", "floor_echo_1k", "--payload-bytes", 1024, 2},
    {"payload_binary_64k", "floor_binary_64k", "--binary-bytes", 64 << 10, 20},
    {"payload_binary_1m", "floor_binary_1m", "--binary-bytes", 1 << 20, 200},
};

Json payload_args(const Payload& p) {
  if (std::string_view(p.floor_flag) == "--payload-bytes") return {{"data", std::string(p.bytes, 'x')}};
  return {{"data", bytes(std::string(p.bytes, 'x'))}, {"op", "identity"}};  // as the floor sends
}

// Which floor figure a scenario is compared with, and on which keys.
struct RatioSpec {
  std::string floor_key;
  std::vector<std::string> keys;
  std::string suffix;  // appended to each key in floor_ratio
};

class Bench {
 public:
  Bench(Plan plan, bench::Tools tools) : plan_(std::move(plan)), tools_(std::move(tools)) {}

  int run() {
    const std::vector<std::pair<std::string, void (Bench::*)()>> groups = {
        {"startup", &Bench::startup},    {"ping", &Bench::ping},     {"session", &Bench::session},
        {"payload", &Bench::payload},    {"stream", &Bench::stream}, {"tiny", &Bench::tiny},
        {"baselines", &Bench::baselines}};
    for (const auto& [name, group] : groups) {
      if (plan_.groups.count(name) == 0) continue;
      (this->*group)();
      emit_group();
    }
    if (!plan_.json) fmt::print(stderr, "{}", bench::format_table(emitted_));
    const bool clean =
        std::all_of(emitted_.begin(), emitted_.end(), [](const Record& r) { return r.value("errors", 0L) == 0; });
    return clean ? 0 : 1;
  }

 private:
  struct Series {
    std::vector<RatioSpec> ratios;
    std::vector<Record> rounds;
  };

  long warmup_per_worker(long requests) const { return std::clamp(requests / 10, 1L, 100L); }

  void progress(const std::string& what) const {
    if (!plan_.json)
      fmt::print(stderr, "bench [{:5.1f} s]: {}\n", bench::micros(bench::Clock::now() - started_) / 1e6, what);
  }

  void skip(const std::string& what, const Status& why) {
    if (skipped_.insert(what).second) fmt::print(stderr, "snakepit bench: skipped {}: {}\n", what, why.message());
  }

  // A pool scenario's round; `key` names the series, its first round fixes
  // the floors it is compared with.
  void add(const std::string& key, Record round, std::vector<RatioSpec> ratios = {}) {
    auto it = std::find_if(group_.begin(), group_.end(), [&](const auto& s) { return s.first == key; });
    if (it == group_.end()) it = group_.insert(group_.end(), {key, Series{std::move(ratios), {}}});
    it->second.rounds.push_back(std::move(round));
  }

  static std::string key_of(const std::string& name, std::size_t size) { return fmt::format("{}/{}", name, size); }

  // Measures a floor once per round, before the pool's run of that round,
  // so floor and pool alternate on the same machine. A floor another group
  // measured this round already is not run again.
  void measure_floor(const std::string& name, std::size_t size, int round,
                     const std::function<Result<Record>()>& measure) {
    const auto key = key_of(name, size);
    if (missing_.count(key) > 0 || floors_[key].size() > static_cast<std::size_t>(round)) return;
    auto record = measure();
    if (!record && record.status().code() == Code::kNotFound) {
      missing_.insert(key);
      floors_.erase(key);
      return skip(key, record.status());
    }
    if (std::find(floor_order_.begin(), floor_order_.end(), key) == floor_order_.end()) floor_order_.push_back(key);
    if (!record) {
      floors_[key].push_back(
          {{"scenario", name}, {"size", size}, {"errors", 1}, {"error", record.status().to_string()}});
      return;
    }
    (*record)["scenario"] = name;
    floors_[key].push_back(std::move(*record));
  }

  // The line of `scenario` among a tool's lines.
  static Result<Record> pick(const Result<std::vector<Record>>& lines, const std::string& scenario) {
    if (!lines) return lines.status();
    for (const auto& r : *lines)
      if (r.value("scenario", std::string()) == scenario) return r;
    return unavailable("snakepit_pipe_floor printed no " + scenario + " line");
  }

  Result<Record> pipe_floor(std::vector<std::string> flags, bench::FloorWorker worker, const std::string& scenario) {
    return pick(bench::run_pipe_floor(tools_, flags, worker), scenario);
  }

  Result<Record> ping_floor(std::size_t size, long requests, std::vector<std::string> extra = {},
                            const std::string& scenario = "floor_ping") {
    std::vector<std::string> flags = {"--size",     std::to_string(size),
                                      "--requests", std::to_string(requests),
                                      "--warmup",   std::to_string(warmup_per_worker(requests))};
    flags.insert(flags.end(), extra.begin(), extra.end());
    return pipe_floor(flags, bench::FloorWorker::kBridge, scenario);
  }

  // Combines each series of the group (and the floors measured so far that
  // were not printed yet), attaches the ratios, prints.
  void emit_group() {
    std::map<std::string, Record> floor_median;
    for (const auto& [key, rounds] : floors_) floor_median[key] = bench::combine(rounds);
    for (const auto& key : floor_order_)
      if (emitted_floors_.insert(key).second) emit(floor_median[key]);
    for (auto& [key, series] : group_) {
      Record r = bench::combine(series.rounds);
      Record ratio = Record::object();
      for (const auto& spec : series.ratios) {
        auto it = floor_median.find(spec.floor_key);
        if (it == floor_median.end() || it->second.value("errors", 0L) != 0) continue;
        const Record these = bench::ratios(r, it->second, spec.keys);
        for (const auto& [k, v] : these.items()) ratio[k + spec.suffix] = v;
      }
      if (!ratio.empty()) r["floor_ratio"] = ratio;
      emit(r);
    }
    group_.clear();
  }

  void emit(const Record& r) {
    bench::print_line(r);
    emitted_.push_back(r);
  }

  static Record head(const std::string& scenario, std::size_t size, std::size_t concurrency, long requests) {
    return {{"scenario", scenario}, {"size", size}, {"concurrency", concurrency}, {"requests", requests}};
  }

  Record failed_start(Record r, const Status& why) {
    r["errors"] = 1;
    r["error"] = why.to_string();
    return r;
  }

  // --- the groups -------------------------------------------------------

  void startup() {
    for (int round = 0; round < plan_.rounds; ++round) {
      for (auto n : plan_.startup_sizes) {
        progress(fmt::format("startup, round {}/{}, {} Python workers", round + 1, plan_.rounds, n));
        const auto size = std::to_string(n);
        measure_floor("floor_startup", n, round, [&]() -> Result<Record> {
          auto at_once = pipe_floor({"--size", size, "--requests", "0"}, bench::FloorWorker::kBridge, "floor_startup");
          if (!at_once) return at_once;
          auto one_by_one = pipe_floor({"--size", size, "--requests", "0", "--sequential"}, bench::FloorWorker::kBridge,
                                       "floor_startup_sequential");
          if (!one_by_one) return one_by_one.status();
          (*at_once)["sequential_ms"] = (*one_by_one)["ready_ms"];
          (*at_once)["errors"] = at_once->value("errors", 0L) + one_by_one->value("errors", 0L);
          return at_once;
        });
        measure_floor("spawn_floor", n, round, [&] {
          return pipe_floor({"--size", size, "--spawn-only"}, bench::FloorWorker::kBare, "spawn_floor");
        });
        Record r = {{"scenario", "startup"}};
        r.update(bench::startup_round(tools_.python, n));
        add(key_of("startup", n), std::move(r),
            {{key_of("floor_startup", n), {"ready_ms", "sequential_ms"}, ""},
             {key_of("spawn_floor", n), {"ready_ms"}, "_vs_bare"}});
      }
    }
  }

  void ping() {
    for (int round = 0; round < plan_.rounds; ++round) {
      for (auto n : plan_.ping_pools) {
        for (const auto& placement : plan_.placements) ping_pool(n, round, placement);
      }
    }
  }

  // One pool of `n` with `placement`, at every concurrency, after its floor:
  // the bare-pipe driver placed freely (shared) or each driver thread pinned
  // to its worker's CPU (per_core).
  void ping_pool(std::size_t n, int round, const std::string& placement) {
    const bool per_core = placement == "per_core";
    const std::string scenario = per_core ? "ping_per_core" : "ping";
    const std::string floor = per_core ? "floor_ping_pinned" : "floor_ping";
    progress(fmt::format("ping, round {}/{}, pool of {}, placement {}", round + 1, plan_.rounds, n, placement));
    measure_floor(floor, n, round, [&] {
      return ping_floor(n, plan_.requests, per_core ? std::vector<std::string>{"--pin"} : std::vector<std::string>{});
    });
    auto pit = bench::start_pool(tools_.python, n, per_core ? Placement::kPerCore : Placement::kShared);
    for (auto c : plan_.ping_concurrency) {
      Record r = head(scenario, n, c, plan_.requests);
      if (!pit) {
        add(key_of(scenario, n) + fmt::format("/{}", c), failed_start(std::move(r), pit.error()));
        continue;
      }
      bench::Load load;
      load.concurrency = c;
      load.requests = plan_.requests;
      r.update(bench::load_round(*pit, load, warmup(n, c)));
      // Latency compares only when ours has one request per worker too.
      std::vector<std::string> keys = {"throughput_rps"};
      if (c == n) keys.emplace_back("p50_us");
      add(key_of(scenario, n) + fmt::format("/{}", c), std::move(r), {{key_of(floor, n), keys, ""}});
    }
  }

  long warmup(std::size_t size, std::size_t concurrency) const {
    return std::max(warmup_per_worker(plan_.requests) * static_cast<long>(size), static_cast<long>(concurrency));
  }

  void session() {
    const auto n = plan_.session_pool;
    for (int round = 0; round < plan_.rounds; ++round) {
      progress(
          fmt::format("session, round {}/{}, pool of {}, {} sessions", round + 1, plan_.rounds, n, plan_.sessions));
      measure_floor("floor_ping", n, round, [&] { return ping_floor(n, plan_.requests); });
      auto pit = bench::start_pool(tools_.python, n);
      for (auto c : plan_.session_concurrency) {
        // ping: the cost of routing by session; session_put: plus a call
        // from the worker to the host's session store.
        for (const auto& [scenario, command, args] :
             {std::tuple{"session_ping", "ping", Json::object()},
              std::tuple{"session_put", "session_put", Json{{"key", "k"}, {"value", 1}}}}) {
          Record r = head(scenario, n, c, plan_.requests);
          const auto key = fmt::format("{}/{}/{}", scenario, n, c);
          if (!pit) {
            add(key, failed_start(std::move(r), pit.error()));
            continue;
          }
          bench::Load load{command, args, c, plan_.requests, plan_.sessions};
          r.update(bench::load_round(*pit, load, warmup(n, c)));
          r["sessions"] = plan_.sessions;
          std::vector<std::string> keys = {"throughput_rps"};
          if (c == n) keys.emplace_back("p50_us");
          add(key, std::move(r), {{key_of("floor_ping", n), keys, ""}});
        }
      }
    }
  }

  void payload() {
    for (int round = 0; round < plan_.rounds; ++round) {
      progress(fmt::format("payload, round {}/{}, pool of 1", round + 1, plan_.rounds));
      auto pit = bench::start_pool(tools_.python, 1);
      for (const auto& p : kPayloads) {
        const long requests = std::max(10L, plan_.requests / p.divisor);
        measure_floor(p.floor, 1, round, [&] {
          return ping_floor(1, requests, {p.floor_flag, std::to_string(p.bytes)},
                            p.floor_flag == std::string_view("--payload-bytes") ? "floor_echo" : "floor_binary");
        });
        Record r = head(p.scenario, 1, 1, requests);
        if (!pit) {
          add(key_of(p.scenario, 1), failed_start(std::move(r), pit.error()));
          continue;
        }
        bench::Load load{p.floor_flag == std::string_view("--payload-bytes") ? "echo" : "transform", payload_args(p), 1,
                         requests, 0};
        r.update(bench::load_round(*pit, load, warmup_per_worker(requests)));
        r["payload_bytes"] = p.bytes;
        // Both directions, as the floor counts it.
        r["throughput_mb_s"] = bench::round1(2.0 * double(p.bytes) * r["throughput_rps"].get<double>() / 1e6);
        add(key_of(p.scenario, 1), std::move(r), {{key_of(p.floor, 1), {"throughput_rps", "p50_us"}, ""}});
      }
    }
  }

  void stream() {
    const long chunks = plan_.requests * 5;  // chunks come ~5x faster than round trips
    for (int round = 0; round < plan_.rounds; ++round) {
      progress(fmt::format("stream, round {}/{}, {} chunks", round + 1, plan_.rounds, chunks));
      Record r = {{"scenario", "stream"}};
      r.update(bench::stream_round(tools_.python, chunks));
      add("stream/1", std::move(r));
    }
  }

  void tiny() {
    const auto n = plan_.tiny_workers;
    if (::access(tools_.tiny_worker.c_str(), X_OK) != 0) {
      return skip("tiny", not_found(tools_.tiny_worker + " not found (build target snakepit_tiny_worker)"));
    }
    const auto tiny_adapter = adapters::exec({tools_.tiny_worker});
    for (int round = 0; round < plan_.rounds; ++round) {
      progress(fmt::format("tiny, round {}/{}, {} C++ workers", round + 1, plan_.rounds, n));
      measure_floor("floor_tiny", n, round, [&]() -> Result<Record> {
        const auto size = std::to_string(n);
        auto lines = bench::run_pipe_floor(tools_, {"--size", size, "--requests", size, "--warmup", "0"},
                                           bench::FloorWorker::kTiny);
        auto ping = pick(lines, "floor_ping");
        auto start = pick(lines, "floor_startup");
        if (!ping || !start) return ping ? start.status() : ping.status();
        (*ping)["ready_ms"] = (*start)["ready_ms"];
        return ping;
      });
      Record r = {{"scenario", "tiny"}};
      r.update(bench::many_workers_round(tiny_adapter, n));
      add(key_of("tiny", n), std::move(r), {{key_of("floor_tiny", n), {"ready_ms", "throughput_rps", "p50_us"}, ""}});
    }
  }

  // Python's multiprocessing.Pool and ProcessPoolExecutor, compared with
  // the same floors as the pool.
  void baselines() {
    std::string sizes;
    for (auto n : plan_.ping_pools) sizes += (sizes.empty() ? "" : ",") + std::to_string(n);
    const long requests = std::max(10L, plan_.requests / 10);  // Python's pools are 5-10x slower
    for (int round = 0; round < plan_.rounds; ++round) {
      progress(fmt::format("baselines, round {}/{}, Python pools of {}", round + 1, plan_.rounds, sizes));
      for (auto n : plan_.ping_pools)
        measure_floor("floor_ping", n, round, [&] { return ping_floor(n, plan_.requests); });
      auto lines = bench::run_mp_baselines(tools_, sizes, requests);
      if (!lines) {
        if (lines.status().code() == Code::kNotFound) return skip("baselines", lines.status());
        add("mp_baseline", {{"scenario", "mp_baseline"}, {"errors", 1}, {"error", lines.status().to_string()}});
        continue;
      }
      for (auto& r : *lines) {
        if (!r.contains("errors")) r["errors"] = 0;  // its start-up lines have none
        const auto scenario = r.value("scenario", std::string("?"));
        const auto n = r.value("size", std::size_t{0});
        std::vector<RatioSpec> ratios;
        if (scenario.ends_with("_startup")) {
          ratios.push_back({key_of("floor_startup", n), {"ready_ms"}, ""});
        } else {
          std::vector<std::string> keys = {"throughput_rps"};
          if (scenario.ends_with("_inflight1")) keys.emplace_back("p50_us");
          ratios.push_back({key_of("floor_ping", n), keys, ""});
        }
        add(key_of(scenario, n), std::move(r), std::move(ratios));
      }
    }
  }

  Plan plan_;
  bench::Tools tools_;
  bench::Clock::time_point started_ = bench::Clock::now();
  std::map<std::string, std::vector<Record>> floors_;
  std::vector<std::string> floor_order_;
  std::set<std::string> missing_, emitted_floors_, skipped_;
  std::vector<std::pair<std::string, Series>> group_;
  std::vector<Record> emitted_;
};

std::string own_directory() {
  std::error_code ec;
  const auto exe = std::filesystem::read_symlink("/proc/self/exe", ec);
  return ec ? std::string(".") : exe.parent_path().string();
}

}  // namespace

CLI::App* add_bench_command(CLI::App& app, BenchFlags& flags) {
  auto* command = app.add_subcommand(
      "bench", "Load generator: drive pools through scenarios, next to the floors measured in the same run");
  command
      ->add_option("--scenarios", flags.scenarios,
                   "Comma list of scenario groups: startup, ping, session, payload, stream, tiny, baselines, all "
                   "(default: all; with --quick all but baselines)")
      ->delimiter(',')
      ->check(CLI::IsMember([] {
        auto names = kGroups;
        names.emplace_back("all");
        return names;
      }()));
  command->add_option("--rounds", flags.rounds, "Rounds per scenario; the median is reported with min/max")
      ->check(CLI::Range(1, 100))
      ->capture_default_str();
  command->add_option("--requests", flags.requests, "Requests per measured ping run (default 20000; --quick 300)")
      ->check(CLI::Range(1L, 100'000'000L));
  command->add_option("--sizes", flags.ping_pools, "Comma list of pool sizes for the ping group (default 1,2,4,8)")
      ->delimiter(',')
      ->check(CLI::Range(std::size_t{1}, std::size_t{256}));
  command->add_option("--concurrency", flags.ping_concurrency,
                      "Comma list of requests in flight for the ping group (default 1,4,16,64)")
      ->delimiter(',')
      ->check(CLI::Range(std::size_t{1}, std::size_t{4096}));
  command->add_option("--placement", flags.placements,
                      "Comma list of placements for the ping group's pools: shared, per_core (default: both)")
      ->delimiter(',')
      ->check(CLI::IsMember({"shared", "per_core"}));
  command->add_flag("--quick", flags.quick, "Small sizes for a smoke run of seconds");
  command->add_flag("--json", flags.json, "JSON lines only: no table and no progress on stderr");
  command->add_option("--tools-dir", flags.tools_dir,
                      "Where snakepit_pipe_floor and snakepit_tiny_worker are (default: next to this executable)");
  command->add_option("--python", flags.python,
                      "Python interpreter for the pool and the baselines (default: python3, resolved as the pool "
                      "does)");
  command->footer(
      "Output: one JSON line per scenario on stdout (medians of the rounds, <figure>_min/_max, floor_ratio),\n"
      "then a table on stderr. Exit code: 0 when every scenario ran with 0 errors, 1 otherwise.\n"
      "Examples:\n"
      "  snakepit bench --python /usr/bin/python3\n"
      "  snakepit bench --quick --scenarios ping --rounds 1 --json\n");
  return command;
}

int run_bench(const BenchFlags& flags) {
  adapters::PythonOptions python;
  python.interpreter = flags.python;
  auto tools = bench::find_tools(flags.tools_dir.empty() ? own_directory() : flags.tools_dir,
                                 adapters::python("snakepit_bridge.generic", python));
  Bench bench(make_plan(flags), std::move(tools));
  return bench.run();
}

}  // namespace snakepit::cli
