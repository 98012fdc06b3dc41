// What this machine can do at best, measured in the benchmark's own process so that each stage can
// be reported as a fraction of its limit:
//   - memory read bandwidth: a vectorised streaming read (SIMD loads, four accumulators) over a
//     buffer far larger than the last-level cache, split over every thread of the pool; the best
//     of several passes. Decode reads every weight once per token, so this bounds it.
//   - f32 GEMM throughput: cpu::matmul with f32 weights (as the models call it) at the
//     vision encoder's MLP shape [257, 1408] x [6144, 1408]^T; the best of several runs.
// And the process's peak resident memory.
//
//   ThreadPool pool(2);
//   MemoryBandwidth bw = measure_read_bandwidth(pool);    // bw.gb_per_s
//   GemmThroughput g = measure_gemm(pool, 257, 6144, 1408);  // g.gflops
#pragma once

#include <cstdint>
#include <string>

#include "core/thread_pool.h"

namespace blip2::bench {

struct MemoryBandwidth {
  double gb_per_s = 0;  // 1e9 bytes per second
  uint64_t buffer_bytes = 0;
  int passes = 0;
  std::string isa;  // the SIMD target the read loop ran with
};

// buffer_bytes 0: eight times the last-level cache, at least 1 GiB. The buffer is filled (so its
// pages exist) and freed before returning.
MemoryBandwidth measure_read_bandwidth(ThreadPool& pool, uint64_t buffer_bytes = 0, int passes = 5);

struct GemmThroughput {
  double gflops = 0;  // 1e9 floating-point operations (2 per multiply-add) per second
  int64_t m = 0, n = 0, k = 0;
  int runs = 0;
};

// C[m, n] = A[m, k] B[n, k]^T in f32 through cpu::matmul.
GemmThroughput measure_gemm(ThreadPool& pool, int64_t m, int64_t n, int64_t k, int runs = 8);

// Bytes of the last-level cache (0 if unknown).
uint64_t last_level_cache_bytes();

// The process's peak resident set (VmHWM) in bytes.
uint64_t peak_rss_bytes();
// Resets the peak to the current resident set (Linux: /proc/self/clear_refs); false if the kernel
// refuses, in which case peak_rss_bytes() keeps counting from the process's start.
bool reset_peak_rss();

// "Intel(R) Xeon(R) Processor, 2 cores, 23.4 GiB" from /proc/cpuinfo and /proc/meminfo.
std::string machine_description();
std::string cpu_model_name();
uint64_t physical_memory_bytes();

}  // namespace blip2::bench
