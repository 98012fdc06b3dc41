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

// y[rows, cols] += bias[cols].
void AddBiasRows(float* y, const float* bias, int64_t rows, int64_t cols) {
  const hn::ScalableTag<float> d;
  for (int64_t r = 0; r < rows; ++r) {
    float* yr = y + r * cols;
    Map2(d, yr, bias, yr, static_cast<size_t>(cols), [](auto u, auto v) { return hn::Add(u, v); });
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
HWY_EXPORT(AddBiasRows);

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

void add_bias(ThreadPool& pool, float* y, const float* bias, int64_t M, int64_t N) {
  if (M <= 0 || N <= 0) return;
  const auto fn = HWY_DYNAMIC_DISPATCH(AddBiasRows);
  const size_t grain = static_cast<size_t>(std::max<int64_t>(1, int64_t(kGrainLight) / N));
  pool.parallel_for(static_cast<size_t>(M), grain, [&](size_t r0, size_t r1) {
    fn(y + static_cast<int64_t>(r0) * N, bias, static_cast<int64_t>(r1 - r0), N);
  });
}

// A gather of whole rows: memcpy is already the fastest copy there is.
void embedding(const float* table, int64_t dim, const int32_t* ids, int64_t n, float* out) {
  const size_t row_bytes = static_cast<size_t>(dim) * sizeof(float);
  for (int64_t i = 0; i < n; ++i)
    std::memcpy(out + i * dim, table + static_cast<int64_t>(ids[i]) * dim, row_bytes);
}

}  // namespace blip2::cpu
#endif  // HWY_ONCE
