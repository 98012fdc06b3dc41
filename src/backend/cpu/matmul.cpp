// cpu::matmul: picks the path for a product from the weight format, the number of rows and the
// instruction set (see matmul.h), prepares the activations once on the calling thread, splits
// the weight rows over the pool and applies the epilogue to each task's block while it is in
// cache.
//
// Scratch: every buffer is a thread-local growable allocation (activations and raw products on
// the calling thread, weight panels and tile outputs on each worker) that only grows, so decoding
// allocates nothing once the first token has run.
#include "backend/cpu/matmul.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>

#include "backend/cpu/blas.h"
#include "backend/cpu/cpu_features.h"
#include "backend/cpu/dnnl_matmul.h"
#include "backend/cpu/matmul_internal.h"
#include "backend/cpu/simd_internal.h"
#include "core/error.h"

namespace blip2::cpu {

namespace {

using detail::LevelKernels;
using detail::QuantActs;
using detail::SmallMArgs;
using detail::SplitActs;

// A 64-byte aligned buffer that only grows (one per thread and purpose).
class Scratch {
 public:
  ~Scratch() { std::free(data_); }
  void* get(size_t bytes) {
    if (bytes > size_) {
      std::free(data_);
      size_ = (bytes + 63) / 64 * 64;
      data_ = std::aligned_alloc(64, size_);
      if (data_ == nullptr)
        fail(ErrorKind::kResource, "out of memory for ", size_, " bytes of matmul scratch");
    }
    return data_;
  }

