// Small-M matrix kernels for AVX2 + FMA + F16C (see matmul_internal.h). Each computes a tile of
// MR activation rows x NR weight rows, streaming the NR weight rows once per tile; the tile
// shapes keep every accumulator in one of the 16 ymm registers.
//   bf16: a 32-byte load of 16 bf16 weights becomes the f32 values of the even elements (shift
//         left by 16) and of the odd ones (mask the high half); they meet the even / odd halves
//         of the activations (SplitActs).
//   int8: per 32-weight block, vpmaddubsw(|x|, sign(w, x)) (|x| <= 127 and |w| <= 127, so the
//         int16 pair sums cannot saturate), vpmaddwd by ones, then block scale and FMA.
//   q4:   per block, 16 bytes of nibbles -> 32 unsigned bytes in element order; vpmaddubsw(q, x)
//         (q <= 15: no saturation) plus the activation's offset correction, scales, FMA.
#if defined(__x86_64__)

#include <immintrin.h>

#include <algorithm>
#include <cstdint>
#include <cstring>

#include "backend/cpu/matmul_internal.h"
#include "core/dtype.h"

#pragma GCC push_options
#pragma GCC target("avx2,fma,f16c")

namespace blip2::cpu::detail {
namespace {

// The same bytes of the next tile's weight rows: rows of a few KB are too short for the hardware
// prefetcher to run ahead of 2 x NR interleaved streams. (Prefetches never fault, so reaching
// past the last row is harmless.)
inline void prefetch_next_tile(const void* p) {
  _mm_prefetch(static_cast<const char*>(p), _MM_HINT_T0);
}

inline float hsum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

inline float half_to_float(uint16_t h) {
  return _cvtsh_ss(h);
}

// ------------------------------------------------------------------------ quantisation
// 32 floats (already zero padded) -> int8 in element order, and the block's scale.
inline __m256i quantize_block(const float* x, float* scale) {
  const __m256 sign = _mm256_set1_ps(-0.0f);
  __m256 v[4];
  __m256 amax = _mm256_setzero_ps();
  for (int i = 0; i < 4; ++i) {
    v[i] = _mm256_loadu_ps(x + 8 * i);
    amax = _mm256_max_ps(amax, _mm256_andnot_ps(sign, v[i]));
  }
  __m128 m = _mm_max_ps(_mm256_castps256_ps128(amax), _mm256_extractf128_ps(amax, 1));
  m = _mm_max_ps(m, _mm_movehl_ps(m, m));
  m = _mm_max_ss(m, _mm_movehdup_ps(m));
  const float a = _mm_cvtss_f32(m);
  *scale = a / 127.0f;
  const __m256 inv = _mm256_set1_ps(a > 0.0f ? 127.0f / a : 0.0f);
  __m256i q[4];
  for (int i = 0; i < 4; ++i) q[i] = _mm256_cvtps_epi32(_mm256_mul_ps(v[i], inv));
  // packs interleave 128-bit lanes; the permute puts the 32 bytes back in element order.
  const __m256i p16a = _mm256_packs_epi32(q[0], q[1]);
  const __m256i p16b = _mm256_packs_epi32(q[2], q[3]);
  const __m256i p8 = _mm256_packs_epi16(p16a, p16b);
  return _mm256_permutevar8x32_epi32(p8, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
}

void quantize_acts(const float* x, int64_t ldx, QuantActs& qa, ActLayout layout, bool with_corr) {
  if (layout != ActLayout::kNatural) return quantize_acts_scalar(x, ldx, qa, layout, with_corr);
  const int64_t K = qa.k, kpad = qa.kpad, blocks = kpad / kActBlock;
  const __m256i ones8 = _mm256_set1_epi8(1);
  const __m256i ones16 = _mm256_set1_epi16(1);
  alignas(32) float tmp[kActBlock];
  for (int64_t m = 0; m < qa.M; ++m) {
    const float* xr = x + m * ldx;
    int8_t* q = qa.q + m * kpad;
    float* d = qa.d + m * blocks;
    float* ls = qa.lane_scale + m * (kpad / 4);
    int32_t* lc = qa.lane_corr + m * (kpad / 4);
    for (int64_t b = 0; b < blocks; ++b) {
      const int64_t k0 = b * kActBlock;
      const float* src = xr + k0;
      if (k0 + kActBlock > K) {
        const int64_t len = std::max<int64_t>(0, K - k0);
        std::memset(tmp, 0, sizeof(tmp));
        if (len > 0) std::memcpy(tmp, src, static_cast<size_t>(len) * sizeof(float));
        src = tmp;
      }
      const __m256i qv = quantize_block(src, d + b);
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(q + k0), qv);
      _mm256_storeu_ps(ls + b * 8, _mm256_set1_ps(d[b]));
      if (with_corr) {
        // Lane l of the kernel's vpmaddwd result covers bytes 4l..4l+3 of the block.
        const __m256i s16 = _mm256_maddubs_epi16(ones8, qv);
        const __m256i s32 = _mm256_madd_epi16(s16, ones16);
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(lc + b * 8),
                            _mm256_sub_epi32(_mm256_setzero_si256(), _mm256_slli_epi32(s32, 3)));
      }
    }
  }
}

// ------------------------------------------------------------------------------- bf16
template <int MR, int NR>
void bf16_tile(const SmallMArgs& a, int64_t m0, int64_t n0) {
  const int64_t K = a.w->k, kv = K / 16 * 16;
  const uint16_t* W = static_cast<const uint16_t*>(a.w->data) + n0 * K;
  const SplitActs& s = *a.sa;
  const __m256i hi_mask = _mm256_set1_epi32(static_cast<int>(0xffff0000u));
  __m256 acc_e[MR][NR], acc_o[MR][NR];
  for (int i = 0; i < MR; ++i)
    for (int j = 0; j < NR; ++j) acc_e[i][j] = acc_o[i][j] = _mm256_setzero_ps();
  for (int64_t k = 0; k < kv; k += 16) {
    __m256 we[NR], wo[NR];
    for (int j = 0; j < NR; ++j) {
      const __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(W + j * K + k));
      prefetch_next_tile(W + (j + NR) * K + k);
      we[j] = _mm256_castsi256_ps(_mm256_slli_epi32(v, 16));
      wo[j] = _mm256_castsi256_ps(_mm256_and_si256(v, hi_mask));
    }
    for (int i = 0; i < MR; ++i) {
      const __m256 xe = _mm256_loadu_ps(s.even + (m0 + i) * s.khalf + k / 2);
      const __m256 xo = _mm256_loadu_ps(s.odd + (m0 + i) * s.khalf + k / 2);
      for (int j = 0; j < NR; ++j) {
        acc_e[i][j] = _mm256_fmadd_ps(we[j], xe, acc_e[i][j]);
        acc_o[i][j] = _mm256_fmadd_ps(wo[j], xo, acc_o[i][j]);
      }
    }
  }
  for (int i = 0; i < MR; ++i)
    for (int j = 0; j < NR; ++j) {
      float v = hsum(_mm256_add_ps(acc_e[i][j], acc_o[i][j]));
      const float* xr = a.x + (m0 + i) * a.ldx;
      for (int64_t k = kv; k < K; ++k) v += xr[k] * bf16_to_f32(W[j * K + k]);
      a.z[(m0 + i) * a.ldz + n0 + j] = v;
    }
}

