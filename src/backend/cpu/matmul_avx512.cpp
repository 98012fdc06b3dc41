// Small-M matrix kernels for AVX-512 F/BW/DQ/VL + VNNI (see matmul_internal.h). Tiles of MR
// activation rows x NR weight rows; the NR weight rows stream through once per tile.
//   bf16: 32 weights per 64-byte load, widened with one shift (even elements) and one mask (odd).
//   int8: 64 weights per load; vpdpbusd(|x|, w * sign(x)) sums 4 products per int32 lane (no
//         saturation: vpdpbusd accumulates in 32 bits); lanes 0-7 and 8-15 are the two blocks of
//         the 64, scaled by their block scales and accumulated in f32.
//   q4:   4 blocks (128 weights) per 64-byte load: low nibbles are elements 0..15 and high
//         nibbles elements 16..31 of each block, matching the kQ4Grouped activation halves; two
//         vpdpbusd(q, x) onto the activation's offset correction give lanes 4b..4b+3 = block b.
#if defined(__x86_64__)

// GCC 12 reports the deliberately undefined vectors inside its own AVX-512 intrinsics
// (_mm512_undefined_*) as maybe-uninitialized once they are inlined here (GCC bug 105593).
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"

#include <immintrin.h>

#include <algorithm>
#include <cstdint>
#include <cstring>

#include "backend/cpu/matmul_internal.h"
#include "core/dtype.h"

#pragma GCC push_options
#pragma GCC target("avx512f,avx512bw,avx512dq,avx512vl,avx512vnni,avx2,fma,f16c,bmi2")