 private:
  void* data_ = nullptr;
  size_t size_ = 0;
};

thread_local Scratch t_acts;   // caller: prepared activations
thread_local Scratch t_z;      // caller: raw products of the small-M path
thread_local Scratch t_panel;  // worker: a dequantised / converted weight panel
thread_local Scratch t_block;  // worker: raw products of one block

int64_t round_up(int64_t v, int64_t m) {
  return (v + m - 1) / m * m;
}

const LevelKernels& kernels_for(MatmulLevel level) {
  static const LevelKernels scalar = detail::scalar_kernels();
#if defined(__x86_64__)
  static const LevelKernels avx2 = [] {
    LevelKernels k = detail::avx2_kernels();
    return k;
  }();
  static const LevelKernels avx512 = detail::avx512_kernels();
  if (level >= MatmulLevel::kAvx512) return avx512;
  if (level >= MatmulLevel::kAvx2) return avx2;
#else
  (void)level;
#endif
  return scalar;
}

detail::EpilogueParams epilogue_params(const MatmulEpilogue& ep, int64_t n0,
                                       const float* col_scale) {
  detail::EpilogueParams p;
  p.alpha = ep.alpha;
  p.beta = ep.beta;
  p.bias = ep.bias ? ep.bias + n0 : nullptr;
  p.col_scale = col_scale ? col_scale + n0 : nullptr;
  p.activation = static_cast<int>(ep.activation);
  return p;
}

// Number of tasks for `work` multiply-adds over `units` independent pieces: one below a
// threshold (a worker wake-up costs ~10 us), else up to 4 per thread for balance.
int64_t task_count(const ThreadPool& pool, int64_t work, int64_t units) {
  constexpr int64_t kMinWorkPerTask = int64_t{1} << 18;
  const int64_t threads = static_cast<int64_t>(pool.num_threads());
  if (threads <= 1 || units <= 1) return 1;
  const int64_t by_work = std::max<int64_t>(1, work / kMinWorkPerTask);
  return std::max<int64_t>(1, std::min({units, 4 * threads, by_work}));
}

// ------------------------------------------------------------------------------------ f32

void matmul_f32(ThreadPool& pool, const WeightView& w, int64_t M, const float* x, int64_t ldx,
                float* y, int64_t ldy, const MatmulEpilogue& ep) {
  const int64_t N = w.n, K = w.k;
  const float* W = static_cast<const float*>(w.data);
  prepare_blas();
  // Split along N in multiples of 16 columns (whole SIMD panels), else along M.
  const bool use_dnnl = M <= kDnnlMaxRows && dnnl_matmul_enabled();
  const int64_t tasks_wanted = task_count(pool, M * N * K, std::max(N / 64, M));
  const bool by_n = N >= tasks_wanted * 64 || M == 1;
  int64_t block = by_n ? round_up((N + tasks_wanted - 1) / tasks_wanted, 16)
                       : (M + tasks_wanted - 1) / tasks_wanted;
  block = std::max<int64_t>(block, 1);
  const int64_t tasks = by_n ? (N + block - 1) / block : (M + block - 1) / block;
  // With beta != 0 the product goes to scratch first so that the epilogue forms
  // y + (z + bias) as the unfused code did; with beta == 0 it is written in place.
  const bool direct = ep.beta == 0.0f;
  auto run_block = [&](int64_t m0, int64_t m1, int64_t n0, int64_t n1) {
    const int64_t rows = m1 - m0, cols = n1 - n0;
    float* out = y + m0 * ldy + n0;
    int64_t ldo = ldy;
    if (!direct) {
      out = static_cast<float*>(t_block.get(static_cast<size_t>(rows * cols) * sizeof(float)));
      ldo = cols;
    }
    if (rows > 1 && rows <= kDnnlMaxRows && use_dnnl) {
      dnnl_sgemm_nt(rows, cols, K, x + m0 * ldx, std::max(ldx, K), W + n0 * K, out,
                    std::max(ldo, cols));
    } else if (rows == 1) {
      cblas_sgemv(CblasRowMajor, CblasNoTrans, blas_int(cols), blas_int(K), 1.0f, W + n0 * K,
                  blas_int(K), x + m0 * ldx, 1, 0.0f, out, 1);
    } else {
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, blas_int(rows), blas_int(cols),
                  blas_int(K), 1.0f, x + m0 * ldx, blas_int(std::max(ldx, K)), W + n0 * K,
                  blas_int(K), 0.0f, out, blas_int(std::max(ldo, cols)));
    }
    if (ep.alpha != 1.0f || ep.beta != 0.0f || ep.bias || ep.activation != Act::kNone)
      detail::epilogue_rows(out, ldo, y + m0 * ldy + n0, ldy, rows, cols,
                            epilogue_params(ep, n0, nullptr));
  };
  if (tasks <= 1) return run_block(0, M, 0, N);
  pool.run(static_cast<size_t>(tasks), [&](size_t t) {
    const int64_t b0 = static_cast<int64_t>(t) * block;
    if (by_n) {
      run_block(0, M, b0, std::min(N, b0 + block));
    } else {
      run_block(b0, std::min(M, b0 + block), 0, N);
    }
  });
}

// ------------------------------------------------------------------------------ small M

void matmul_small(ThreadPool& pool, const WeightView& w, int64_t M, const float* x, int64_t ldx,
                  float* y, int64_t ldy, const MatmulEpilogue& ep, const LevelKernels& kern,
                  bool simd) {
  const int64_t N = w.n, K = w.k;
  SmallMArgs args;
  args.w = &w;
  args.M = M;
  args.x = x;
  args.ldx = ldx;
  QuantActs qa;
  SplitActs sa;
  detail::SmallMKernel kernel = nullptr;
  const detail::LevelKernels& scalar = kernels_for(MatmulLevel::kScalar);
  if (w.format == WeightFormat::kBF16) {
    kernel = kern.bf16 ? kern.bf16 : scalar.bf16;
    if (simd && kern.bf16) {
      // Even / odd split of the activations (the kernels widen bf16 pairs with one shift and
      // one mask, which separates even and odd elements).
      sa.M = M;
      sa.khalf = round_up((K + 1) / 2, 16);
      float* buf =
          static_cast<float*>(t_acts.get(static_cast<size_t>(2 * M * sa.khalf) * sizeof(float)));
      sa.even = buf;
      sa.odd = buf + M * sa.khalf;
      for (int64_t m = 0; m < M; ++m) {
        const float* xr = x + m * ldx;
        float* e = sa.even + m * sa.khalf;
        float* o = sa.odd + m * sa.khalf;
        for (int64_t i = 0; i < sa.khalf; ++i) {
          e[i] = 2 * i < K ? xr[2 * i] : 0.0f;
          o[i] = 2 * i + 1 < K ? xr[2 * i + 1] : 0.0f;
        }
      }
      args.sa = &sa;
    }
  } else {
    const bool q4 = w.format == WeightFormat::kQ4;
    kernel = q4 ? (kern.q4 ? kern.q4 : scalar.q4) : (kern.int8 ? kern.int8 : scalar.int8);
    const bool own = q4 ? kern.q4 != nullptr : kern.int8 != nullptr;
    const detail::ActLayout layout = q4 && own ? kern.q4_layout : detail::ActLayout::kNatural;
    const bool corr = q4 && own && kern.q4_corr;
    qa.M = M;
    qa.k = K;
    qa.kpad = round_up(K, 128);
    const size_t q_bytes = static_cast<size_t>(M * qa.kpad);
    const size_t d_bytes = static_cast<size_t>(M * qa.kpad / kActBlock) * sizeof(float);
    const size_t lane_bytes = static_cast<size_t>(M * qa.kpad / 4) * sizeof(float);
    auto* buf = static_cast<uint8_t*>(t_acts.get(q_bytes + d_bytes + 2 * lane_bytes));
    qa.q = reinterpret_cast<int8_t*>(buf);
    qa.d = reinterpret_cast<float*>(buf + q_bytes);
    qa.lane_scale = reinterpret_cast<float*>(buf + q_bytes + d_bytes);
    qa.lane_corr = reinterpret_cast<int32_t*>(buf + q_bytes + d_bytes + lane_bytes);
    auto quantize = own && kern.quantize_acts ? kern.quantize_acts : detail::quantize_acts_scalar;
    quantize(x, ldx, qa, layout, corr);
    args.qa = &qa;
  }
  args.ldz = N;
  args.z = static_cast<float*>(t_z.get(static_cast<size_t>(M * N) * sizeof(float)));
  const int64_t tasks = task_count(pool, M * N * K, N / 16);
  const int64_t block = round_up((N + tasks - 1) / tasks, 16);
  const detail::EpilogueParams base = epilogue_params(ep, 0, nullptr);
  auto run = [&](int64_t n0, int64_t n1) {
    kernel(args, n0, n1);
    detail::EpilogueParams p = base;
    p.bias = ep.bias ? ep.bias + n0 : nullptr;
    detail::epilogue_rows(args.z + n0, args.ldz, y + n0, ldy, M, n1 - n0, p);
  };
  if (tasks <= 1) return run(0, N);
  pool.run(static_cast<size_t>((N + block - 1) / block), [&](size_t t) {
    const int64_t n0 = static_cast<int64_t>(t) * block;
    run(n0, std::min(N, n0 + block));
  });
}

// ----------------------------------------------------------------- many rows: dequantise

void matmul_dequant_sgemm(ThreadPool& pool, const WeightView& w, int64_t M, const float* x,
                          int64_t ldx, float* y, int64_t ldy, const MatmulEpilogue& ep) {
  const int64_t N = w.n, K = w.k;
  prepare_blas();
  // Panels of up to 2 MiB of f32 weights, at least 16 rows, and enough panels for the pool.
  int64_t nb = std::clamp<int64_t>((int64_t{2} << 20) / (4 * K) / 16 * 16, 16, 256);
  const int64_t threads = static_cast<int64_t>(pool.num_threads());
  while (nb > 16 && (N + nb - 1) / nb < 2 * threads) nb -= 16;
  const int64_t panels = (N + nb - 1) / nb;
  const bool direct = ep.beta == 0.0f;
  auto run = [&](int64_t n0, int64_t n1) {
    const int64_t cols = n1 - n0;
    float* panel = static_cast<float*>(t_panel.get(static_cast<size_t>(cols * K) * sizeof(float)));
    dequantize_rows(w, n0, n1, panel);
    float* out = y + n0;
    int64_t ldo = ldy;
    if (!direct) {
      out = static_cast<float*>(t_block.get(static_cast<size_t>(M * cols) * sizeof(float)));
      ldo = cols;
    }
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, blas_int(M), blas_int(cols), blas_int(K),
                1.0f, x, blas_int(ldx), panel, blas_int(K), 0.0f, out, blas_int(ldo));
    if (ep.alpha != 1.0f || ep.beta != 0.0f || ep.bias || ep.activation != Act::kNone)
      detail::epilogue_rows(out, ldo, y + n0, ldy, M, cols, epilogue_params(ep, n0, nullptr));
  };
  pool.run(static_cast<size_t>(panels), [&](size_t t) {
    const int64_t n0 = static_cast<int64_t>(t) * nb;
    run(n0, std::min(N, n0 + nb));
  });
}