// -------------------------------------------------------------------------------- int8
template <int MR, int NR>
void int8_tile(const SmallMArgs& a, int64_t m0, int64_t n0) {
  const int64_t K = a.w->k, kv = K / 32 * 32;
  const int8_t* W = static_cast<const int8_t*>(a.w->data) + n0 * K;
  const float* scale = static_cast<const float*>(a.w->scale) + n0;
  const QuantActs& qa = *a.qa;
  const __m256i ones16 = _mm256_set1_epi16(1);
  __m256 acc[MR][NR];
  for (int i = 0; i < MR; ++i)
    for (int j = 0; j < NR; ++j) acc[i][j] = _mm256_setzero_ps();
  alignas(32) int8_t tail[NR][32];
  const int64_t kend = (K + 31) / 32 * 32;
  if (kv < K) {
    for (int j = 0; j < NR; ++j) {
      std::memset(tail[j], 0, 32);
      std::memcpy(tail[j], W + j * K + kv, static_cast<size_t>(K - kv));
    }
  }
  for (int64_t k = 0; k < kend; k += 32) {
    __m256i w[NR];
    for (int j = 0; j < NR; ++j) {
      w[j] = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(k < kv ? W + j * K + k : tail[j]));
      prefetch_next_tile(W + (j + NR) * K + k);
    }
    for (int i = 0; i < MR; ++i) {
      const __m256i x =
          _mm256_loadu_si256(reinterpret_cast<const __m256i*>(qa.q + (m0 + i) * qa.kpad + k));
      const __m256i ax = _mm256_sign_epi8(x, x);
      const __m256 ls = _mm256_loadu_ps(qa.lane_scale + (m0 + i) * (qa.kpad / 4) + k / 4);
      for (int j = 0; j < NR; ++j) {
        const __m256i p16 = _mm256_maddubs_epi16(ax, _mm256_sign_epi8(w[j], x));
        const __m256i p32 = _mm256_madd_epi16(p16, ones16);
        acc[i][j] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(p32), ls, acc[i][j]);
      }
    }
  }
  for (int i = 0; i < MR; ++i)
    for (int j = 0; j < NR; ++j) a.z[(m0 + i) * a.ldz + n0 + j] = hsum(acc[i][j]) * scale[j];
}