namespace blip2::cpu::detail {
namespace {

// The same bytes of the next tile's weight rows: rows of a few KB are too short for the hardware
// prefetcher to run ahead of 2 x NR interleaved streams. (Prefetches never fault, so reaching
// past the last row is harmless.)
inline void prefetch_next_tile(const void* p) {
  _mm_prefetch(static_cast<const char*>(p), _MM_HINT_T0);
}

inline __mmask64 byte_mask(int64_t n) {  // the first n (0..64) bytes
  return n >= 64 ? ~__mmask64{0} : (__mmask64{1} << n) - 1;
}

// ------------------------------------------------------------------------ quantisation
// Block of 32 floats (masked load of `len` valid ones) -> 32 int8 in element order.
inline __m256i quantize_block(const float* x, int64_t len, float* scale) {
  const __mmask16 m0 =
      len >= 16 ? 0xffff : static_cast<__mmask16>((1u << std::max<int64_t>(len, 0)) - 1);
  const __mmask16 m1 =
      len >= 32 ? 0xffff : static_cast<__mmask16>((1u << std::clamp<int64_t>(len - 16, 0, 16)) - 1);
  const __m512 v0 = _mm512_maskz_loadu_ps(m0, x);
  const __m512 v1 = _mm512_maskz_loadu_ps(m1, x + 16);
  const float a = _mm512_reduce_max_ps(_mm512_max_ps(_mm512_abs_ps(v0), _mm512_abs_ps(v1)));
  *scale = a / 127.0f;
  const __m512 inv = _mm512_set1_ps(a > 0.0f ? 127.0f / a : 0.0f);
  const __m128i q0 = _mm512_cvtsepi32_epi8(_mm512_cvtps_epi32(_mm512_mul_ps(v0, inv)));
  const __m128i q1 = _mm512_cvtsepi32_epi8(_mm512_cvtps_epi32(_mm512_mul_ps(v1, inv)));
  return _mm256_set_m128i(q1, q0);
}

void quantize_acts(const float* x, int64_t ldx, QuantActs& qa, ActLayout layout, bool with_corr) {
  const int64_t K = qa.k, kpad = qa.kpad, blocks = kpad / kActBlock;
  const __m512i ones = _mm512_set1_epi8(1);
  for (int64_t m = 0; m < qa.M; ++m) {
    const float* xr = x + m * ldx;
    int8_t* q = qa.q + m * kpad;
    float* d = qa.d + m * blocks;
    float* ls = qa.lane_scale + m * (kpad / 4);
    int32_t* lc = qa.lane_corr + m * (kpad / 4);
    for (int64_t b = 0; b < blocks; ++b) {
      const int64_t k0 = b * kActBlock;
      const __m256i qb = quantize_block(xr + k0, K - k0, d + b);
      if (layout == ActLayout::kNatural) {
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(q + k0), qb);
      } else {
        int8_t* g = q + (k0 / 128) * 128 + (b % 4) * 16;
        _mm_storeu_si128(reinterpret_cast<__m128i*>(g), _mm256_castsi256_si128(qb));
        _mm_storeu_si128(reinterpret_cast<__m128i*>(g + 64), _mm256_extracti128_si256(qb, 1));
      }
    }
    if (layout == ActLayout::kNatural) {
      for (int64_t c = 0; c < kpad / 64; ++c) {
        const __m512 lo = _mm512_set1_ps(d[2 * c]), hi = _mm512_set1_ps(d[2 * c + 1]);
        _mm512_storeu_ps(ls + c * 16, _mm512_mask_blend_ps(0xff00, lo, hi));
        if (with_corr) {
          const __m512i v = _mm512_loadu_si512(q + c * 64);
          const __m512i s = _mm512_dpbusd_epi32(_mm512_setzero_si512(), ones, v);
          _mm512_storeu_si512(lc + c * 16,
                              _mm512_sub_epi32(_mm512_setzero_si512(), _mm512_slli_epi32(s, 3)));
        }
      }
    } else {
      const __m512i rep = _mm512_setr_epi32(0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3);
      for (int64_t g = 0; g < kpad / 128; ++g) {
        const __m512 dv = _mm512_castps128_ps512(_mm_loadu_ps(d + 4 * g));
        _mm512_storeu_ps(ls + g * 16, _mm512_permutexvar_ps(rep, dv));
        if (with_corr) {
          const __m512i lo = _mm512_loadu_si512(q + g * 128);
          const __m512i hi = _mm512_loadu_si512(q + g * 128 + 64);
          __m512i s = _mm512_dpbusd_epi32(_mm512_setzero_si512(), ones, lo);
          s = _mm512_dpbusd_epi32(s, ones, hi);
          _mm512_storeu_si512(lc + g * 16,
                              _mm512_sub_epi32(_mm512_setzero_si512(), _mm512_slli_epi32(s, 3)));
        }
      }
    }
  }
}

// ------------------------------------------------------------------------------- bf16
template <int MR, int NR>
void bf16_tile(const SmallMArgs& a, int64_t m0, int64_t n0) {
  const int64_t K = a.w->k;
  const uint16_t* W = static_cast<const uint16_t*>(a.w->data) + n0 * K;
  const SplitActs& s = *a.sa;
  const __m512i hi_mask = _mm512_set1_epi32(static_cast<int>(0xffff0000u));
  __m512 acc_e[MR][NR], acc_o[MR][NR];
  for (int i = 0; i < MR; ++i)
    for (int j = 0; j < NR; ++j) acc_e[i][j] = acc_o[i][j] = _mm512_setzero_ps();
  for (int64_t k = 0; k < K; k += 32) {
    const __mmask32 mask =
        K - k >= 32 ? ~__mmask32{0} : static_cast<__mmask32>((1u << (K - k)) - 1);
    __m512 we[NR], wo[NR];
    for (int j = 0; j < NR; ++j) {
      const __m512i v = _mm512_maskz_loadu_epi16(mask, W + j * K + k);
      prefetch_next_tile(W + (j + NR) * K + k);
      we[j] = _mm512_castsi512_ps(_mm512_slli_epi32(v, 16));
      wo[j] = _mm512_castsi512_ps(_mm512_and_si512(v, hi_mask));
    }
    for (int i = 0; i < MR; ++i) {
      const __m512 xe = _mm512_loadu_ps(s.even + (m0 + i) * s.khalf + k / 2);
      const __m512 xo = _mm512_loadu_ps(s.odd + (m0 + i) * s.khalf + k / 2);
      for (int j = 0; j < NR; ++j) {
        acc_e[i][j] = _mm512_fmadd_ps(we[j], xe, acc_e[i][j]);
        acc_o[i][j] = _mm512_fmadd_ps(wo[j], xo, acc_o[i][j]);
      }
    }
  }
  for (int i = 0; i < MR; ++i)
    for (int j = 0; j < NR; ++j)
      a.z[(m0 + i) * a.ldz + n0 + j] =
          _mm512_reduce_add_ps(_mm512_add_ps(acc_e[i][j], acc_o[i][j]));
}

// -------------------------------------------------------------------------------- int8
template <int MR, int NR>
void int8_tile(const SmallMArgs& a, int64_t m0, int64_t n0) {
  const int64_t K = a.w->k;
  const int8_t* W = static_cast<const int8_t*>(a.w->data) + n0 * K;
  const float* scale = static_cast<const float*>(a.w->scale) + n0;
  const QuantActs& qa = *a.qa;
  const __m512i zero = _mm512_setzero_si512();
  __m512 acc[MR][NR];
  for (int i = 0; i < MR; ++i)
    for (int j = 0; j < NR; ++j) acc[i][j] = _mm512_setzero_ps();
  for (int64_t k = 0; k < K; k += 64) {
    const __mmask64 mask = byte_mask(K - k);
    __m512i w[NR];
    for (int j = 0; j < NR; ++j) {
      w[j] = _mm512_maskz_loadu_epi8(mask, W + j * K + k);
      prefetch_next_tile(W + (j + NR) * K + k);
    }
    for (int i = 0; i < MR; ++i) {
      const int64_t row = (m0 + i) * qa.kpad;
      const __m512i x = _mm512_loadu_si512(qa.q + row + k);
      const __m512i ax = _mm512_abs_epi8(x);
      const __mmask64 neg = _mm512_movepi8_mask(x);
      const __m512 ls = _mm512_loadu_ps(qa.lane_scale + row / 4 + k / 4);
      for (int j = 0; j < NR; ++j) {
        const __m512i sw = _mm512_mask_sub_epi8(w[j], neg, zero, w[j]);
        const __m512i p = _mm512_dpbusd_epi32(zero, ax, sw);
        acc[i][j] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(p), ls, acc[i][j]);
      }
    }
  }
  for (int i = 0; i < MR; ++i)
    for (int j = 0; j < NR; ++j)
      a.z[(m0 + i) * a.ldz + n0 + j] = _mm512_reduce_add_ps(acc[i][j]) * scale[j];
}