// ----------------------------------------------------------------------- many rows: AMX

#if defined(__x86_64__)
void matmul_amx(ThreadPool& pool, const WeightView& w, int64_t M, const float* x, int64_t ldx,
                float* y, int64_t ldy, const MatmulEpilogue& ep) {
  const int64_t N = w.n, K = w.k;
  detail::AmxActs a;
  a.M = M;
  a.K = K;
  a.mblocks = (M + 15) / 16;
  a.kblocks = (K + 31) / 32;
  a.data = static_cast<uint16_t*>(
      t_acts.get(static_cast<size_t>(a.mblocks * a.kblocks * 512) * sizeof(uint16_t)));
  const int64_t pack_tasks = task_count(pool, M * K * 8, a.mblocks);
  const int64_t per = (a.mblocks + pack_tasks - 1) / pack_tasks;
  pool.run(static_cast<size_t>(pack_tasks), [&](size_t t) {
    const int64_t mb0 = static_cast<int64_t>(t) * per;
    detail::amx_pack_acts(x, ldx, a, mb0, std::min(a.mblocks, mb0 + per));
  });
  const int64_t panels = (N + 31) / 32;
  const float* col_scale =
      w.format == WeightFormat::kInt8 ? static_cast<const float*>(w.scale) : nullptr;
  const bool bf16_direct = w.format == WeightFormat::kBF16 && K % 32 == 0;
  const int64_t mrows = a.mblocks * 16;
  pool.run(static_cast<size_t>(panels), [&](size_t t) {
    const int64_t n0 = static_cast<int64_t>(t) * 32;
    const int64_t cols = std::min<int64_t>(32, N - n0);
    const uint16_t* wp = nullptr;
    int64_t ldw = 0;
    // bf16 weights are read in place when the tile rows the kernel loads exist.
    if (bf16_direct && (cols == 32 || (cols <= 16 && n0 + 16 <= N))) {
      wp = static_cast<const uint16_t*>(w.data) + n0 * K;
      ldw = K;
    } else {
      auto* panel = static_cast<uint16_t*>(
          t_panel.get(static_cast<size_t>(32 * a.kblocks * 32) * sizeof(uint16_t)));
      detail::amx_weight_panel(w, n0, a.kblocks, panel);
      wp = panel;
      ldw = a.kblocks * 32;
    }
    float* out = static_cast<float*>(t_block.get(static_cast<size_t>(mrows * 32) * sizeof(float)));
    detail::amx_panel_product(a, wp, ldw, cols, out, 32);
    detail::epilogue_rows(out, 32, y + n0, ldy, M, cols, epilogue_params(ep, n0, col_scale));
  });
}
#endif

}  // namespace

