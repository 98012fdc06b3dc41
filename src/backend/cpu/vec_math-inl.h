// Vector building blocks shared by the backend/cpu Highway translation units: padded tail loads
// and stores, reductions, erf/erfc, both GELU forms and the f16/bf16 conversions. Included once
// per SIMD target (Highway's per-target include guard below), so everything here is compiled for
// AVX3, AVX2, SSE4 and EMU128 alike.
//
// Polynomial coefficients were fitted for this project by src/backend/cpu/erf_fit.py (Chebyshev
// interpolation in double precision; the script prints them and their f32 error).

// Per-target include guard: re-included by foreach_target.h for each target.
#if defined(BLIP2_BACKEND_CPU_VEC_MATH_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef BLIP2_BACKEND_CPU_VEC_MATH_INL_H_
#undef BLIP2_BACKEND_CPU_VEC_MATH_INL_H_
#else
#define BLIP2_BACKEND_CPU_VEC_MATH_INL_H_
#endif

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>

#include "hwy/contrib/math/math-inl.h"
#include "hwy/highway.h"

HWY_BEFORE_NAMESPACE();
namespace blip2::cpu::HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

// ----------------------------------------------------------------------------- tails
// The last n % Lanes(d) elements go through a small aligned stack buffer, so every kernel stays
// vectorised to the end without reading or writing past the caller's arrays (Highway 1.0's
// MaskedLoad may read the full vector on SSE4/EMU128).

// Loads `count` (< Lanes(d)) floats, the other lanes set to `pad`.
template <class D>
HWY_INLINE hn::Vec<D> LoadPadded(D d, const float* HWY_RESTRICT p, size_t count, float pad) {
  HWY_ALIGN float buf[hn::MaxLanes(d)];
  for (size_t i = 0; i < hn::Lanes(d); ++i) buf[i] = pad;
  std::memcpy(buf, p, count * sizeof(float));
  return hn::Load(d, buf);
}

// Stores the first `count` (< Lanes(d)) lanes of v.
template <class D>
HWY_INLINE void StorePartial(D d, hn::Vec<D> v, float* HWY_RESTRICT p, size_t count) {
  HWY_ALIGN float buf[hn::MaxLanes(d)];
  hn::Store(v, d, buf);
  std::memcpy(p, buf, count * sizeof(float));
}

// y[i] = f(x[i]) for i < n; x and y may be the same array (each vector is loaded before it is
// stored). The tail lanes beyond n see 0.
template <class D, class F>
HWY_INLINE void Map(D d, const float* x, float* y, size_t n, const F& f) {
  const size_t N = hn::Lanes(d);
  size_t i = 0;
  for (; i + 2 * N <= n; i += 2 * N) {
    const auto a = hn::LoadU(d, x + i);
    const auto b = hn::LoadU(d, x + i + N);
    hn::StoreU(f(a), d, y + i);
    hn::StoreU(f(b), d, y + i + N);
  }
  for (; i + N <= n; i += N) hn::StoreU(f(hn::LoadU(d, x + i)), d, y + i);
  if (i < n) StorePartial(d, f(LoadPadded(d, x + i, n - i, 0.0f)), y + i, n - i);
}

// y[i] = f(a[i], b[i]); y may alias a or b.
template <class D, class F>
HWY_INLINE void Map2(D d, const float* a, const float* b, float* y, size_t n, const F& f) {
  const size_t N = hn::Lanes(d);
  size_t i = 0;
  for (; i + N <= n; i += N) hn::StoreU(f(hn::LoadU(d, a + i), hn::LoadU(d, b + i)), d, y + i);
  if (i < n) {
    const auto va = LoadPadded(d, a + i, n - i, 0.0f);
    const auto vb = LoadPadded(d, b + i, n - i, 0.0f);
    StorePartial(d, f(va, vb), y + i, n - i);
  }
}

// ----------------------------------------------------------------------------- reductions
// Sums run in blocks of kSumBlock elements: two vector accumulators inside a block, a double
// across blocks. The rounding error then does not grow with the row length (a vocabulary row has
// 50272 elements, and the scalar fallback has one lane), for one horizontal add per block.
constexpr size_t kSumBlock = 1024;

