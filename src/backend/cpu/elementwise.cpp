// Elementwise kernels: GELU (erf and tanh forms), erf, ReLU, add, mul, scale, bias rows, and the
// embedding gather. Highway dynamic dispatch, as in norm.cpp.
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "backend/cpu/elementwise.cpp"
#include "backend/cpu/hwy_targets.h"  // before foreach_target.h
// clang-format off
#include "hwy/foreach_target.h"  // IWYU pragma: keep
// clang-format on
#include "hwy/highway.h"

#include <algorithm>
#include <cstdint>
#include <cstring>

#include "backend/cpu/kernels.h"
#include "backend/cpu/simd_internal.h"
#include "backend/cpu/vec_math-inl.h"

HWY_BEFORE_NAMESPACE();
namespace blip2::cpu::HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

void GeluErfRange(float* x, size_t n) {
  const hn::ScalableTag<float> d;
  Map(d, x, x, n, [d](auto v) { return GeluErf(d, v); });
}

void GeluTanhRange(float* x, size_t n) {
  const hn::ScalableTag<float> d;
  Map(d, x, x, n, [d](auto v) { return GeluTanh(d, v); });
}

void ErfRange(float* x, size_t n) {
  const hn::ScalableTag<float> d;
  Map(d, x, x, n, [d](auto v) { return Erf(d, v); });
}

// x < 0 ? 0 : x, so NaN stays NaN (a plain Max(x, 0) would turn it into 0 on x86).
void ReluRange(float* x, size_t n) {
  const hn::ScalableTag<float> d;
  Map(d, x, x, n, [d](auto v) { return hn::IfThenZeroElse(hn::Lt(v, hn::Zero(d)), v); });
}

void AddRange(const float* a, const float* b, float* y, size_t n) {
  const hn::ScalableTag<float> d;
  Map2(d, a, b, y, n, [](auto u, auto v) { return hn::Add(u, v); });
}

void MulRange(const float* a, const float* b, float* y, size_t n) {
  const hn::ScalableTag<float> d;
  Map2(d, a, b, y, n, [](auto u, auto v) { return hn::Mul(u, v); });
}

void ScaleRange(float* x, float s, size_t n) {
  const hn::ScalableTag<float> d;
  const auto vs = hn::Set(d, s);
  Map(d, x, x, n, [vs](auto v) { return hn::Mul(v, vs); });
}

// The matmul epilogue over rows: y = act(alpha * z * col_scale + bias + beta * y). z may be y.
// The sum is formed in this order so that, with beta = 1, it equals y + (z + bias) computed by two
// separate passes (the unfused order).
template <int kAct>
void EpilogueRowsT(const float* z, int64_t ldz, float* y, int64_t ldy, int64_t rows, size_t n,
                   const ::blip2::cpu::detail::EpilogueParams& p) {
  const hn::ScalableTag<float> d;
  const size_t N = hn::Lanes(d);
  const auto valpha = hn::Set(d, p.alpha), vbeta = hn::Set(d, p.beta);
  const bool scale = p.col_scale != nullptr, alpha = p.alpha != 1.0f, bias = p.bias != nullptr;
  for (int64_t r = 0; r < rows; ++r) {
    const float* zr = z + r * ldz;
    float* yr = y + r * ldy;
    for (size_t i = 0; i < n; i += N) {
      const size_t left = n - i;
      const auto m = hn::FirstN(d, left);
      auto v = left >= N ? hn::LoadU(d, zr + i) : hn::MaskedLoad(m, d, zr + i);
      if (scale)
        v = hn::Mul(
            v, left >= N ? hn::LoadU(d, p.col_scale + i) : hn::MaskedLoad(m, d, p.col_scale + i));
      if (alpha) v = hn::Mul(v, valpha);
      if (bias)
        v = hn::Add(v, left >= N ? hn::LoadU(d, p.bias + i) : hn::MaskedLoad(m, d, p.bias + i));
      if (p.beta != 0.0f) {
        const auto old = left >= N ? hn::LoadU(d, yr + i) : hn::MaskedLoad(m, d, yr + i);
        v = p.beta == 1.0f ? hn::Add(v, old) : hn::MulAdd(vbeta, old, v);
      }
      if constexpr (kAct == 1) v = GeluErf(d, v);
      if constexpr (kAct == 2) v = GeluTanh(d, v);
      if constexpr (kAct == 3) v = hn::IfThenZeroElse(hn::Lt(v, hn::Zero(d)), v);
      if (left >= N) {
        hn::StoreU(v, d, yr + i);
      } else {
        hn::BlendedStore(v, m, d, yr + i);
      }
    }
  }
}

