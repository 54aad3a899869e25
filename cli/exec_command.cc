#include "exec_command.h"

#include <fmt/format.h>
#include <unistd.h>

#include <CLI/CLI.hpp>

#include "batch_runner.h"
#include "exit_codes.h"
#include "json_text.h"
#include "signal_watcher.h"

namespace snakepit::cli {
namespace {

// A single `exec` needs one worker; a batch wants parallelism.
constexpr std::size_t kSingleDefaultSize = 1;
constexpr std::size_t kBatchDefaultSize = 0;      // the library's default: 2 x hardware threads
constexpr std::size_t kMaxBatchLine = 64u << 20;  // as the default frame limit

// ARGS_JSON must be a JSON object, checked while parsing so a typo costs no
// pool start-up and exits with the usage code.
CLI::Validator json_object_validator() {
  return CLI::Validator(
      [](std::string& text) -> std::string {
        std::string error;
        auto parsed = parse_json(text, error);
        if (!parsed) return "invalid JSON: " + error;
        if (!parsed->is_object()) return "must be a JSON object, e.g. '{\"a\": 1}'";
        return {};
      },
      "JSON", "json_object");
}

// --session ID: the library's id rules, checked before any pool starts.
CLI::Validator session_id_validator() {
  return CLI::Validator(
      [](std::string& id) -> std::string {
        const Status status = validate_session_id(id);
        return status.ok() ? std::string() : status.message();
      },
      "ID", "session_id");
}

// Prints the result, or the error as JSON, on stdout; returns the exit code.
int print_outcome(const Status& status, const Json* value) {
  fmt::print("{}\n", to_line(value != nullptr ? *value : status.to_json()));
  std::fflush(stdout);
  return exit_code(status.code());
}

// --verbose: "session S on worker W (pid P)[, new session][, moved from V]".
void print_where(const std::string& session, const SessionReply& reply) {
  fmt::print(stderr, "session {} on worker {} (pid {}){}{}\n", session, reply.worker_id,
             reply.worker_pid, reply.session_created ? ", new session" : "",
             reply.worker_changed() ? ", moved from " + reply.previous_worker_id : "");
  std::fflush(stderr);
}

// --stream: {"chunk": …} per chunk as it comes, then {"result": …} or {"error": {…}}.
int run_stream(Snakepit& pit, const ExecFlags& flags, Json args) {
  auto print_chunk = [](Json chunk) {
    fmt::print("{}\n", to_line(Json{{"chunk", std::move(chunk)}}));
    std::fflush(stdout);  // as it comes: a reader sees each chunk at once
    return StreamControl::kContinue;
  };
  ExecuteOptions options;
  options.pool = flags.pool_name;
  auto result = flags.session.empty()
                    ? pit.execute_stream(flags.command, std::move(args), print_chunk, options)
                    : pit.execute_stream_in_session(flags.session, flags.command, std::move(args), print_chunk,
                                                    options);
  fmt::print("{}\n", to_line(result.ok() ? Json{{"result", *result}} : Json{{"error", result.status().to_json()}}));
  std::fflush(stdout);
  return exit_code(result.status().code());
}

int run_single(Snakepit& pit, const ExecFlags& flags) {
  std::string error;
  Json args = parse_json(flags.args_json, error).value_or(Json::object());
  if (flags.stream) return run_stream(pit, flags, std::move(args));
  ExecuteOptions options;
  options.pool = flags.pool_name;
  if (flags.session.empty()) {
    auto result = pit.execute(flags.command, std::move(args), options);
    return print_outcome(result.status(), result.ok() ? &*result : nullptr);
  }
  auto reply = pit.execute_in_session(flags.session, flags.command, std::move(args), options);
  if (reply.ok() && flags.verbose) print_where(flags.session, *reply);
  return print_outcome(reply.status(), reply.ok() ? &reply->value : nullptr);
}

}  // namespace

CLI::App* add_exec_command(CLI::App& app, ExecFlags& flags) {
  auto* command = app.add_subcommand(
      "exec",
      "Run one command on a worker and print its result as one JSON line, or (--batch) run "
      "JSON request lines from stdin");
  add_pool_flags(*command, flags.pool, "default 1; with --batch 2 x hardware threads");
  auto* batch =
      command->add_flag("--batch", flags.batch,
                        "Read request lines {\"id\",\"command\",\"args\",\"session\",...} from "
                        "stdin; write one response line each, in completion order");
  command->add_option("COMMAND", flags.command, "Command to run, e.g. ping")->excludes(batch);
  command->add_option("ARGS_JSON", flags.args_json, "Arguments as a JSON object")
      ->check(json_object_validator())
      ->capture_default_str()
      ->excludes(batch);
  auto* session =
      command
          ->add_option("--session", flags.session,
                       "Run the request in this session (created on first use); each --batch "
                       "line names its own with \"session\"")
          ->check(session_id_validator())
          ->excludes(batch);
  command
      ->add_option("--pool", flags.pool_name,
                   "Run on this pool (of --config); default: the default pool. --batch lines "
                   "without \"pool\" use it")
      ->type_name("NAME");
  command
      ->add_flag("-v,--verbose", flags.verbose,
                 "With --session: print \"session ID on worker W (pid P)\" on stderr")
      ->needs(session);
  command
      ->add_flag("--stream", flags.stream,
                 "Stream the result: print {\"chunk\": ...} per chunk as it arrives, then "
                 "{\"result\": ...} or {\"error\": ...}")
      ->excludes(batch);
  command
      ->add_option("--concurrency", flags.concurrency,
                   "Requests in flight at once (default: pool size)")
      ->check(CLI::Range(std::size_t{1}, std::size_t{1} << 20))
      ->needs(batch);
  command->add_flag("--stats", flags.stats, "After all requests, print {\"stats\": ...} last")
      ->needs(batch);
  return command;
}

void check_exec_flags(const CLI::App& command, const ExecFlags& flags) {
  check_pool_flags(command, flags.pool);
  if (!flags.batch && flags.command.empty()) {
    throw CLI::RequiredError("COMMAND (or --batch)");
  }
}

int run_exec(const ExecFlags& flags) {
  SignalWatcher watcher;  // before start: the pool's threads inherit its mask
  auto pit = start_pool(flags.pool, flags.batch ? kBatchDefaultSize : kSingleDefaultSize);
  if (!pit) return exit_code(pit.status().code());
  PoolGuard guard(watcher, *pit);
  int code = kExitOk;
  if (watcher.signal() != 0) {
    // Interrupted while starting: the guard has shut the pool down already.
  } else if (flags.batch) {
    const std::size_t concurrency = flags.concurrency > 0 ? flags.concurrency : pit->stats().size;
    LineReader input(STDIN_FILENO, watcher.interrupt_fd(), kMaxBatchLine);
    BatchRunner runner(*pit, concurrency > 0 ? concurrency : 1, flags.pool_name);
    runner.run(input, flags.stats);
  } else {
    code = run_single(*pit, flags);
  }
  return watcher.signal() != 0 ? signal_exit_code(watcher.signal()) : code;
}

}  // namespace snakepit::cli
