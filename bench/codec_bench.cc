// Micro benchmarks of the host's hot path without processes: the native
// frame codec (encode a request, decode a response) and the dispatch queue.
//
//   build/bin/snakepit_codec_bench [--benchmark_min_time=0.2]
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <benchmark/benchmark.h>

#include "pool/dispatch_queue.h"
#include "protocol/codec.h"

namespace {

using snakepit::Json;
using snakepit::internal::Attachment;
using snakepit::internal::WorkerCodec;

constexpr std::uint32_t kMaxFrame = 64u << 20;
constexpr std::uint8_t kResponse = 3;
constexpr std::uint8_t kBinary = 0x02;

std::unique_ptr<WorkerCodec> native_codec() { return snakepit::internal::make_codec(snakepit::Protocol::kNative, kMaxFrame); }

void put_be(std::string& out, std::uint64_t value, int bytes) {
  for (int i = bytes - 1; i >= 0; --i) out.push_back(static_cast<char>(value >> (8 * i)));
}

// One worker → host frame: length, kind, flags, reserved, id, payload.
std::string frame(std::uint8_t kind, std::uint8_t flags, std::uint64_t id, const std::string& payload) {
  std::string out;
  put_be(out, 12 + payload.size(), 4);
  out.push_back(static_cast<char>(kind));
  out.push_back(static_cast<char>(flags));
  put_be(out, 0, 2);
  put_be(out, id, 8);
  return out + payload;
}

// A binary payload: json_length, the JSON with one placeholder, the bytes.
std::string binary_payload(std::size_t size) {
  const std::string json = R"({"data":{"$bytes":[0,)" + std::to_string(size) + "]}}";
  std::string out;
  put_be(out, json.size(), 4);
  return out + json + std::string(size, 'x');
}

void BM_EncodePingRequest(benchmark::State& state) {
  auto codec = native_codec();
  const Json args = Json::object();
  std::string out;
  std::vector<Attachment> attachments;
  std::uint64_t id = 0;
  for (auto _ : state) {
    out.clear();
    attachments.clear();
    auto status = codec->encode_request(out, attachments, ++id, "ping", args, {}, false);
    benchmark::DoNotOptimize(status);
    benchmark::DoNotOptimize(out.data());
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_EncodePingRequest);

void BM_EncodeRequest1KiB(benchmark::State& state) {
  auto codec = native_codec();
  const Json args = {{"text", std::string(1024, 'a')}, {"n", 42}};
  std::string out;
  std::vector<Attachment> attachments;
  std::uint64_t id = 0;
  for (auto _ : state) {
    out.clear();
    attachments.clear();
    auto status = codec->encode_request(out, attachments, ++id, "echo", args, "session-1", false);
    benchmark::DoNotOptimize(status);
  }
  state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(out.size()));
}
BENCHMARK(BM_EncodeRequest1KiB);

// Feeds `wire` (one frame) and takes the decoded message, again and again.
void decode_loop(benchmark::State& state, const std::string& wire) {
  auto codec = native_codec();
  for (auto _ : state) {
    codec->feed(wire.data(), wire.size());
    auto message = codec->next();
    if (!message.ok() || !message->has_value()) {
      state.SkipWithError("decode failed");
      return;
    }
    benchmark::DoNotOptimize(message);
  }
  state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(wire.size()));
}

void BM_DecodePongResponse(benchmark::State& state) {
  decode_loop(state, frame(kResponse, 0, 1, R"({"status":"ok","pid":12345})"));
}
BENCHMARK(BM_DecodePongResponse);

void BM_DecodeResponse1KiB(benchmark::State& state) {
  decode_loop(state, frame(kResponse, 0, 1, Json{{"text", std::string(1024, 'a')}}.dump()));
}
BENCHMARK(BM_DecodeResponse1KiB);

void BM_DecodeBinaryResponse(benchmark::State& state) {
  decode_loop(state, frame(kResponse, kBinary, 1, binary_payload(static_cast<std::size_t>(state.range(0)))));
}
BENCHMARK(BM_DecodeBinaryResponse)->Arg(64 << 10)->Arg(1 << 20);

// The queue holds shared pointers, as the pool's requests are.
using Item = std::shared_ptr<int>;

void BM_DispatchQueuePushPop(benchmark::State& state) {
  snakepit::internal::DispatchQueue<Item> queue;
  const auto depth = static_cast<int>(state.range(0));
  auto item = std::make_shared<int>(1);
  for (int i = 0; i < depth; ++i) queue.push_back(item);
  for (auto _ : state) {
    queue.push_back(item);
    benchmark::DoNotOptimize(queue.pop_front());
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_DispatchQueuePushPop)->Arg(0)->Arg(10'000);

// A request leaving a deep queue by its handle (its queue timeout fired).
void BM_DispatchQueueRemove(benchmark::State& state) {
  snakepit::internal::DispatchQueue<Item> queue;
  auto item = std::make_shared<int>(1);
  for (int i = 0; i < 10'000; ++i) queue.push_back(item);
  for (auto _ : state) {
    auto handle = queue.push_back(item);
    queue.remove(handle);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_DispatchQueueRemove);

}  // namespace

BENCHMARK_MAIN();