void EpilogueRows(const float* z, int64_t ldz, float* y, int64_t ldy, int64_t rows, size_t n,
                  const ::blip2::cpu::detail::EpilogueParams& p) {
  switch (p.activation) {
    case 1:
      return EpilogueRowsT<1>(z, ldz, y, ldy, rows, n, p);
    case 2:
      return EpilogueRowsT<2>(z, ldz, y, ldy, rows, n, p);
    case 3:
      return EpilogueRowsT<3>(z, ldz, y, ldy, rows, n, p);
    default:
      return EpilogueRowsT<0>(z, ldz, y, ldy, rows, n, p);
  }
}

}  // namespace blip2::cpu::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace blip2::cpu {

HWY_EXPORT(GeluErfRange);
HWY_EXPORT(GeluTanhRange);
HWY_EXPORT(ErfRange);
HWY_EXPORT(ReluRange);
HWY_EXPORT(AddRange);
HWY_EXPORT(MulRange);
HWY_EXPORT(ScaleRange);
HWY_EXPORT(EpilogueRows);

void detail::epilogue_rows(const float* z, int64_t ldz, float* y, int64_t ldy, int64_t rows,
                           int64_t n, const EpilogueParams& p) {
  if (rows <= 0 || n <= 0) return;
  HWY_DYNAMIC_DISPATCH(EpilogueRows)(z, ldz, y, ldy, rows, static_cast<size_t>(n), p);
}

namespace {
// Elements per task. A pool task costs a thread wake-up (~5-20 us), so each must carry more
// work than that: memory-bound ops (add, mul, relu, bias: ~0.1 ns per float on one AVX2 core)
// split only beyond 2 x 128K floats, the GELUs and erf (~0.5-1 ns per float) beyond 2 x 32K.
constexpr size_t kGrainLight = 128 * 1024;
constexpr size_t kGrainHeavy = 32 * 1024;

template <typename Fn>
void for_ranges(ThreadPool& pool, int64_t n, size_t grain, const Fn& fn) {
  if (n <= 0) return;
  pool.parallel_for(static_cast<size_t>(n), grain, fn);
}
}  // namespace

void gelu_erf(ThreadPool& pool, float* x, int64_t n) {
  const auto fn = HWY_DYNAMIC_DISPATCH(GeluErfRange);
  for_ranges(pool, n, kGrainHeavy, [&](size_t b, size_t e) { fn(x + b, e - b); });
}

void gelu_tanh(ThreadPool& pool, float* x, int64_t n) {
  const auto fn = HWY_DYNAMIC_DISPATCH(GeluTanhRange);
  for_ranges(pool, n, kGrainHeavy, [&](size_t b, size_t e) { fn(x + b, e - b); });
}

void erf(ThreadPool& pool, float* x, int64_t n) {
  const auto fn = HWY_DYNAMIC_DISPATCH(ErfRange);
  for_ranges(pool, n, kGrainHeavy, [&](size_t b, size_t e) { fn(x + b, e - b); });
}

void relu(ThreadPool& pool, float* x, int64_t n) {
  const auto fn = HWY_DYNAMIC_DISPATCH(ReluRange);
  for_ranges(pool, n, kGrainLight, [&](size_t b, size_t e) { fn(x + b, e - b); });
}

void add(ThreadPool& pool, const float* a, const float* b, float* y, int64_t n) {
  const auto fn = HWY_DYNAMIC_DISPATCH(AddRange);
  for_ranges(pool, n, kGrainLight, [&](size_t s, size_t e) { fn(a + s, b + s, y + s, e - s); });
}

void mul(ThreadPool& pool, const float* a, const float* b, float* y, int64_t n) {
  const auto fn = HWY_DYNAMIC_DISPATCH(MulRange);
  for_ranges(pool, n, kGrainLight, [&](size_t s, size_t e) { fn(a + s, b + s, y + s, e - s); });
}

void scale(float* x, float s, int64_t n) {
  if (n > 0) HWY_DYNAMIC_DISPATCH(ScaleRange)(x, s, static_cast<size_t>(n));
}

// A gather of whole rows: memcpy is already the fastest copy there is.
void embedding(const float* table, int64_t dim, const int32_t* ids, int64_t n, float* out) {
  const size_t row_bytes = static_cast<size_t>(dim) * sizeof(float);
  for (int64_t i = 0; i < n; ++i)
    std::memcpy(out + i * dim, table + static_cast<int64_t>(ids[i]) * dim, row_bytes);
}

}  // namespace blip2::cpu
#endif  // HWY_ONCE
