// GEMM through OpenBLAS against the double-precision triple loop, and the thread safety of
// concurrent BLAS calls.
#include <cblas.h>
#include <gtest/gtest.h>

#include <atomic>
#include <cmath>
#include <limits>
#include <thread>
#include <vector>

#include "backend/cpu/kernels.h"
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

enum class Layout { kNT, kNN };

void check_gemm(Layout layout, ThreadPool& pool, GemmShape s, int64_t pad, float alpha,
                float beta) {
  const auto [M, N, K] = s;
  // Row strides wider than the rows (pad > 0), and every matrix starting one float past an
  // aligned address.
  const int64_t lda = K + pad, ldc = N + pad;
  const int64_t ldb = (layout == Layout::kNT ? K : N) + pad;
  const int64_t b_rows = layout == Layout::kNT ? N : K;
  const auto A = test::random_normal(static_cast<size_t>(M * lda + 1), 1);
  const auto B = test::random_normal(static_cast<size_t>(b_rows * ldb + 1), 2);
  auto C0 = test::random_normal(static_cast<size_t>(M * ldc + 1), 3);
  if (beta == 0.0f) {  // beta == 0 must overwrite, never read, C
    for (auto& c : C0) c = std::numeric_limits<float>::quiet_NaN();
  }
  auto got = C0, want = C0;
  if (layout == Layout::kNT) {
    cpu::gemm_nt(pool, M, N, K, A.data() + 1, lda, B.data() + 1, ldb, got.data() + 1, ldc, alpha,
                 beta);
    ref::gemm_nt(M, N, K, A.data() + 1, lda, B.data() + 1, ldb, want.data() + 1, ldc, alpha, beta);
  } else {
    cpu::gemm_nn(pool, M, N, K, A.data() + 1, lda, B.data() + 1, ldb, got.data() + 1, ldc, alpha,
                 beta);
    ref::gemm_nn(M, N, K, A.data() + 1, lda, B.data() + 1, ldb, want.data() + 1, ldc, alpha, beta);
  }
  // Compare whole buffers: the padding between rows must be left untouched too.
  EXPECT_TRUE(test::all_near(got, want, gemm_atol(K), test::tol::kGemmRel))
      << (layout == Layout::kNT ? "gemm_nt" : "gemm_nn") << " M=" << M << " N=" << N << " K=" << K
      << " pad=" << pad << " alpha=" << alpha << " beta=" << beta
      << " threads=" << pool.num_threads();
}

TEST(Gemm, NtMatchesReference) {
  for (size_t threads : {1u, 2u, 3u}) {
    ThreadPool pool(threads);
    for (const auto& s : kShapes) {
      check_gemm(Layout::kNT, pool, s, 0, 1.0f, 0.0f);
      check_gemm(Layout::kNT, pool, s, 3, 0.5f, 0.25f);
    }
  }
}

TEST(Gemm, NnMatchesReference) {
  for (size_t threads : {1u, 2u, 3u}) {
    ThreadPool pool(threads);
    for (const auto& s : kShapes) {
      check_gemm(Layout::kNN, pool, s, 0, 1.0f, 0.0f);
      check_gemm(Layout::kNN, pool, s, 5, -2.0f, 1.0f);
    }
  }
}

TEST(Gemm, ZeroKScalesC) {
  ThreadPool pool(2);
  std::vector<float> C = {1, 2, 3, 4, 5, 6};
  cpu::gemm_nt(pool, 2, 3, 0, nullptr, 1, nullptr, 1, C.data(), 3, 1.0f, 0.5f);
  EXPECT_EQ(C, (std::vector<float>{0.5f, 1, 1.5f, 2, 2.5f, 3}));
  cpu::gemm_nn(pool, 2, 3, 0, nullptr, 1, nullptr, 3, C.data(), 3, 1.0f, 0.0f);
  EXPECT_EQ(C, std::vector<float>(6, 0.0f));
}

TEST(Gemm, OverlappingRowStridesAreRejected) {
  ThreadPool pool(1);
  std::vector<float> A(64), B(64), C(64);
  EXPECT_THROW(cpu::gemm_nt(pool, 4, 4, 4, A.data(), 2, B.data(), 4, C.data(), 4), Error);
}

// The pool calls BLAS from every worker at once, so concurrent calls must be safe. Debian's
// *serial* OpenBLAS is not (its buffer allocator races: wrong results under contention), which is
// why we link the pthread flavour with its own threading switched off (cpu::gemm_nt does that).
// More threads than cores force preemption inside BLAS calls; small products and matrix-vector
// products (attention's shapes) are the ones that raced. Each result is compared bit for bit with
// the same product computed alone beforehand.
TEST(Gemm, ConcurrentBlasCallsAreSafe) {
  ThreadPool init_pool(1);  // the first kernel call configures BLAS for concurrent use
  {
    std::vector<float> a(4, 1.0f), c(4);
    cpu::gemm_nt(init_pool, 2, 2, 2, a.data(), 2, a.data(), 2, c.data(), 2);
  }
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