// ---------------------------------------------------------------------------------- q4
// One group of 4 blocks (128 weights) for all tiles rows; `ws` are the weight scales of the
// group, lane l = block l / 4.
template <int MR, int NR>
inline void q4_group(const QuantActs& qa, int64_t m0, int64_t g, const __m512i (&lo)[NR],
                     const __m512i (&hi)[NR], const __m512 (&ws)[NR], __m512 (&acc)[MR][NR]) {
  for (int i = 0; i < MR; ++i) {
    const int64_t row = (m0 + i) * qa.kpad;
    const __m512i xlo = _mm512_loadu_si512(qa.q + row + g * 128);
    const __m512i xhi = _mm512_loadu_si512(qa.q + row + g * 128 + 64);
    const __m512i corr = _mm512_loadu_si512(qa.lane_corr + row / 4 + g * 16);
    const __m512 ls = _mm512_loadu_ps(qa.lane_scale + row / 4 + g * 16);
    for (int j = 0; j < NR; ++j) {
      __m512i p = _mm512_dpbusd_epi32(corr, lo[j], xlo);
      p = _mm512_dpbusd_epi32(p, hi[j], xhi);
      acc[i][j] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(p), _mm512_mul_ps(ws[j], ls), acc[i][j]);
    }
  }
}

template <int MR, int NR>
void q4_tile(const SmallMArgs& a, int64_t m0, int64_t n0) {
  const int64_t K = a.w->k, blocks = K / 32, row_bytes = K / 2, groups = (blocks + 3) / 4;
  const uint8_t* W = static_cast<const uint8_t*>(a.w->data) + n0 * row_bytes;
  const uint16_t* S = static_cast<const uint16_t*>(a.w->scale) + n0 * blocks;
  const QuantActs& qa = *a.qa;
  const __m512i low4 = _mm512_set1_epi8(0x0f);
  // Lane l of group q (0..3) of a 16-scale vector: scale 4q + l / 4.
  const __m512i rep[4] = {
      _mm512_setr_epi32(0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3),
      _mm512_setr_epi32(4, 4, 4, 4, 5, 5, 5, 5, 6, 6, 6, 6, 7, 7, 7, 7),
      _mm512_setr_epi32(8, 8, 8, 8, 9, 9, 9, 9, 10, 10, 10, 10, 11, 11, 11, 11),
      _mm512_setr_epi32(12, 12, 12, 12, 13, 13, 13, 13, 14, 14, 14, 14, 15, 15, 15, 15)};
  __m512 acc[MR][NR];
  for (int i = 0; i < MR; ++i)
    for (int j = 0; j < NR; ++j) acc[i][j] = _mm512_setzero_ps();
  for (int64_t g0 = 0; g0 < groups; g0 += 4) {
    // 16 block scales (4 groups) per row, widened once.
    const int64_t nb16 = std::min<int64_t>(16, blocks - 4 * g0);
    const __mmask16 smask = static_cast<__mmask16>((1u << nb16) - 1);
    __m512 s16[NR];
    for (int j = 0; j < NR; ++j)
      s16[j] = _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(smask, S + j * blocks + 4 * g0));
    const int64_t gend = std::min<int64_t>(groups, g0 + 4);
    for (int64_t g = g0; g < gend; ++g) {
      const int64_t nb = std::min<int64_t>(4, blocks - 4 * g);
      const __mmask64 wmask = byte_mask(16 * nb);
      __m512i lo[NR], hi[NR];
      __m512 ws[NR];
      for (int j = 0; j < NR; ++j) {
        const __m512i v = nb == 4 ? _mm512_loadu_si512(W + j * row_bytes + g * 64)
                                  : _mm512_maskz_loadu_epi8(wmask, W + j * row_bytes + g * 64);
        prefetch_next_tile(W + (j + NR) * row_bytes + g * 64);
        lo[j] = _mm512_and_si512(v, low4);
        hi[j] = _mm512_and_si512(_mm512_srli_epi16(v, 4), low4);
        ws[j] = _mm512_permutexvar_ps(rep[g - g0], s16[j]);
      }
      q4_group<MR, NR>(qa, m0, g, lo, hi, ws, acc);
    }
  }
  for (int i = 0; i < MR; ++i)
    for (int j = 0; j < NR; ++j) a.z[(m0 + i) * a.ldz + n0 + j] = _mm512_reduce_add_ps(acc[i][j]);
}