// Returns the sum of f(x[i]) for i < n; with kStore, also writes f(x[i]) to y[i] (y may be x).
// The tail is padded with `pad`, which f must map to 0.
template <bool kStore, class D, class F>
HWY_INLINE double MapSum(D d, const float* x, float* y, size_t n, float pad, const F& f) {
  const size_t N = hn::Lanes(d);
  double total = 0.0;
  size_t i = 0;
  while (i + N <= n) {
    const size_t end = n - i < kSumBlock ? n : i + kSumBlock;
    auto s0 = hn::Zero(d), s1 = hn::Zero(d);
    for (; i + 2 * N <= end; i += 2 * N) {
      const auto a = f(hn::LoadU(d, x + i));
      const auto b = f(hn::LoadU(d, x + i + N));
      if constexpr (kStore) {
        hn::StoreU(a, d, y + i);
        hn::StoreU(b, d, y + i + N);
      }
      s0 = hn::Add(s0, a);
      s1 = hn::Add(s1, b);
    }
    for (; i + N <= end; i += N) {
      const auto a = f(hn::LoadU(d, x + i));
      if constexpr (kStore) hn::StoreU(a, d, y + i);
      s0 = hn::Add(s0, a);
    }
    total += hn::GetLane(hn::SumOfLanes(d, hn::Add(s0, s1)));
  }
  if (i < n) {
    const auto a = f(LoadPadded(d, x + i, n - i, pad));
    if constexpr (kStore) StorePartial(d, a, y + i, n - i);
    total += hn::GetLane(hn::SumOfLanes(d, a));
  }
  return total;
}

template <class D>
HWY_INLINE double Sum(D d, const float* HWY_RESTRICT x, size_t n) {
  return MapSum<false>(d, x, nullptr, n, 0.0f, [](auto v) { return v; });
}

// Sum of (x[i] - c)^2: the second pass of a two-pass variance, and (c = 0) the RMS norm.
template <class D>
HWY_INLINE double SumSquaredDiff(D d, const float* HWY_RESTRICT x, size_t n, float c) {
  const auto vc = hn::Set(d, c);
  return MapSum<false>(d, x, nullptr, n, c, [vc](auto v) {
    const auto t = hn::Sub(v, vc);
    return hn::Mul(t, t);
  });
}

template <class D>
HWY_INLINE float Max(D d, const float* HWY_RESTRICT x, size_t n) {
  const size_t N = hn::Lanes(d);
  const float kNegInf = -std::numeric_limits<float>::infinity();
  auto m0 = hn::Set(d, kNegInf), m1 = m0;
  size_t i = 0;
  for (; i + 2 * N <= n; i += 2 * N) {
    m0 = hn::Max(m0, hn::LoadU(d, x + i));
    m1 = hn::Max(m1, hn::LoadU(d, x + i + N));
  }
  for (; i + N <= n; i += N) m0 = hn::Max(m0, hn::LoadU(d, x + i));
  if (i < n) m1 = hn::Max(m1, LoadPadded(d, x + i, n - i, kNegInf));
  return hn::GetLane(hn::MaxOfLanes(d, hn::Max(m0, m1)));
}

