// Matrix products at the shapes of BLIP-2 OPT-2.7b in each weight format, on the engine's pool:
//   decode: one row (greedy) or five (beam search) against the OPT layer weights; the counter
//           `weight_GBps` is weight bytes streamed per second, to compare with memory bandwidth.
//           Several copies of the weights are cycled so that they come from DRAM, not the cache
//           (a decoding step reads ~10 GB in f32).
//   vision / prefill: 257 rows (ViT-g tokens) or 35 rows (OPT prompt) -> `GFLOPs`.
//   mem_read: a streaming read of 1 GiB for reference.
//
//   blip2_kernel_bench --benchmark_filter=decode --threads 2   (threads: argument below)
#include <benchmark/benchmark.h>

#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "backend/cpu/kernels.h"
#include "backend/cpu/matmul.h"
#include "bench/stream_read.h"
#include "core/dtype.h"
#include "core/thread_pool.h"
#include "nn/weight_format.h"

namespace blip2 {
namespace {

// Threads: BLIP2_BENCH_THREADS, else one per physical core.
ThreadPool& pool() {
  static ThreadPool p([] {
    const char* t = std::getenv("BLIP2_BENCH_THREADS");
    return t ? static_cast<size_t>(std::atoi(t)) : size_t{0};
  }());
  return p;
}

std::unique_ptr<FormattedWeight> make(WeightFormat f, int64_t n, int64_t k, uint32_t seed) {
  std::vector<float> src(static_cast<size_t>(n * k));
  uint32_t s = seed * 2654435761u + 1;
  for (auto& v : src) {
    s = s * 1664525u + 1013904223u;
    v = (static_cast<float>(s >> 8) / 16777216.0f - 0.5f) * 0.1f;
  }
  return std::make_unique<FormattedWeight>(
      convert_weight(nullptr, Tensor::from_floats(src, {n, k}), f));
}

const WeightFormat kFormats[] = {WeightFormat::kF32, WeightFormat::kBF16, WeightFormat::kInt8,
                                 WeightFormat::kQ4};

// args: format, M, N, K
void BM_decode(benchmark::State& state) {
  const auto f = kFormats[state.range(0)];
  const int64_t M = state.range(1), N = state.range(2), K = state.range(3);
  // Enough copies for > 1.5 GB of f32-equivalent traffic per cycle.
  const int64_t copies = std::max<int64_t>(2, (int64_t{3} << 29) / (N * K * 4));
  std::vector<std::unique_ptr<FormattedWeight>> ws;
  for (int64_t c = 0; c < copies; ++c) ws.push_back(make(f, N, K, static_cast<uint32_t>(c + 1)));
  std::vector<float> x(static_cast<size_t>(M * K), 0.5f), y(static_cast<size_t>(M * N));
  size_t i = 0, bytes = 0;
  for (auto _ : state) {
    const auto& w = *ws[i++ % ws.size()];
    cpu::matmul(pool(), w.view(), M, x.data(), K, y.data(), N);
    bytes += w.bytes();
    benchmark::ClobberMemory();
  }
  state.counters["weight_GBps"] =
      benchmark::Counter(static_cast<double>(bytes) / 1e9, benchmark::Counter::kIsRate);
  state.SetLabel(std::string(weight_format_name(f)) + " " + cpu::active_matmul_isa());
}

// Repeated products against one weight matrix (it stays in cache if it fits); returns the
// product count.
int64_t run_hot(benchmark::State& state) {
  const auto f = kFormats[state.range(0)];
  const int64_t M = state.range(1), N = state.range(2), K = state.range(3);
  const auto w = make(f, N, K, 1);
  std::vector<float> x(static_cast<size_t>(M * K), 0.5f), y(static_cast<size_t>(M * N));
  for (auto _ : state) {
    cpu::matmul(pool(), w->view(), M, x.data(), K, y.data(), N);
    benchmark::ClobberMemory();
  }
  state.SetLabel(std::string(weight_format_name(f)) + " " + cpu::active_matmul_isa());
  return static_cast<int64_t>(state.iterations());
}

// Decode shapes with a weight matrix small enough to stay in the L2 cache: the kernels' compute
// speed without memory stalls (weights per second -> `Gweights_per_s`).
void BM_decode_hot(benchmark::State& state) {
  const double products = static_cast<double>(run_hot(state));
  state.counters["Gweights_per_s"] = benchmark::Counter(
      double(state.range(2)) * state.range(3) * products / 1e9, benchmark::Counter::kIsRate);
}

void BM_many_rows(benchmark::State& state) {
  const double products = static_cast<double>(run_hot(state));
  state.counters["GFLOPs"] =
      benchmark::Counter(2.0 * state.range(1) * state.range(2) * state.range(3) * products / 1e9,
                         benchmark::Counter::kIsRate);
}

// The streaming read `blip2 bench` measures bandwidth with, over the pool's threads.
void BM_mem_read(benchmark::State& state) {
  const size_t n = size_t{1} << 30;
  std::vector<uint8_t> a(n, 1);
  std::vector<uint64_t> partial(pool().num_threads() * 8);
  for (auto _ : state) {
    const size_t chunks = pool().num_threads();
    pool().run(chunks, [&](size_t c) {
      partial[c * 8] = bench::stream_read(a.data() + n / chunks * c, n / chunks);
    });
    benchmark::DoNotOptimize(partial.data());
  }
  state.counters["GBps"] = benchmark::Counter(static_cast<double>(n) * state.iterations() / 1e9,
                                              benchmark::Counter::kIsRate);
}

void decode_args(benchmark::internal::Benchmark* b) {
  for (int f = 0; f < 4; ++f)
    for (int64_t M : {1, 5}) {
      b->Args({f, M, 2560, 2560});
      b->Args({f, M, 10240, 2560});
      b->Args({f, M, 2560, 10240});
    }
}

void many_rows_args(benchmark::internal::Benchmark* b) {
  for (int f = 0; f < 4; ++f) {
    b->Args({f, 257, 4224, 1408});  // ViT-g qkv
    b->Args({f, 257, 6144, 1408});  // ViT-g fc1
    b->Args({f, 257, 1408, 6144});  // ViT-g fc2
    b->Args({f, 35, 10240, 2560});  // OPT-2.7b prefill fc1
  }
}

BENCHMARK(BM_decode)->Apply(decode_args)->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK(BM_decode_hot)
    ->Args({0, 1, 128, 2560})
    ->Args({1, 1, 256, 2560})
    ->Args({2, 1, 512, 2560})
    ->Args({3, 1, 1024, 2560})
    ->Args({2, 5, 512, 2560})
    ->Args({3, 5, 1024, 2560})
    ->UseRealTime();
BENCHMARK(BM_many_rows)->Apply(many_rows_args)->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK(BM_mem_read)->UseRealTime()->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace blip2

BENCHMARK_MAIN();
