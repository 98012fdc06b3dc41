// Row-wise kernels: LayerNorm, T5 RMS norm, softmax, log-softmax, and the masked softmax of one
// attention score row. Highway dynamic dispatch: this file is compiled once per SIMD target
// (hwy_targets.h), and the wrappers at the bottom pick the best one at run time.
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "backend/cpu/norm.cpp"
#include "backend/cpu/hwy_targets.h"  // before foreach_target.h
// clang-format off
#include "hwy/foreach_target.h"  // IWYU pragma: keep
// clang-format on
#include "hwy/highway.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>

#include "backend/cpu/kernels.h"
#include "backend/cpu/simd_internal.h"
#include "backend/cpu/vec_math-inl.h"

HWY_BEFORE_NAMESPACE();
namespace blip2::cpu::HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

// f32 [rows, cols] -> [rows, cols]; two-pass mean/variance (more accurate than E[x^2]-E[x]^2).
void LayerNormRows(const float* x, const float* weight, const float* bias, float* y, int64_t rows,
                   int64_t cols, float eps) {
  const hn::ScalableTag<float> d;
  const size_t n = static_cast<size_t>(cols);
  for (int64_t r = 0; r < rows; ++r) {
    const float* xr = x + r * cols;
    float* yr = y + r * cols;
    const float mean = static_cast<float>(Sum(d, xr, n) / static_cast<double>(cols));
    const double var = SumSquaredDiff(d, xr, n, mean) / static_cast<double>(cols);
    const auto vmean = hn::Set(d, mean);
    const auto vrstd = hn::Set(d, static_cast<float>(1.0 / std::sqrt(var + eps)));
    // x and y may alias: each element is read before it is written, at the same index.
    if (weight && bias) {
      size_t i = 0;
      const size_t N = hn::Lanes(d);
      for (; i + N <= n; i += N) {
        const auto v = hn::Mul(hn::Sub(hn::LoadU(d, xr + i), vmean), vrstd);
        hn::StoreU(hn::MulAdd(v, hn::LoadU(d, weight + i), hn::LoadU(d, bias + i)), d, yr + i);
      }
      if (i < n) {
        const size_t m = n - i;
        const auto v = hn::Mul(hn::Sub(LoadPadded(d, xr + i, m, 0.0f), vmean), vrstd);
        const auto w = LoadPadded(d, weight + i, m, 0.0f);
        StorePartial(d, hn::MulAdd(v, w, LoadPadded(d, bias + i, m, 0.0f)), yr + i, m);
      }
    } else {
      Map(d, xr, yr, n, [&](auto v) { return hn::Mul(hn::Sub(v, vmean), vrstd); });
      if (weight) Map2(d, yr, weight, yr, n, [](auto a, auto b) { return hn::Mul(a, b); });
      if (bias) Map2(d, yr, bias, yr, n, [](auto a, auto b) { return hn::Add(a, b); });
    }
  }
}

// T5LayerNorm: y = (x * rsqrt(mean(x^2) + eps)) * weight, in that order as transformers does.
void RmsNormRows(const float* x, const float* weight, float* y, int64_t rows, int64_t cols,
                 float eps) {
  const hn::ScalableTag<float> d;
  const size_t n = static_cast<size_t>(cols);
  for (int64_t r = 0; r < rows; ++r) {
    const float* xr = x + r * cols;
    const double ms = SumSquaredDiff(d, xr, n, 0.0f) / static_cast<double>(cols);
    const auto vrstd = hn::Set(d, static_cast<float>(1.0 / std::sqrt(ms + eps)));
    Map2(d, xr, weight, y + r * cols, n,
         [&](auto v, auto w) { return hn::Mul(hn::Mul(v, vrstd), w); });
  }
}

// Writes exp(x - mx) over x and returns their sum. Padding with -inf gives exp = 0.
template <class D>
HWY_INLINE double ExpShiftedInPlace(D d, float* x, size_t n, float mx) {
  const auto vmax = hn::Set(d, mx);
  return MapSum<true>(d, x, x, n, -std::numeric_limits<float>::infinity(),
                      [d, vmax](auto v) { return hn::Exp(d, hn::Sub(v, vmax)); });
}

// Stable softmax in place over each row of f32 [rows, cols].
void SoftmaxRows(float* x, int64_t rows, int64_t cols) {
  const hn::ScalableTag<float> d;
  const size_t n = static_cast<size_t>(cols);
  for (int64_t r = 0; r < rows; ++r) {
    float* xr = x + r * cols;
    const double sum = ExpShiftedInPlace(d, xr, n, Max(d, xr, n));
    const auto inv = hn::Set(d, static_cast<float>(1.0 / sum));
    Map(d, xr, xr, n, [&](auto v) { return hn::Mul(v, inv); });
  }
}

// y = (x - max) - log(sum(exp(x - max))), as torch.log_softmax; x and y may alias.
void LogSoftmaxRow(const float* x, float* y, int64_t len) {
  const hn::ScalableTag<float> d;
  const size_t n = static_cast<size_t>(len);
  const float mx = Max(d, x, n);
  const auto vmax = hn::Set(d, mx);
  const double sum = MapSum<false>(d, x, nullptr, n, -std::numeric_limits<float>::infinity(),
                                   [d, vmax](auto v) { return hn::Exp(d, hn::Sub(v, vmax)); });
  const auto vlog = hn::Set(d, static_cast<float>(std::log(sum)));
  Map(d, x, y, n, [&](auto v) { return hn::Sub(hn::Sub(v, vmax), vlog); });
}

