// Weight conversions between the formats of matmul.h: f32 -> int8 / q4 at load time (and by
// `blip2 quantize`), and any format -> f32 for the dequantise-then-multiply paths and the tests.
#include <algorithm>
#include <cmath>
#include <cstring>

#include "backend/cpu/matmul.h"
#include "backend/cpu/matmul_internal.h"
#include "core/dtype.h"
#include "core/error.h"

namespace blip2::cpu {

namespace {

using detail::round_even;

// Squared error of quantising `w` (32 values) with scale d (q in [0, 15], zero point 8).
float q4_error(const float* w, float d, uint8_t* q) {
  const float inv = d != 0.0f ? 1.0f / d : 0.0f;
  float err = 0.0f;
  for (int i = 0; i < 32; ++i) {
    float v = round_even(w[i] * inv) + 8.0f;
    v = std::clamp(v, 0.0f, 15.0f);
    q[i] = static_cast<uint8_t>(v);
    const float e = w[i] - (v - 8.0f) * d;
    err += e * e;
  }
  return err;
}

}  // namespace

void quantize_int8_rows(const float* w, int64_t n, int64_t k, int8_t* q, float* scale) {
  for (int64_t r = 0; r < n; ++r) {
    const float* wr = w + r * k;
    float amax = 0.0f;
    for (int64_t i = 0; i < k; ++i) amax = std::max(amax, std::fabs(wr[i]));
    scale[r] = amax / 127.0f;
    const float inv = amax > 0.0f ? 127.0f / amax : 0.0f;
    int8_t* qr = q + r * k;
    for (int64_t i = 0; i < k; ++i) {
      const float v = std::clamp(round_even(wr[i] * inv), -127.0f, 127.0f);
      qr[i] = static_cast<int8_t>(v);
    }
  }
}

void quantize_q4_rows(const float* w, int64_t n, int64_t k, uint8_t* q, uint16_t* scale) {
  BLIP2_CHECK(k % kQ4Block == 0, "q4 needs rows of a multiple of 32 weights, got ", k);
  const int64_t blocks = k / kQ4Block;
  uint8_t best[32], cand[32];
  for (int64_t r = 0; r < n; ++r) {
    for (int64_t b = 0; b < blocks; ++b) {
      const float* wb = w + r * k + b * kQ4Block;
      float amax = 0.0f, signed_max = 0.0f;
      for (int i = 0; i < 32; ++i)
        if (std::fabs(wb[i]) > amax) {
          amax = std::fabs(wb[i]);
          signed_max = wb[i];
        }
      // The largest magnitude maps to -8 (the range [-8, 7] holds it exactly); then one
      // least-squares refit of the scale for the chosen integers, kept if it lowers the error.
      // Scales are rounded to f16 before use, so the stored scale is the one evaluated.
      float d = f16_to_f32(f32_to_f16(signed_max / -8.0f));
      float err = q4_error(wb, d, best);
      float num = 0.0f, den = 0.0f;
      for (int i = 0; i < 32; ++i) {
        const float qi = static_cast<float>(best[i]) - 8.0f;
        num += wb[i] * qi;
        den += qi * qi;
      }
      if (den > 0.0f) {
        const float d2 = f16_to_f32(f32_to_f16(num / den));
        const float err2 = q4_error(wb, d2, cand);
        if (err2 < err) {
          err = err2;
          d = d2;
          std::memcpy(best, cand, 32);
        }
      }
      scale[r * blocks + b] = f32_to_f16(d);
      uint8_t* qb = q + r * (k / 2) + b * 16;
      for (int j = 0; j < 16; ++j) qb[j] = static_cast<uint8_t>(best[j] | (best[j + 16] << 4));
    }
  }
}

void dequantize_rows(const WeightView& w, int64_t n0, int64_t n1, float* dst) {
  const int64_t k = w.k;
  for (int64_t n = n0; n < n1; ++n) {
    float* out = dst + (n - n0) * k;
    switch (w.format) {
      case WeightFormat::kF32:
        std::memcpy(out, static_cast<const float*>(w.data) + n * k, static_cast<size_t>(k) * 4);
        break;
      case WeightFormat::kBF16: {
        const uint16_t* src = static_cast<const uint16_t*>(w.data) + n * k;
        for (int64_t i = 0; i < k; ++i) out[i] = bf16_to_f32(src[i]);
        break;
      }
      case WeightFormat::kInt8: {
        const int8_t* src = static_cast<const int8_t*>(w.data) + n * k;
        const float s = static_cast<const float*>(w.scale)[n];
        for (int64_t i = 0; i < k; ++i) out[i] = static_cast<float>(src[i]) * s;
        break;
      }
      case WeightFormat::kQ4: {
        const uint8_t* src = static_cast<const uint8_t*>(w.data) + n * (k / 2);
        const uint16_t* sc = static_cast<const uint16_t*>(w.scale) + n * (k / kQ4Block);
        for (int64_t b = 0; b < k / kQ4Block; ++b) {
          const float d = f16_to_f32(sc[b]);
          for (int j = 0; j < 16; ++j) {
            const uint8_t byte = src[b * 16 + j];
            out[b * 32 + j] = static_cast<float>(int{byte & 0x0f} - 8) * d;
            out[b * 32 + j + 16] = static_cast<float>(int{byte >> 4} - 8) * d;
          }
        }
        break;
      }
    }
  }
}

}  // namespace blip2::cpu
