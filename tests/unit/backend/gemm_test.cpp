// f32 products (cpu::matmul over OpenBLAS / oneDNN) against the double-precision triple loop, and
// the thread safety of concurrent BLAS calls.
#include <cblas.h>
#include <gtest/gtest.h>

#include <atomic>
#include <cmath>
#include <limits>
#include <thread>
#include <vector>

#include "backend/cpu/blas.h"
#include "backend/cpu/kernels.h"
#include "backend/cpu/matmul.h"
#include "backend/reference/kernels.h"
#include "core/error.h"
#include "core/thread_pool.h"
#include "test_util.h"
#include "tolerances.h"

namespace blip2 {
namespace {

struct GemmShape {
  int64_t M, N, K;
};

// Odd sizes, single rows/columns, and products big enough to be split over the pool (by N and,
// with few columns, by M; M == 1 takes the sgemv path).
const GemmShape kShapes[] = {
    {1, 1, 1},     {1, 3, 17},      {3, 1, 17},      {3, 17, 1},     {17, 63, 3},    {63, 17, 257},
    {1, 1001, 63}, {1, 1001, 1001}, {257, 1001, 63}, {1001, 3, 257}, {257, 17, 257}, {2, 2000, 300},
};

double gemm_atol(int64_t K) {
  return test::tol::kGemmAbsPerSqrtK * std::sqrt(double(K));
}

// y = alpha * x W^T + beta * y through cpu::matmul with f32 weights (OpenBLAS, or oneDNN for 2-64
// rows on AVX-512) against the double-precision loop.
void check_f32_matmul(ThreadPool& pool, GemmShape s, int64_t pad, float alpha, float beta) {
  const auto [M, N, K] = s;
  // Row strides wider than the rows (pad > 0), and every matrix starting one float past an
  // aligned address. Weight rows are contiguous, as a Linear weight's are.
  const int64_t ldx = K + pad, ldy = N + pad;
  const auto x = test::random_normal(static_cast<size_t>(M * ldx + 1), 1);
  const auto w = test::random_normal(static_cast<size_t>(N * K + 1), 2);
  auto y0 = test::random_normal(static_cast<size_t>(M * ldy + 1), 3);
  if (beta == 0.0f) {  // beta == 0 must overwrite, never read, y
    for (auto& v : y0) v = std::numeric_limits<float>::quiet_NaN();
  }
  auto got = y0, want = y0;
  cpu::MatmulEpilogue ep;
  ep.alpha = alpha;
  ep.beta = beta;
  cpu::matmul(pool, cpu::WeightView::f32(w.data() + 1, N, K), M, x.data() + 1, ldx, got.data() + 1,
              ldy, ep);
  ref::gemm_nt(M, N, K, x.data() + 1, ldx, w.data() + 1, K, want.data() + 1, ldy, alpha, beta);
  // Compare whole buffers: the padding between rows must be left untouched too.
  EXPECT_TRUE(test::all_near(got, want, gemm_atol(K), test::tol::kGemmRel))
      << "M=" << M << " N=" << N << " K=" << K << " pad=" << pad << " alpha=" << alpha
      << " beta=" << beta << " threads=" << pool.num_threads() << " path "
      << cpu::active_matmul_isa();
}

TEST(Gemm, F32MatmulMatchesReference) {
  for (size_t threads : {1u, 2u, 3u}) {
    ThreadPool pool(threads);
    for (const auto& s : kShapes) {
      check_f32_matmul(pool, s, 0, 1.0f, 0.0f);
      check_f32_matmul(pool, s, 3, 0.5f, 0.25f);
      check_f32_matmul(pool, s, 5, -2.0f, 1.0f);
    }
  }
}

TEST(Gemm, F32MatmulWithoutOneDnnMatchesReference) {
  cpu::set_max_isa("AVX2");  // OpenBLAS for every row count
  ThreadPool pool(2);
  for (const auto& s : kShapes) check_f32_matmul(pool, s, 3, 0.5f, 0.25f);
  cpu::set_max_isa("best");
}

TEST(Gemm, ZeroKLeavesTheEpilogueOfZeros) {
  ThreadPool pool(2);
  std::vector<float> y = {1, 2, 3, 4, 5, 6};
  cpu::MatmulEpilogue ep;
  ep.beta = 0.5f;
  cpu::matmul(pool, cpu::WeightView::f32(nullptr, 3, 0), 2, nullptr, 1, y.data(), 3, ep);
  EXPECT_EQ(y, (std::vector<float>{0.5f, 1, 1.5f, 2, 2.5f, 3}));
  cpu::matmul(pool, cpu::WeightView::f32(nullptr, 3, 0), 2, nullptr, 1, y.data(), 3);
  EXPECT_EQ(y, std::vector<float>(6, 0.0f));
}

TEST(Gemm, OverlappingRowStridesAreRejected) {
  ThreadPool pool(1);
  std::vector<float> x(64), w(64), y(64);
  EXPECT_THROW(cpu::matmul(pool, cpu::WeightView::f32(w.data(), 4, 4), 4, x.data(), 2, y.data(), 4),
               Error);
  EXPECT_THROW(cpu::matmul(pool, cpu::WeightView::f32(w.data(), 4, 4), 4, x.data(), 4, y.data(), 2),
               Error);
}

// The pool calls BLAS from every worker at once, so concurrent calls must be safe. Debian's
// *serial* OpenBLAS is not (its buffer allocator races: wrong results under contention), which is
// why we link the pthread flavour with its own threading switched off (cpu::prepare_blas).
// More threads than cores force preemption inside BLAS calls; small products and matrix-vector
// products (attention's shapes) are the ones that raced. Each result is compared bit for bit with
// the same product computed alone beforehand.
TEST(Gemm, ConcurrentBlasCallsAreSafe) {
  cpu::prepare_blas();  // what every kernel does before its first BLAS call
  struct Problem {
    int M, N, K;
    std::vector<float> A, B, C;
  };
  std::vector<Problem> problems;
  const int sizes[][3] = {{16, 45, 40},   {1, 45, 40},   {96, 128, 200},
                          {257, 63, 300}, {8, 1000, 64}, {1, 700, 48}};
  uint32_t seed = 10;
  for (const auto& sz : sizes) {
    Problem p{sz[0], sz[1], sz[2], {}, {}, {}};
    p.A = test::random_normal(size_t(p.M) * p.K, seed++);
    p.B = test::random_normal(size_t(p.N) * p.K, seed++);
    p.C.resize(size_t(p.M) * p.N);
    if (p.M == 1) {
      cblas_sgemv(CblasRowMajor, CblasNoTrans, p.N, p.K, 1.0f, p.B.data(), p.K, p.A.data(), 1, 0.0f,
                  p.C.data(), 1);
    } else {
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, p.M, p.N, p.K, 1.0f, p.A.data(), p.K,
                  p.B.data(), p.K, 0.0f, p.C.data(), p.N);
    }
    problems.push_back(std::move(p));
  }
  constexpr int kThreads = 8, kRepeats = 3000;
  std::atomic<int> mismatches{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      std::vector<float> C;
      for (int r = 0; r < kRepeats; ++r) {
        const Problem& p = problems[(t + r) % problems.size()];
        if (p.M * p.N * p.K > 1000000 && r % 16 != 0) continue;  // keep the test short
        C.assign(p.C.size(), 0.0f);
        if (p.M == 1) {
          cblas_sgemv(CblasRowMajor, CblasNoTrans, p.N, p.K, 1.0f, p.B.data(), p.K, p.A.data(), 1,
                      0.0f, C.data(), 1);
        } else {
          cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, p.M, p.N, p.K, 1.0f, p.A.data(), p.K,
                      p.B.data(), p.K, 0.0f, C.data(), p.N);
        }
        if (C != p.C) mismatches++;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(mismatches.load(), 0) << "concurrent BLAS calls gave different results";
}

}  // namespace
}  // namespace blip2
