// AMX (Advanced Matrix Extensions) bf16 products for many rows: the vision encoder and prefill
// with reduced-precision weights (see matmul_internal.h for the data layouts).
//
// The product is computed transposed, C^T[n, m] = sum_k W[n, k] x[m, k], so that the weight rows
// are the tile "A" operand read in place (a 16 x 32 bf16 tile is 16 rows of 64 bytes at any row
// stride) and the activations, converted to bf16 once per product anyway, are the "B" operand,
// which TDPBF16PS wants as pairs of k interleaved per column (the "VNNI" layout). Each task owns
// 32 weight rows and sweeps all row blocks of x with a 2 x 2 block of 16 x 16 f32 accumulator
// tiles: per 32 k, 2 weight tiles + 2 activation tiles feed 4 TDPBF16PS (16 x 16 x 32 MACs each).
// The f32 results are transposed back through registers (a 16 x 16 dword transpose).
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
#pragma GCC target("avx512f,avx512bw,avx512dq,avx512vl,avx512bf16,avx2,fma,f16c,amx-tile,amx-bf16")

namespace blip2::cpu::detail {
namespace {

// 16 x 16 transpose of 32-bit elements held in 16 registers (row i -> column i), in place.
inline void transpose16(__m512i r[16]) {
  __m512i t[16], u[16];
  for (int i = 0; i < 4; ++i) {
    t[4 * i + 0] = _mm512_unpacklo_epi32(r[4 * i], r[4 * i + 1]);
    t[4 * i + 1] = _mm512_unpackhi_epi32(r[4 * i], r[4 * i + 1]);
    t[4 * i + 2] = _mm512_unpacklo_epi32(r[4 * i + 2], r[4 * i + 3]);
    t[4 * i + 3] = _mm512_unpackhi_epi32(r[4 * i + 2], r[4 * i + 3]);
  }
  for (int i = 0; i < 4; ++i) {
    u[4 * i + 0] = _mm512_unpacklo_epi64(t[4 * i + 0], t[4 * i + 2]);
    u[4 * i + 1] = _mm512_unpackhi_epi64(t[4 * i + 0], t[4 * i + 2]);
    u[4 * i + 2] = _mm512_unpacklo_epi64(t[4 * i + 1], t[4 * i + 3]);
    u[4 * i + 3] = _mm512_unpackhi_epi64(t[4 * i + 1], t[4 * i + 3]);
  }
  // u[4i + c], 128-bit lane L = rows 4i..4i+3 of column 4L + c; a 4 x 4 transpose of the lanes
  // of u[c], u[4 + c], u[8 + c], u[12 + c] finishes column 4L + c.
  for (int c = 0; c < 4; ++c) {
    const __m512i a0 = _mm512_shuffle_i32x4(u[c], u[4 + c], 0x44);
    const __m512i a1 = _mm512_shuffle_i32x4(u[c], u[4 + c], 0xee);
    const __m512i a2 = _mm512_shuffle_i32x4(u[8 + c], u[12 + c], 0x44);
    const __m512i a3 = _mm512_shuffle_i32x4(u[8 + c], u[12 + c], 0xee);
    r[c] = _mm512_shuffle_i32x4(a0, a2, 0x88);
    r[4 + c] = _mm512_shuffle_i32x4(a0, a2, 0xdd);
    r[8 + c] = _mm512_shuffle_i32x4(a1, a3, 0x88);
    r[12 + c] = _mm512_shuffle_i32x4(a1, a3, 0xdd);
  }
}

// 32 floats -> 32 bf16 (round to nearest even) as 16 dwords of consecutive pairs.
inline __m512i to_bf16_pairs(__m512 lo, __m512 hi) {
  return (__m512i)_mm512_cvtne2ps_pbh(hi, lo);
}

struct alignas(64) TileConfig {
  uint8_t palette = 1;
  uint8_t start_row = 0;
  uint8_t reserved[14] = {};
  uint16_t colsb[16] = {};
  uint8_t rows[16] = {};
};

// Tiles 0-3: C (16 x 16 f32); 4-5: weight rows (16 x 32 bf16); 6-7: activations (16 pairs x 16).
void configure_tiles() {
  TileConfig cfg;
  for (int t = 0; t < 8; ++t) {
    cfg.colsb[t] = 64;
    cfg.rows[t] = 16;
  }
  _tile_loadconfig(&cfg);
}

template <bool kTwoN, bool kTwoM>
void block_product(const uint16_t* acts, int64_t kblocks, const uint16_t* wp, int64_t ldw,
                   float* tiles /* [4][16][16] */) {
  _tile_zero(0);
  if (kTwoN) _tile_zero(1);
  if (kTwoM) _tile_zero(2);
  if (kTwoN && kTwoM) _tile_zero(3);
  const int64_t wstride = ldw * 2;
  for (int64_t kb = 0; kb < kblocks; ++kb) {
    _tile_loadd(4, wp + kb * 32, wstride);
    if (kTwoN) _tile_loadd(5, wp + 16 * ldw + kb * 32, wstride);
    _tile_loadd(6, acts + kb * 512, 64);
    if (kTwoM) _tile_loadd(7, acts + (kblocks + kb) * 512, 64);
    _tile_dpbf16ps(0, 4, 6);
    if (kTwoN) _tile_dpbf16ps(1, 5, 6);
    if (kTwoM) _tile_dpbf16ps(2, 4, 7);
    if (kTwoN && kTwoM) _tile_dpbf16ps(3, 5, 7);
  }
  _tile_stored(0, tiles, 64);
  if (kTwoN) _tile_stored(1, tiles + 256, 64);
  if (kTwoM) _tile_stored(2, tiles + 512, 64);
  if (kTwoN && kTwoM) _tile_stored(3, tiles + 768, 64);
}

// Tile (n rows, m columns) -> out rows m, columns [n_off, n_off + 16).
inline void store_transposed(const float* tile, float* out, int64_t ldo) {
  __m512i r[16];
  for (int i = 0; i < 16; ++i) r[i] = _mm512_load_si512(tile + 16 * i);
  transpose16(r);
  for (int i = 0; i < 16; ++i) _mm512_storeu_si512(out + i * ldo, r[i]);
}

}  // namespace

void amx_pack_acts(const float* x, int64_t ldx, const AmxActs& a, int64_t mb0, int64_t mb1) {
  for (int64_t mb = mb0; mb < mb1; ++mb) {
    for (int64_t kb = 0; kb < a.kblocks; ++kb) {
      const int64_t k0 = kb * 32, left = a.K - k0;
      const __mmask16 m0 =
          left >= 16 ? 0xffff : static_cast<__mmask16>((1u << std::max<int64_t>(left, 0)) - 1);
      const __mmask16 m1 =
          left >= 32 ? 0xffff
                     : static_cast<__mmask16>((1u << std::clamp<int64_t>(left - 16, 0, 16)) - 1);
      __m512i r[16];
      for (int i = 0; i < 16; ++i) {
        const int64_t m = mb * 16 + i;
        if (m < a.M) {
          const float* src = x + m * ldx + k0;
          r[i] = to_bf16_pairs(_mm512_maskz_loadu_ps(m0, src), _mm512_maskz_loadu_ps(m1, src + 16));
        } else {
          r[i] = _mm512_setzero_si512();
        }
      }
      transpose16(r);  // line p = pair p of every row
      uint16_t* tile = a.data + (mb * a.kblocks + kb) * 512;
      for (int p = 0; p < 16; ++p) _mm512_store_si512(tile + 32 * p, r[p]);
    }
  }
}

void amx_weight_panel(const WeightView& w, int64_t n0, int64_t kblocks, uint16_t* panel) {
  const int64_t K = w.k, ldp = kblocks * 32;
  for (int64_t r = 0; r < 32; ++r) {
    uint16_t* dst = panel + r * ldp;
    const int64_t n = n0 + r;
    if (n >= w.n) {
      std::memset(dst, 0, static_cast<size_t>(ldp) * sizeof(uint16_t));
      continue;
    }
    for (int64_t k = 0; k < ldp; k += 32) {
      const int64_t left = K - k;
      const __mmask32 m32 =
          left >= 32 ? ~__mmask32{0} : static_cast<__mmask32>(left > 0 ? (1ull << left) - 1 : 0);
      const __mmask16 m0 = static_cast<__mmask16>(m32 & 0xffff),
                      m1 = static_cast<__mmask16>(m32 >> 16);
      __m512i v;
      switch (w.format) {
        case WeightFormat::kBF16:
          v = _mm512_maskz_loadu_epi16(m32, static_cast<const uint16_t*>(w.data) + n * K + k);
          break;
        case WeightFormat::kF32: {
          const float* src = static_cast<const float*>(w.data) + n * K + k;
          v = to_bf16_pairs(_mm512_maskz_loadu_ps(m0, src), _mm512_maskz_loadu_ps(m1, src + 16));
          break;
        }
        case WeightFormat::kInt8: {  // integers in [-127, 127] are exact in bf16
          const __m256i q =
              _mm256_maskz_loadu_epi8(m32, static_cast<const int8_t*>(w.data) + n * K + k);
          const __m512 lo = _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm256_castsi256_si128(q)));
          const __m512 hi =
              _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm256_extracti128_si256(q, 1)));
          v = to_bf16_pairs(lo, hi);
          break;
        }
        case WeightFormat::kQ4: {  // k is a block boundary (K % 32 == 0 for q4)
          if (left <= 0) {
            v = _mm512_setzero_si512();
            break;
          }
          const uint8_t* src = static_cast<const uint8_t*>(w.data) + n * (K / 2) + k / 2;
          const __m128i b = _mm_loadu_si128(reinterpret_cast<const __m128i*>(src));
          const __m128i low = _mm_and_si128(b, _mm_set1_epi8(0x0f));
          const __m128i high = _mm_and_si128(_mm_srli_epi16(b, 4), _mm_set1_epi8(0x0f));
          const __m512 eight = _mm512_set1_ps(8.0f);
          const float d = _cvtsh_ss(static_cast<const uint16_t*>(w.scale)[n * (K / 32) + k / 32]);
          const __m512 vd = _mm512_set1_ps(d);
          const __m512 lo = _mm512_mul_ps(
              _mm512_sub_ps(_mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(low)), eight), vd);
          const __m512 hi = _mm512_mul_ps(
              _mm512_sub_ps(_mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(high)), eight), vd);
          v = to_bf16_pairs(lo, hi);
          break;
        }
        default:
          v = _mm512_setzero_si512();
      }
      _mm512_storeu_si512(dst + k, v);
    }
  }
}