// ----------------------------------------------------------------------------- erf, GELU
// erfc(a) for a >= 0 as t * exp(-a^2 + Q(t)) with t = 2 / (2 + a) and Q a degree-11 polynomial
// fitted to log(erfc(a) * exp(a^2) / t) over all of a >= 0 (t in (0, 1]): fit error 1.1e-8, and
// 2.4e-7 once evaluated in f32. The caller passes a^2 as a2_hi + a2_lo, computed from its own
// input with an exact product (FMA), because erfc's relative error is 2a^2 times that of a: near
// a = 9 a rounded a alone would cost 1e-5. What remains is the rounding of the exp argument,
// so the relative error of erfc is < 6e-7 for a < 3 and grows to ~6e-6 near a = 9 (where
// erfc = 4e-37, so the absolute error is nil). erfc(+inf) = 0; NaN stays NaN.
template <class D, class V>
HWY_INLINE V ErfcOfAbs(D d, V a, V a2_hi, V a2_lo) {
  const V t = hn::Div(hn::Set(d, 2.0f), hn::Add(hn::Set(d, 2.0f), a));
  // Estrin's scheme: the same polynomial with a dependency chain of 4-5 operations instead of
  // Horner's 11, so consecutive vectors overlap better (35% faster; same measured accuracy).
  const V t2 = hn::Mul(t, t);
  const V t4 = hn::Mul(t2, t2);
  const V t8 = hn::Mul(t4, t4);
  const V p01 = hn::MulAdd(hn::Set(d, 9.999999404e-01f), t, hn::Set(d, -1.265512109e+00f));
  const V p23 = hn::MulAdd(hn::Set(d, 8.259243518e-02f), t, hn::Set(d, 3.750202060e-01f));
  const V p45 = hn::MulAdd(hn::Set(d, -2.337078899e-01f), t, hn::Set(d, -7.473419607e-02f));
  const V p67 = hn::MulAdd(hn::Set(d, -1.225425124e+00f), t, hn::Set(d, 3.355402350e-01f));
  const V p89 = hn::MulAdd(hn::Set(d, -2.205107450e+00f), t, hn::Set(d, 2.398733616e+00f));
  const V pab = hn::MulAdd(hn::Set(d, -1.787572503e-01f), t, hn::Set(d, 9.913576245e-01f));
  const V p03 = hn::MulAdd(p23, t2, p01);
  const V p47 = hn::MulAdd(p67, t2, p45);
  const V p8b = hn::MulAdd(pab, t2, p89);
  const V q = hn::MulAdd(p8b, t8, hn::MulAdd(p47, t4, p03));
  // Where a^2 overflowed, a2_lo is inf - inf = NaN: drop it (exp(-a2_hi) is 0 there anyway).
  a2_lo = hn::IfThenElseZero(hn::Lt(a2_hi, hn::Set(d, 1e30f)), a2_lo);
  return hn::Mul(t, hn::Exp(d, hn::Sub(hn::Sub(q, a2_lo), a2_hi)));
}

// erf(x): x * P(x^2) for |x| < 0.75 (degree-5 P, relative error < 2e-7 in f32, so tiny
// arguments keep full relative precision), else sign(x) * (1 - erfc(|x|)).
template <class D, class V>
HWY_INLINE V Erf(D d, V x) {
  const V a = hn::Abs(x);
  const V s = hn::Mul(x, x);
  V p = hn::Set(d, -6.758787786e-04f);
  p = hn::MulAdd(p, s, hn::Set(d, 5.115657113e-03f));
  p = hn::MulAdd(p, s, hn::Set(d, -2.683527581e-02f));
  p = hn::MulAdd(p, s, hn::Set(d, 1.128338948e-01f));
  p = hn::MulAdd(p, s, hn::Set(d, -3.761262000e-01f));
  p = hn::MulAdd(p, s, hn::Set(d, 1.128379107e+00f));
  const V small = hn::Mul(x, p);
  const V s_lo = hn::MulSub(x, x, s);  // x*x - s exactly with FMA (0 where FMA is emulated)
  const V large = hn::CopySignToAbs(hn::Sub(hn::Set(d, 1.0f), ErfcOfAbs(d, a, s, s_lo)), x);
  return hn::IfThenElse(hn::Lt(a, hn::Set(d, 0.75f)), small, large);
}

// GELU, exact form: 0.5 x (1 + erf(x / sqrt 2)). 1 + erf(u) is computed as erfc(|u|) for x < 0
// and 2 - erfc(|u|) otherwise, which keeps full relative precision where GELU is tiny (large
// negative x) instead of cancelling 1 - 0.99999... u^2 = x^2 / 2 comes from x exactly.
template <class D, class V>
HWY_INLINE V GeluErf(D d, V x) {
  const V half = hn::Set(d, 0.5f);
  const V x2 = hn::Mul(x, x);
  const V x2_lo = hn::MulSub(x, x, x2);
  const V a = hn::Abs(hn::Mul(x, hn::Set(d, 0.70710678118654752f)));
  const V e = ErfcOfAbs(d, a, hn::Mul(half, x2), hn::Mul(half, x2_lo));
  const V one_plus_erf = hn::IfThenElse(hn::Lt(x, hn::Zero(d)), e, hn::Sub(hn::Set(d, 2.0f), e));
  return hn::Mul(hn::Mul(half, x), one_plus_erf);
}

