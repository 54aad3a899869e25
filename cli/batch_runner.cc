#include "batch_runner.h"

#include <cstdio>

#include "batch_request.h"
#include "json_text.h"

namespace snakepit::cli {
namespace {

bool is_blank_line(const std::string& line) {
  return line.find_first_not_of(" \t") == std::string::npos;
}

}  // namespace

BatchRunner::BatchRunner(Snakepit& pit, std::size_t concurrency, std::string default_pool)
    : pit_(pit), concurrency_(concurrency), default_pool_(std::move(default_pool)), out_(stdout) {}

BatchRunner::~BatchRunner() { wait_until_below(1); }

void BatchRunner::run(LineReader& input, bool with_stats) {
  std::size_t line_number = 0;
  while (auto line = input.next()) {
    ++line_number;
    if (input.last_too_long()) {
      out_.push(batch_response(
          nullptr, Status(Code::kInvalidArgument,
                          "line " + std::to_string(line_number) + ": longer than the line limit")));
      continue;
    }
    if (is_blank_line(*line)) continue;  // tolerated, as in most JSON-lines tools
    submit(line_number, *line);
  }
  wait_until_below(1);
  if (with_stats && !input.interrupted()) {
    out_.push(to_line(Json{{"stats", to_json(pit_.stats())}}));
  }
  out_.close();
}

void BatchRunner::submit(std::size_t line_number, const std::string& line) {
  BatchRequest request = parse_batch_request(line, line_number);
  if (!request.error.empty()) {
    out_.push(batch_response(request.id, Status(Code::kInvalidArgument, request.error)));
    return;
  }
  if (!request.pool) request.options.pool = default_pool_;
  wait_until_below(concurrency_);
  {
    std::lock_guard lock(mutex_);
    ++in_flight_;
  }
  // The callbacks run on the pool's loop thread: only hand the line to the writer.
  if (request.session) {
    auto done = [this, id = std::move(request.id)](Result<SessionReply> reply) {
      answered(batch_session_response(id, reply));
    };
    pit_.execute_in_session_async(std::move(*request.session), std::move(request.command),
                                  std::move(request.args), std::move(done), request.options);
    return;
  }
  auto done = [this, id = std::move(request.id)](Result<Json> result) {
    answered(batch_response(id, result));
  };
  pit_.execute_async(std::move(request.command), std::move(request.args), std::move(done),
                     request.options);
}

void BatchRunner::answered(std::string line) {
  out_.push(std::move(line));
  std::lock_guard lock(mutex_);
  --in_flight_;
  done_.notify_all();
}

void BatchRunner::wait_until_below(std::size_t limit) {
  std::unique_lock lock(mutex_);
  done_.wait(lock, [&] { return in_flight_ < limit; });
}

}  // namespace snakepit::cli
