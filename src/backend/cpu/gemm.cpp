// f32 matrix multiply through OpenBLAS (BLAS's own threads switched off: see blas.h). The
// engine's pool splits each product into a few large blocks, one cblas call per block:
//   - along N (output columns / weight rows) in multiples of 16 columns, so every block keeps
//     whole SIMD-width panels; each block reads all of A and its own slice of B;
//   - along M when N is too narrow to split;
//   - M == 1 (a decode step) is a matrix-vector product: sgemv, split along N.
// Small products run inline on the calling thread: waking a worker costs more than they do.
//
// Concurrent cblas calls are safe with Debian's pthread OpenBLAS once its own threading is off
// (prepare_blas); the serial build races under contention. tests/unit/backend checks it.
#include "backend/cpu/blas.h"

#include <algorithm>
#include <cstdint>

#include "backend/cpu/kernels.h"
#include "core/error.h"

namespace blip2::cpu {

namespace {

// Below this many multiply-adds a product runs on the calling thread (~1 MFLOP: tens of us on
// one core, comparable to handing half of it to a worker).
constexpr int64_t kParallelMinMacs = int64_t{1} << 19;
// Column blocks are multiples of this (an AVX-512 panel is 16 floats wide).
constexpr int64_t kColumnAlign = 16;
// Do not make column blocks narrower than this; below it, split rows instead.
constexpr int64_t kMinBlockCols = 64;

struct Split {
  bool by_n = false;
  int64_t block = 0;  // rows (by M) or columns (by N) per task
  int64_t tasks = 1;
};

Split choose_split(const ThreadPool& pool, int64_t M, int64_t N, int64_t K) {
  Split s;
  const int64_t threads = static_cast<int64_t>(pool.num_threads());
  if (threads <= 1 || M * N * K < kParallelMinMacs) return s;
  if (N >= threads * kMinBlockCols || M == 1) {
    s.by_n = true;
    const int64_t per = (N + threads - 1) / threads;
    s.block =
        std::max<int64_t>(kColumnAlign, (per + kColumnAlign - 1) / kColumnAlign * kColumnAlign);
    s.tasks = (N + s.block - 1) / s.block;
  } else if (M >= 2) {
    s.block = (M + threads - 1) / threads;
    s.tasks = (M + s.block - 1) / s.block;
  }
  return s;
}

// beta * C for K == 0 (BLAS would do it, but not every build accepts K == 0 with any lda).
void scale_only(int64_t M, int64_t N, float* C, int64_t ldc, float beta) {
  for (int64_t m = 0; m < M; ++m)
    for (int64_t n = 0; n < N; ++n) C[m * ldc + n] = beta == 0.0f ? 0.0f : beta * C[m * ldc + n];
}

int blas_int(int64_t v) {
  BLIP2_CHECK(v >= 0 && v <= INT32_MAX, "matrix dimension ", v, " exceeds the BLAS int range");
  return static_cast<int>(v);
}

}  // namespace

void gemm_nt(ThreadPool& pool, int64_t M, int64_t N, int64_t K, const float* A, int64_t lda,
             const float* B, int64_t ldb, float* C, int64_t ldc, float alpha, float beta) {
  if (M <= 0 || N <= 0) return;
  if (K <= 0) return scale_only(M, N, C, ldc, beta);
  prepare_blas();
  // Row-major leading dimensions must cover a row (BLAS rejects them otherwise); a matrix with a
  // single row never uses its stride, so any value is accepted there.
  if (M == 1) {
    lda = std::max(lda, K);
    ldc = std::max(ldc, N);
  }
  if (N == 1) ldb = std::max(ldb, K);
  BLIP2_CHECK(lda >= K && ldb >= K && ldc >= N, "gemm_nt strides lda=", lda, " ldb=", ldb,
              " ldc=", ldc, " for M=", M, " N=", N, " K=", K);
  const Split s = choose_split(pool, M, N, K);
  auto block = [&](int64_t m0, int64_t m1, int64_t n0, int64_t n1) {
    if (m1 - m0 == 1) {  // y[n] = alpha * B[n, :] . a + beta * y[n]
      cblas_sgemv(CblasRowMajor, CblasNoTrans, blas_int(n1 - n0), blas_int(K), alpha, B + n0 * ldb,
                  blas_int(ldb), A + m0 * lda, 1, beta, C + m0 * ldc + n0, 1);
    } else {
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, blas_int(m1 - m0), blas_int(n1 - n0),
                  blas_int(K), alpha, A + m0 * lda, blas_int(lda), B + n0 * ldb, blas_int(ldb),
                  beta, C + m0 * ldc + n0, blas_int(ldc));
    }
  };
  if (s.tasks <= 1) return block(0, M, 0, N);
  pool.run(static_cast<size_t>(s.tasks), [&](size_t t) {
    const int64_t b0 = static_cast<int64_t>(t) * s.block;
    if (s.by_n) {
      block(0, M, b0, std::min(N, b0 + s.block));
    } else {
      block(b0, std::min(M, b0 + s.block), 0, N);
    }
  });
}

void gemm_nn(ThreadPool& pool, int64_t M, int64_t N, int64_t K, const float* A, int64_t lda,
             const float* B, int64_t ldb, float* C, int64_t ldc, float alpha, float beta) {
  if (M <= 0 || N <= 0) return;
  if (K <= 0) return scale_only(M, N, C, ldc, beta);
  prepare_blas();
  if (M == 1) {
    lda = std::max(lda, K);
    ldc = std::max(ldc, N);
  }
  if (K == 1) ldb = std::max(ldb, N);
  BLIP2_CHECK(lda >= K && ldb >= N && ldc >= N, "gemm_nn strides lda=", lda, " ldb=", ldb,
              " ldc=", ldc, " for M=", M, " N=", N, " K=", K);
  const Split s = choose_split(pool, M, N, K);
  auto block = [&](int64_t m0, int64_t m1, int64_t n0, int64_t n1) {
    if (m1 - m0 == 1) {  // y[n] = alpha * a . B[:, n] + beta * y[n]
      cblas_sgemv(CblasRowMajor, CblasTrans, blas_int(K), blas_int(n1 - n0), alpha, B + n0,
                  blas_int(ldb), A + m0 * lda, 1, beta, C + m0 * ldc + n0, 1);
    } else {
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, blas_int(m1 - m0), blas_int(n1 - n0),
                  blas_int(K), alpha, A + m0 * lda, blas_int(lda), B + n0, blas_int(ldb), beta,
                  C + m0 * ldc + n0, blas_int(ldc));
    }
  };
  if (s.tasks <= 1) return block(0, M, 0, N);
  pool.run(static_cast<size_t>(s.tasks), [&](size_t t) {
    const int64_t b0 = static_cast<int64_t>(t) * s.block;
    if (s.by_n) {
      block(0, M, b0, std::min(N, b0 + s.block));
    } else {
      block(b0, std::min(M, b0 + s.block), 0, N);
    }
  });
}

}  // namespace blip2::cpu
