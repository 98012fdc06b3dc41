#include "backend/reference/matmul.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "backend/reference/kernels.h"
#include "core/dtype.h"

namespace blip2::ref {

float weight_at(const cpu::WeightView& w, int64_t n, int64_t k) {
  switch (w.format) {
    case WeightFormat::kF32:
      return static_cast<const float*>(w.data)[n * w.k + k];
    case WeightFormat::kBF16:
      return blip2::bf16_to_f32(static_cast<const uint16_t*>(w.data)[n * w.k + k]);
    case WeightFormat::kInt8:
      return static_cast<float>(static_cast<const int8_t*>(w.data)[n * w.k + k]) *
             static_cast<const float*>(w.scale)[n];
    case WeightFormat::kQ4: {
      const int64_t b = k / 32, j = k % 32;
      const uint8_t byte = static_cast<const uint8_t*>(w.data)[n * (w.k / 2) + b * 16 + j % 16];
      const int q = j < 16 ? (byte & 0x0f) : (byte >> 4);
      const float d = blip2::f16_to_f32(static_cast<const uint16_t*>(w.scale)[n * (w.k / 32) + b]);
      return static_cast<float>(q - 8) * d;
    }
  }
  return 0.0f;
}

void matmul(const cpu::WeightView& w, int64_t M, const float* x, int64_t ldx, float* y, int64_t ldy,
            const cpu::MatmulEpilogue& ep) {
  for (int64_t m = 0; m < M; ++m) {
    std::vector<float> row(static_cast<size_t>(w.n));
    for (int64_t n = 0; n < w.n; ++n) {
      double s = 0.0;
      for (int64_t k = 0; k < w.k; ++k) s += double{x[m * ldx + k]} * double{weight_at(w, n, k)};
      double v = double{ep.alpha} * s;
      if (ep.bias) v += ep.bias[n];
      if (ep.beta != 0.0f) v += double{ep.beta} * y[m * ldy + n];
      row[static_cast<size_t>(n)] = static_cast<float>(v);
    }
    switch (ep.activation) {
      case cpu::Act::kGelu:
        gelu_erf(row.data(), w.n);
        break;
      case cpu::Act::kGeluTanh:
        gelu_tanh(row.data(), w.n);
        break;
      case cpu::Act::kRelu:
        relu(row.data(), w.n);
        break;
      case cpu::Act::kNone:
        break;
    }
    for (int64_t n = 0; n < w.n; ++n) y[m * ldy + n] = row[static_cast<size_t>(n)];
  }
}

double q8_activation_bound(const cpu::WeightView& w, const float* x, int64_t n) {
  double bound = 0.0;
  for (int64_t k0 = 0; k0 < w.k; k0 += 32) {
    double amax = 0.0, wsum = 0.0;
    for (int64_t k = k0; k < std::min<int64_t>(w.k, k0 + 32); ++k) {
      amax = std::max(amax, std::fabs(double{x[k]}));
      wsum += std::fabs(double{weight_at(w, n, k)});
    }
    bound += amax / 127.0 / 2.0 * wsum;
  }
  return bound;
}

double abs_dot(const cpu::WeightView& w, const float* x, int64_t n) {
  double s = 0.0;
  for (int64_t k = 0; k < w.k; ++k) s += std::fabs(double{x[k]} * double{weight_at(w, n, k)});
  return s;
}

void quantize_int8_rows(const float* w, int64_t n, int64_t k, int8_t* q, float* scale) {
  for (int64_t r = 0; r < n; ++r) {
    float amax = 0.0f;
    for (int64_t i = 0; i < k; ++i) amax = std::max(amax, std::fabs(w[r * k + i]));
    scale[r] = amax / 127.0f;
    for (int64_t i = 0; i < k; ++i) {
      const float v = amax > 0.0f ? std::nearbyint(w[r * k + i] * (127.0f / amax)) : 0.0f;
      q[r * k + i] = static_cast<int8_t>(std::max(-127.0f, std::min(127.0f, v)));
    }
  }
}

}  // namespace blip2::ref