// One attention row: s[j] += bias[j] (bias may be null), keys with mask[j] == 0 (mask may be
// null) get probability exactly 0, then a stable softmax over s[0, n). Returns false, with the
// row all zeros, when no key is allowed.
bool AttentionSoftmaxRow(float* s, int64_t len, const float* bias, const uint8_t* mask) {
  const hn::ScalableTag<float> d;
  const hn::RebindToUnsigned<decltype(d)> du;
  const hn::Rebind<uint8_t, decltype(d)> d8;
  const size_t n = static_cast<size_t>(len);
  const size_t N = hn::Lanes(d);
  const auto neg_inf = hn::Set(d, -std::numeric_limits<float>::infinity());
  if (bias || mask) {
    // One pass: add the bias, replace masked scores by -inf.
    HWY_ALIGN uint8_t mask_buf[hn::MaxLanes(d)];
    for (size_t i = 0; i < n; i += N) {
      const size_t m = n - i < N ? n - i : N;
      auto v = m == N ? hn::LoadU(d, s + i) : LoadPadded(d, s + i, m, 0.0f);
      if (bias) v = hn::Add(v, m == N ? hn::LoadU(d, bias + i) : LoadPadded(d, bias + i, m, 0.0f));
      if (mask) {
        const uint8_t* mp = mask + i;
        if (m < N) {
          for (size_t k = 0; k < N; ++k) mask_buf[k] = k < m ? mask[i + k] : 0;
          mp = mask_buf;
        }
        const auto keep = hn::PromoteTo(du, hn::LoadU(d8, mp));
        v = hn::IfThenElse(hn::RebindMask(d, hn::Eq(keep, hn::Zero(du))), neg_inf, v);
      }
      if (m == N) {
        hn::StoreU(v, d, s + i);
      } else {
        StorePartial(d, v, s + i, m);
      }
    }
  }
  const float mx = Max(d, s, n);
  if (mx == -std::numeric_limits<float>::infinity()) {  // no key allowed (or n == 0)
    for (size_t i = 0; i < n; ++i) s[i] = 0.0f;
    return false;
  }
  // exp(-inf - mx) is exactly 0, so masked keys get weight 0.
  const double sum = ExpShiftedInPlace(d, s, n, mx);
  const auto inv = hn::Set(d, static_cast<float>(1.0 / sum));
  Map(d, s, s, n, [&](auto v) { return hn::Mul(v, inv); });
  return true;
}

}  // namespace blip2::cpu::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace blip2::cpu {

HWY_EXPORT(LayerNormRows);
HWY_EXPORT(RmsNormRows);
HWY_EXPORT(SoftmaxRows);
HWY_EXPORT(LogSoftmaxRow);
HWY_EXPORT(AttentionSoftmaxRow);

namespace {
// Rows per task: about kRowGrainElements elements, so that a task is worth a thread wake-up
// (~10 us) and small inputs (a decode step's single row) run inline without the pool.
constexpr int64_t kRowGrainElements = 32 * 1024;
size_t row_grain(int64_t cols) {
  return static_cast<size_t>(std::max<int64_t>(1, kRowGrainElements / std::max<int64_t>(cols, 1)));
}
}  // namespace

void layer_norm(ThreadPool& pool, const float* x, const float* weight, const float* bias, float* y,
                int64_t rows, int64_t cols, float eps) {
  if (rows <= 0 || cols <= 0) return;
  const auto fn = HWY_DYNAMIC_DISPATCH(LayerNormRows);
  pool.parallel_for(static_cast<size_t>(rows), row_grain(cols), [&](size_t r0, size_t r1) {
    const int64_t off = static_cast<int64_t>(r0) * cols;
    fn(x + off, weight, bias, y + off, static_cast<int64_t>(r1 - r0), cols, eps);
  });
}

void rms_norm(ThreadPool& pool, const float* x, const float* weight, float* y, int64_t rows,
              int64_t cols, float eps) {
  if (rows <= 0 || cols <= 0) return;
  const auto fn = HWY_DYNAMIC_DISPATCH(RmsNormRows);
  pool.parallel_for(static_cast<size_t>(rows), row_grain(cols), [&](size_t r0, size_t r1) {
    const int64_t off = static_cast<int64_t>(r0) * cols;
    fn(x + off, weight, y + off, static_cast<int64_t>(r1 - r0), cols, eps);
  });
}

void softmax_rows(ThreadPool& pool, float* x, int64_t rows, int64_t cols) {
  if (rows <= 0 || cols <= 0) return;
  const auto fn = HWY_DYNAMIC_DISPATCH(SoftmaxRows);
  pool.parallel_for(static_cast<size_t>(rows), row_grain(cols), [&](size_t r0, size_t r1) {
    fn(x + static_cast<int64_t>(r0) * cols, static_cast<int64_t>(r1 - r0), cols);
  });
}

void log_softmax_row(const float* x, float* y, int64_t n) {
  if (n <= 0) return;
  HWY_DYNAMIC_DISPATCH(LogSoftmaxRow)(x, y, n);
}

namespace detail {
bool attention_softmax_row(float* s, int64_t n, const float* bias, const uint8_t* mask) {
  return HWY_DYNAMIC_DISPATCH(AttentionSoftmaxRow)(s, n, bias, mask);
}
}  // namespace detail

}  // namespace blip2::cpu
#endif  // HWY_ONCE