// GELU, tanh form ("gelu_new"): 0.5 x (1 + tanh(y)), y = sqrt(2/pi) (x + 0.044715 x^3), written
// as x / (1 + exp(-2y)) (the same function), which needs one exp and is accurate for negative x.
// The exp argument is capped at 100, inside Exp's valid range (<= 104) and past its overflow
// (88.7): exp gives +inf there and x / inf = -0, as 0.5 x (1 + tanh(-inf)) would.
template <class D, class V>
HWY_INLINE V GeluTanh(D d, V x) {
  const V k = hn::Set(d, -2.0f * 0.79788456080286536f);  // -2 sqrt(2/pi)
  const V k3 = hn::Set(d, -2.0f * 0.79788456080286536f * 0.044715f);
  const V minus_2y = hn::Mul(x, hn::MulAdd(k3, hn::Mul(x, x), k));
  const V e = hn::Exp(d, hn::Min(minus_2y, hn::Set(d, 100.0f)));
  return hn::Div(x, hn::Add(hn::Set(d, 1.0f), e));
}

// ----------------------------------------------------------------------------- f16 / bf16
// D is a float descriptor; the 16-bit lanes travel in a half-width u16 vector of the same count.

// bf16 -> f32 is exact: the bits move to the top half.
template <class D>
HWY_INLINE hn::Vec<D> Bf16ToF32(D d, const uint16_t* HWY_RESTRICT p) {
  const hn::Rebind<uint16_t, D> d16;
  const hn::RebindToUnsigned<D> du;
  return hn::BitCast(d, hn::ShiftLeft<16>(hn::PromoteTo(du, hn::LoadU(d16, p))));
}

// f32 -> bf16, round to nearest even; NaN stays NaN (quiet bit set) rather than rounding up into
// an infinity. Same result as core/dtype.h's f32_to_bf16.
template <class D>
HWY_INLINE void F32ToBf16(D /*d*/, hn::Vec<D> v, uint16_t* HWY_RESTRICT p) {
  const hn::Rebind<uint16_t, D> d16;
  const hn::RebindToUnsigned<D> du;
  const hn::RebindToSigned<D> di;
  const auto bits = hn::BitCast(du, v);
  const auto lsb = hn::And(hn::ShiftRight<16>(bits), hn::Set(du, 1));
  const auto rounded = hn::ShiftRight<16>(hn::Add(bits, hn::Add(hn::Set(du, 0x7fff), lsb)));
  const auto quiet_nan = hn::Or(hn::ShiftRight<16>(bits), hn::Set(du, 0x40));
  const auto is_nan =
      hn::Gt(hn::BitCast(di, hn::And(bits, hn::Set(du, 0x7fffffff))), hn::Set(di, 0x7f800000));
  const auto out = hn::IfThenElse(hn::RebindMask(du, is_nan), quiet_nan, rounded);
  // Every lane is <= 0xffff, so the saturating narrowing is exact.
  hn::StoreU(hn::DemoteTo(d16, hn::BitCast(di, out)), d16, p);
}

// x86 AVX2 and AVX3 have F16C: hardware conversion, round to nearest even.
#undef BLIP2_HWY_HARDWARE_F16
#if HWY_ARCH_X86 && HWY_TARGET <= HWY_AVX2 && !defined(HWY_DISABLE_F16C)
#define BLIP2_HWY_HARDWARE_F16 1
#else
#define BLIP2_HWY_HARDWARE_F16 0
#endif

