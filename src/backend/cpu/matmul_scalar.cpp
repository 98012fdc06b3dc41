// Portable small-M matrix kernels and the activation quantiser every level agrees with. These are
// the fallback for CPUs without AVX2 and the statement of the integer arithmetic the SIMD kernels
// reproduce (same quantised activations, same integer block sums; only the order of the f32
// additions differs).
#include <algorithm>
#include <cmath>
#include <cstring>

#include "backend/cpu/matmul_internal.h"
#include "core/dtype.h"

namespace blip2::cpu::detail {

namespace {

// Byte offset within a 128-element group of the kQ4Grouped layout for element i of the group.
inline int64_t grouped_offset(int64_t i) {
  const int64_t block = i / 32, j = i % 32;
  return j < 16 ? block * 16 + j : 64 + block * 16 + (j - 16);
}

}  // namespace

void quantize_acts_scalar(const float* x, int64_t ldx, QuantActs& qa, ActLayout layout,
                          bool with_corr) {
  const int64_t K = qa.k, kpad = qa.kpad, blocks = kpad / kActBlock;
  int8_t tmp[kActBlock];
  for (int64_t m = 0; m < qa.M; ++m) {
    const float* xr = x + m * ldx;
    int8_t* q = qa.q + m * kpad;
    float* d = qa.d + m * blocks;
    float* ls = qa.lane_scale + m * (kpad / 4);
    int32_t* lc = with_corr ? qa.lane_corr + m * (kpad / 4) : nullptr;
    for (int64_t b = 0; b < blocks; ++b) {
      const int64_t k0 = b * kActBlock;
      const int64_t len = k0 >= K ? 0 : (K - k0 < kActBlock ? K - k0 : kActBlock);
      float amax = 0.0f;
      for (int64_t i = 0; i < len; ++i) amax = std::fmax(amax, std::fabs(xr[k0 + i]));
      // Every level computes exactly these two f32 divisions and the rounding product below,
      // so the quantised values agree bit for bit.
      const float scale = amax / 127.0f;
      const float inv = amax > 0.0f ? 127.0f / amax : 0.0f;
      for (int64_t i = 0; i < kActBlock; ++i) {
        float v = i < len ? round_even(xr[k0 + i] * inv) : 0.0f;
        v = v > 127.0f ? 127.0f : (v < -127.0f ? -127.0f : v);
        tmp[i] = static_cast<int8_t>(v);
      }
      d[b] = scale;
      for (int64_t i = 0; i < kActBlock; ++i) {
        const int64_t e = k0 + i;  // element index in the row
        const int64_t off =
            layout == ActLayout::kNatural ? e : (e / 128) * 128 + grouped_offset(e % 128);
        q[off] = tmp[i];
      }
    }
    // Per int32 lane: the block it covers, and (q4) the offset correction of its bytes.
    for (int64_t l = 0; l < kpad / 4; ++l) {
      if (layout == ActLayout::kNatural) {
        ls[l] = d[(4 * l) / kActBlock];
        if (lc) lc[l] = -8 * (q[4 * l] + q[4 * l + 1] + q[4 * l + 2] + q[4 * l + 3]);
      } else {
        // Group g has 32 lanes' worth of bytes (128) but the kernel sums its two 64-byte halves
        // into the same 16 lanes: lane index l = g * 16 + j covers bytes 4j..4j+3 of both halves.
        if (l >= kpad / 8) continue;
        const int64_t g = l / 16, j = l % 16;
        ls[l] = d[g * 4 + j / 4];
        if (lc) {
          const int8_t* lo = q + g * 128 + 4 * j;
          const int8_t* hi = lo + 64;
          lc[l] = -8 * (lo[0] + lo[1] + lo[2] + lo[3] + hi[0] + hi[1] + hi[2] + hi[3]);
        }
      }
    }
  }
}

namespace {

void f32_small(const SmallMArgs& a, int64_t n0, int64_t n1) {
  const WeightView& w = *a.w;
  const float* W = static_cast<const float*>(w.data);
  for (int64_t m = 0; m < a.M; ++m)
    for (int64_t n = n0; n < n1; ++n) {
      const float* wr = W + n * w.k;
      const float* xr = a.x + m * a.ldx;
      float s = 0.0f;
      for (int64_t k = 0; k < w.k; ++k) s += xr[k] * wr[k];
      a.z[m * a.ldz + n] = s;
    }
}

void bf16_small(const SmallMArgs& a, int64_t n0, int64_t n1) {
  const WeightView& w = *a.w;
  const uint16_t* W = static_cast<const uint16_t*>(w.data);
  for (int64_t m = 0; m < a.M; ++m)
    for (int64_t n = n0; n < n1; ++n) {
      const uint16_t* wr = W + n * w.k;
      const float* xr = a.x + m * a.ldx;
      float s = 0.0f;
      for (int64_t k = 0; k < w.k; ++k) s += xr[k] * bf16_to_f32(wr[k]);
      a.z[m * a.ldz + n] = s;
    }
}

void int8_small(const SmallMArgs& a, int64_t n0, int64_t n1) {
  const WeightView& w = *a.w;
  const QuantActs& qa = *a.qa;
  const int8_t* W = static_cast<const int8_t*>(w.data);
  const float* scale = static_cast<const float*>(w.scale);
  const int64_t blocks = (w.k + kActBlock - 1) / kActBlock, bpad = qa.kpad / kActBlock;
  for (int64_t m = 0; m < a.M; ++m)
    for (int64_t n = n0; n < n1; ++n) {
      const int8_t* wr = W + n * w.k;
      const int8_t* q = qa.q + m * qa.kpad;
      const float* d = qa.d + m * bpad;
      float s = 0.0f;
      for (int64_t b = 0; b < blocks; ++b) {
        int32_t isum = 0;
        const int64_t end = std::min<int64_t>(w.k, (b + 1) * kActBlock);
        for (int64_t k = b * kActBlock; k < end; ++k) isum += int32_t{q[k]} * int32_t{wr[k]};
        s += d[b] * static_cast<float>(isum);
      }
      a.z[m * a.ldz + n] = s * scale[n];
    }
}

void q4_small(const SmallMArgs& a, int64_t n0, int64_t n1) {
  const WeightView& w = *a.w;
  const QuantActs& qa = *a.qa;
  const uint8_t* W = static_cast<const uint8_t*>(w.data);
  const uint16_t* S = static_cast<const uint16_t*>(w.scale);
  const int64_t blocks = w.k / kQ4Block, bpad = qa.kpad / kActBlock;
  for (int64_t m = 0; m < a.M; ++m)
    for (int64_t n = n0; n < n1; ++n) {
      const uint8_t* wr = W + n * (w.k / 2);
      const int8_t* q = qa.q + m * qa.kpad;
      const float* d = qa.d + m * bpad;
      float s = 0.0f;
      for (int64_t b = 0; b < blocks; ++b) {
        int32_t isum = 0;
        for (int64_t j = 0; j < 16; ++j) {
          const uint8_t byte = wr[b * 16 + j];
          isum += (int32_t{byte & 0x0f} - 8) * q[b * 32 + j];
          isum += (int32_t{byte >> 4} - 8) * q[b * 32 + j + 16];
        }
        s += f16_to_f32(S[n * blocks + b]) * d[b] * static_cast<float>(isum);
      }
      a.z[m * a.ldz + n] = s;
    }
}

}  // namespace

LevelKernels scalar_kernels() {
  LevelKernels k;
  k.f32 = f32_small;
  k.bf16 = bf16_small;
  k.int8 = int8_small;
  k.q4 = q4_small;
  k.q4_layout = ActLayout::kNatural;
  k.q4_corr = false;
  k.quantize_acts = nullptr;
  return k;
}

}  // namespace blip2::cpu::detail