// ------------------------------------------------------------------------------ drivers
using TileFn = void (*)(const SmallMArgs&, int64_t, int64_t);

// Tiles of up to 4 activation rows: 4 weight rows per tile for 1-2 rows, else 2.
template <template <int, int> class T>
struct Tiles {
  static void run(const SmallMArgs& a, int64_t n0, int64_t n1) {
    static constexpr TileFn k1[5] = {nullptr, T<1, 1>::f, T<1, 2>::f, T<1, 3>::f, T<1, 4>::f};
    static constexpr TileFn k2[5] = {nullptr, T<2, 1>::f, T<2, 2>::f, T<2, 3>::f, T<2, 4>::f};
    static constexpr TileFn k3[3] = {nullptr, T<3, 1>::f, T<3, 2>::f};
    static constexpr TileFn k4[3] = {nullptr, T<4, 1>::f, T<4, 2>::f};
    static constexpr const TileFn* kTables[5] = {nullptr, k1, k2, k3, k4};
    for (int64_t m = 0; m < a.M;) {
      const int64_t mr = std::min<int64_t>(4, a.M - m);
      const int64_t nr_max = mr <= 2 ? 4 : 2;
      for (int64_t n = n0; n < n1;) {
        const int64_t nr = std::min<int64_t>(nr_max, n1 - n);
        kTables[mr][nr](a, m, n);
        n += nr;
      }
      m += mr;
    }
  }
};

template <int MR, int NR>
struct Bf16T {
  static void f(const SmallMArgs& a, int64_t m0, int64_t n0) { bf16_tile<MR, NR>(a, m0, n0); }
};
template <int MR, int NR>
struct Int8T {
  static void f(const SmallMArgs& a, int64_t m0, int64_t n0) { int8_tile<MR, NR>(a, m0, n0); }
};
template <int MR, int NR>
struct Q4T {
  static void f(const SmallMArgs& a, int64_t m0, int64_t n0) { q4_tile<MR, NR>(a, m0, n0); }
};

void bf16_small(const SmallMArgs& a, int64_t n0, int64_t n1) {
  Tiles<Bf16T>::run(a, n0, n1);
}
void int8_small(const SmallMArgs& a, int64_t n0, int64_t n1) {
  Tiles<Int8T>::run(a, n0, n1);
}
void q4_small(const SmallMArgs& a, int64_t n0, int64_t n1) {
  Tiles<Q4T>::run(a, n0, n1);
}

}  // namespace
}  // namespace blip2::cpu::detail

#pragma GCC pop_options

namespace blip2::cpu::detail {

LevelKernels avx512_kernels() {
  LevelKernels k;
  k.bf16 = bf16_small;
  k.int8 = int8_small;
  k.q4 = q4_small;
  k.q4_layout = ActLayout::kQ4Grouped;
  k.q4_corr = true;
  k.quantize_acts = quantize_acts;
  return k;
}

}  // namespace blip2::cpu::detail

#endif  // __x86_64__