void amx_panel_product(const AmxActs& a, const uint16_t* wp, int64_t ldw, int64_t ncols, float* out,
                       int64_t ldo) {
  configure_tiles();
  alignas(64) float tiles[4 * 256];
  const bool two_n = ncols > 16;
  for (int64_t mb = 0; mb < a.mblocks; mb += 2) {
    const bool two_m = mb + 1 < a.mblocks;
    const uint16_t* acts = a.data + mb * a.kblocks * 512;
    if (two_n && two_m) {
      block_product<true, true>(acts, a.kblocks, wp, ldw, tiles);
    } else if (two_n) {
      block_product<true, false>(acts, a.kblocks, wp, ldw, tiles);
    } else if (two_m) {
      block_product<false, true>(acts, a.kblocks, wp, ldw, tiles);
    } else {
      block_product<false, false>(acts, a.kblocks, wp, ldw, tiles);
    }
    float* o = out + mb * 16 * ldo;
    store_transposed(tiles, o, ldo);
    if (two_n) store_transposed(tiles + 256, o + 16, ldo);
    if (two_m) store_transposed(tiles + 512, o + 16 * ldo, ldo);
    if (two_n && two_m) store_transposed(tiles + 768, o + 16 * ldo + 16, ldo);
  }
  _tile_release();
}

}  // namespace blip2::cpu::detail

#pragma GCC pop_options

#endif  // __x86_64__
