// f16/bf16 <-> f32 conversions (weights at load time, half-precision activations). Highway
// dynamic dispatch, as in norm.cpp; the per-vector conversions are in vec_math-inl.h.
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "backend/cpu/convert.cpp"
#include "backend/cpu/hwy_targets.h"  // before foreach_target.h
// clang-format off
#include "hwy/foreach_target.h"  // IWYU pragma: keep
// clang-format on
#include "hwy/highway.h"

#include <cstdint>
#include <cstring>

#include "backend/cpu/kernels.h"
#include "backend/cpu/vec_math-inl.h"

HWY_BEFORE_NAMESPACE();
namespace blip2::cpu::HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

// Runs `load` (16-bit lanes -> float vector) over whole vectors, then once over a padded copy of
// the tail, so the tail is converted by the same code.
template <class D, class F>
HWY_INLINE void Widen(D d, const uint16_t* x, float* y, size_t n, const F& load) {
  const size_t N = hn::Lanes(d);
  size_t i = 0;
  for (; i + N <= n; i += N) hn::StoreU(load(x + i), d, y + i);
  if (i < n) {
    HWY_ALIGN uint16_t buf[hn::MaxLanes(d)] = {};
    std::memcpy(buf, x + i, (n - i) * sizeof(uint16_t));
    StorePartial(d, load(buf), y + i, n - i);
  }
}

template <class D, class F>
HWY_INLINE void Narrow(D d, const float* x, uint16_t* y, size_t n, const F& store) {
  const size_t N = hn::Lanes(d);
  size_t i = 0;
  for (; i + N <= n; i += N) store(hn::LoadU(d, x + i), y + i);
  if (i < n) {
    HWY_ALIGN uint16_t buf[hn::MaxLanes(d)];
    store(LoadPadded(d, x + i, n - i, 0.0f), buf);
    std::memcpy(y + i, buf, (n - i) * sizeof(uint16_t));
  }
}

void F16ToF32Range(const uint16_t* x, float* y, size_t n) {
  const hn::ScalableTag<float> d;
  Widen(d, x, y, n, [d](const uint16_t* p) { return F16ToF32(d, p); });
}

void Bf16ToF32Range(const uint16_t* x, float* y, size_t n) {
  const hn::ScalableTag<float> d;
  Widen(d, x, y, n, [d](const uint16_t* p) { return Bf16ToF32(d, p); });
}

void F32ToF16Range(const float* x, uint16_t* y, size_t n) {
  const hn::ScalableTag<float> d;
  Narrow(d, x, y, n, [d](hn::Vec<decltype(d)> v, uint16_t* p) { F32ToF16(d, v, p); });
}

void F32ToBf16Range(const float* x, uint16_t* y, size_t n) {
  const hn::ScalableTag<float> d;
  Narrow(d, x, y, n, [d](hn::Vec<decltype(d)> v, uint16_t* p) { F32ToBf16(d, v, p); });
}

}  // namespace blip2::cpu::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace blip2::cpu {

HWY_EXPORT(F16ToF32Range);
HWY_EXPORT(Bf16ToF32Range);
HWY_EXPORT(F32ToF16Range);
HWY_EXPORT(F32ToBf16Range);

void f16_to_f32(const uint16_t* x, float* y, int64_t n) {
  if (n > 0) HWY_DYNAMIC_DISPATCH(F16ToF32Range)(x, y, static_cast<size_t>(n));
}

void bf16_to_f32(const uint16_t* x, float* y, int64_t n) {
  if (n > 0) HWY_DYNAMIC_DISPATCH(Bf16ToF32Range)(x, y, static_cast<size_t>(n));
}

void f32_to_f16(const float* x, uint16_t* y, int64_t n) {
  if (n > 0) HWY_DYNAMIC_DISPATCH(F32ToF16Range)(x, y, static_cast<size_t>(n));
}

void f32_to_bf16(const float* x, uint16_t* y, int64_t n) {
  if (n > 0) HWY_DYNAMIC_DISPATCH(F32ToBf16Range)(x, y, static_cast<size_t>(n));
}

}  // namespace blip2::cpu
#endif  // HWY_ONCE