int64_t WeightView::row_bytes() const {
  switch (format) {
    case WeightFormat::kF32:
      return k * 4;
    case WeightFormat::kBF16:
      return k * 2;
    case WeightFormat::kInt8:
      return k;
    case WeightFormat::kQ4:
      return k / 2;
  }
  return 0;
}

std::string active_matmul_isa() {
  return matmul_level_name(matmul_level());
}

void matmul(ThreadPool& pool, const WeightView& w, int64_t M, const float* x, int64_t ldx, float* y,
            int64_t ldy, const MatmulEpilogue& ep) {
  const int64_t N = w.n, K = w.k;
  if (M <= 0 || N <= 0) return;
  BLIP2_CHECK(w.data != nullptr || K == 0, "matmul without weights");
  BLIP2_CHECK(ldy >= N || M == 1, "matmul: ldy ", ldy, " < N ", N);
  BLIP2_CHECK(ldx >= K || M == 1, "matmul: ldx ", ldx, " < K ", K);
  BLIP2_CHECK(w.format != WeightFormat::kQ4 || K % kQ4Block == 0,
              "q4 weights need K % 32 == 0, got ", K);
  BLIP2_CHECK(
      (w.format != WeightFormat::kInt8 && w.format != WeightFormat::kQ4) || w.scale != nullptr,
      "quantised weights without scales");
  if (M == 1) ldx = std::max(ldx, K);
  if (K == 0) {  // no products: the epilogue of zeros
    for (int64_t m = 0; m < M; ++m) {
      float* yr = y + m * ldy;
      for (int64_t n = 0; n < N; ++n) {
        float v = (ep.bias ? ep.bias[n] : 0.0f) + (ep.beta != 0.0f ? ep.beta * yr[n] : 0.0f);
        yr[n] = v;
      }
      detail::epilogue_rows(yr, ldy, yr, ldy, 1, N,
                            epilogue_params({1.0f, 0.0f, nullptr, ep.activation}, 0, nullptr));
    }
    return;
  }
  if (w.format == WeightFormat::kF32) return matmul_f32(pool, w, M, x, ldx, y, ldy, ep);
  const MatmulLevel level = matmul_level();
  const LevelKernels& kern = kernels_for(level);
  if (M <= kSmallM)
    return matmul_small(pool, w, M, x, ldx, y, ldy, ep, kern, level != MatmulLevel::kScalar);
#if defined(__x86_64__)
  if (level == MatmulLevel::kAmx) return matmul_amx(pool, w, M, x, ldx, y, ldy, ep);
#endif
  matmul_dequant_sgemm(pool, w, M, x, ldx, y, ldy, ep);
}

}  // namespace blip2::cpu