template <class D>
HWY_INLINE hn::Vec<D> F16ToF32(D d, const uint16_t* HWY_RESTRICT p) {
#if BLIP2_HWY_HARDWARE_F16
  const hn::Rebind<hwy::float16_t, D> dh;
  return hn::PromoteTo(d, hn::LoadU(dh, reinterpret_cast<const hwy::float16_t*>(p)));
#else
  // Bit manipulation (Highway 1.0's emulation maps inf/NaN to finite values). Normal halves
  // rebias the exponent; subnormals are mantissa * 2^-24, exact in f32; inf/NaN keep the payload.
  const hn::Rebind<uint16_t, D> d16;
  const hn::RebindToUnsigned<D> du;
  const hn::RebindToSigned<D> di;
  const auto h = hn::PromoteTo(du, hn::LoadU(d16, p));
  const auto sign = hn::ShiftLeft<16>(hn::And(h, hn::Set(du, 0x8000)));
  const auto exp = hn::And(h, hn::Set(du, 0x7c00));
  const auto mant = hn::And(h, hn::Set(du, 0x03ff));
  const auto normal =
      hn::Add(hn::ShiftLeft<13>(hn::And(h, hn::Set(du, 0x7fff))), hn::Set(du, (127 - 15) << 23));
  const auto inf_nan = hn::Or(hn::Set(du, 0x7f800000), hn::ShiftLeft<13>(mant));
  const auto subnormal = hn::BitCast(
      du, hn::Mul(hn::ConvertTo(d, hn::BitCast(di, mant)), hn::Set(d, 1.0f / 16777216.0f)));
  auto out = hn::IfThenElse(hn::Eq(exp, hn::Zero(du)), subnormal, normal);
  out = hn::IfThenElse(hn::Eq(exp, hn::Set(du, 0x7c00)), inf_nan, out);
  return hn::BitCast(d, hn::Or(out, sign));
#endif
}

template <class D>
HWY_INLINE void F32ToF16(D d, hn::Vec<D> v, uint16_t* HWY_RESTRICT p) {
#if BLIP2_HWY_HARDWARE_F16
  (void)d;
  const hn::Rebind<hwy::float16_t, D> dh;
  hn::StoreU(hn::DemoteTo(dh, v), dh, reinterpret_cast<hwy::float16_t*>(p));
#else
  // Bit manipulation with round to nearest even (Highway 1.0's emulation truncates). Mirrors
  // core/dtype.h's f32_to_f16 except that NaN becomes the canonical quiet NaN 0x7e00.
  const hn::Rebind<uint16_t, D> d16;
  const hn::RebindToUnsigned<D> du;
  const hn::RebindToSigned<D> di;
  const auto bits = hn::BitCast(du, v);
  const auto sign = hn::And(hn::ShiftRight<16>(bits), hn::Set(du, 0x8000));
  const auto abs_bits = hn::And(bits, hn::Set(du, 0x7fffffff));
  const auto abs_i = hn::BitCast(di, abs_bits);
  // Normal result: rebias 127 -> 15 and round the 13 dropped bits to nearest even. A carry out
  // of the mantissa correctly bumps the exponent.
  const auto rebased = hn::Sub(abs_bits, hn::Set(du, (127u - 15u) << 23));
  const auto lsb = hn::And(hn::ShiftRight<13>(rebased), hn::Set(du, 1));
  const auto normal = hn::ShiftRight<13>(hn::Add(rebased, hn::Add(hn::Set(du, 0x0fff), lsb)));
  // Subnormal result (|x| < 2^-14): adding 0.5 puts the f16 subnormal grid (2^-24) in the last
  // mantissa bit of the f32 sum, so the FPU does the round-to-nearest-even for us.
  const auto sub = hn::Sub(hn::BitCast(du, hn::Add(hn::BitCast(d, abs_bits), hn::Set(d, 0.5f))),
                           hn::Set(du, 0x3f000000));
  auto out =
      hn::IfThenElse(hn::RebindMask(du, hn::Lt(abs_i, hn::Set(di, 0x38800000))), sub, normal);
  // Overflow (including values that round up past 65504) -> inf; NaN -> quiet NaN.
  out = hn::IfThenElse(hn::RebindMask(du, hn::Gt(abs_i, hn::Set(di, 0x477fefff))),
                       hn::Set(du, 0x7c00), out);
  out = hn::IfThenElse(hn::RebindMask(du, hn::Gt(abs_i, hn::Set(di, 0x7f800000))),
                       hn::Set(du, 0x7e00), out);
  hn::StoreU(hn::DemoteTo(d16, hn::BitCast(di, hn::Or(out, sign))), d16, p);
#endif
}

}  // namespace blip2::cpu::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#endif  // per-target include guard