// ---------------------------------------------------------------------------------- q4
template <int MR, int NR>
void q4_tile(const SmallMArgs& a, int64_t m0, int64_t n0) {
  const int64_t K = a.w->k, blocks = K / 32;
  const uint8_t* W = static_cast<const uint8_t*>(a.w->data) + n0 * (K / 2);
  const uint16_t* S = static_cast<const uint16_t*>(a.w->scale) + n0 * blocks;
  const QuantActs& qa = *a.qa;
  const __m256i low4 = _mm256_set1_epi8(0x0f);
  const __m256i ones16 = _mm256_set1_epi16(1);
  __m256 acc[MR][NR];
  for (int i = 0; i < MR; ++i)
    for (int j = 0; j < NR; ++j) acc[i][j] = _mm256_setzero_ps();
  for (int64_t b = 0; b < blocks; ++b) {
    __m256i w[NR];
    __m256 ws[NR];
    for (int j = 0; j < NR; ++j) {
      const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(W + j * (K / 2) + b * 16));
      if (b % 4 == 0) prefetch_next_tile(W + (j + NR) * (K / 2) + b * 16);
      w[j] = _mm256_and_si256(_mm256_set_m128i(_mm_srli_epi16(v, 4), v), low4);
      ws[j] = _mm256_set1_ps(half_to_float(S[j * blocks + b]));
    }
    for (int i = 0; i < MR; ++i) {
      const int64_t row = (m0 + i) * qa.kpad;
      const __m256i x = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(qa.q + row + b * 32));
      const __m256i corr =
          _mm256_loadu_si256(reinterpret_cast<const __m256i*>(qa.lane_corr + row / 4 + b * 8));
      const __m256 ls = _mm256_loadu_ps(qa.lane_scale + row / 4 + b * 8);
      for (int j = 0; j < NR; ++j) {
        const __m256i p32 =
            _mm256_add_epi32(_mm256_madd_epi16(_mm256_maddubs_epi16(w[j], x), ones16), corr);
        acc[i][j] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(p32), _mm256_mul_ps(ws[j], ls), acc[i][j]);
      }
    }
  }
  for (int i = 0; i < MR; ++i)
    for (int j = 0; j < NR; ++j) a.z[(m0 + i) * a.ldz + n0 + j] = hsum(acc[i][j]);
}

// ------------------------------------------------------------------------------ drivers
using TileFn = void (*)(const SmallMArgs&, int64_t, int64_t);

// Tiles of up to 2 activation rows; 4 weight rows per tile for a single row, else 2.
template <template <int, int> class T>
struct Tiles {
  static void run(const SmallMArgs& a, int64_t n0, int64_t n1) {
    static constexpr TileFn k1[5] = {nullptr, T<1, 1>::f, T<1, 2>::f, T<1, 3>::f, T<1, 4>::f};
    static constexpr TileFn k2[3] = {nullptr, T<2, 1>::f, T<2, 2>::f};
    for (int64_t m = 0; m < a.M;) {
      const int64_t mr = std::min<int64_t>(2, a.M - m);
      const int64_t nr_max = mr == 1 ? 4 : 2;
      for (int64_t n = n0; n < n1;) {
        const int64_t nr = std::min<int64_t>(nr_max, n1 - n);
        (mr == 1 ? k1[nr] : k2[nr])(a, m, n);
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

LevelKernels avx2_kernels() {
  LevelKernels k;
  k.bf16 = bf16_small;
  k.int8 = int8_small;
  k.q4 = q4_small;
  k.q4_layout = ActLayout::kNatural;
  k.q4_corr = true;
  k.quantize_acts = quantize_acts;
  return k;
}

}  // namespace blip2::cpu::detail

#endif  // __x86_64__
