#include "backend/reference/kernels.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <numbers>
#include <vector>

#include "core/dtype.h"

namespace blip2::ref {

void gemm_nt(int64_t M, int64_t N, int64_t K, const float* A, int64_t lda, const float* B,
             int64_t ldb, float* C, int64_t ldc, float alpha, float beta) {
  for (int64_t m = 0; m < M; ++m) {
    for (int64_t n = 0; n < N; ++n) {
      double acc = 0.0;
      for (int64_t k = 0; k < K; ++k) acc += double(A[m * lda + k]) * double(B[n * ldb + k]);
      float& c = C[m * ldc + n];
      c = static_cast<float>(alpha * acc + (beta == 0.0f ? 0.0 : double(beta) * c));
    }
  }
}

void layer_norm(const float* x, const float* weight, const float* bias, float* y, int64_t rows,
                int64_t cols, float eps) {
  for (int64_t r = 0; r < rows; ++r) {
    const float* xr = x + r * cols;
    float* yr = y + r * cols;
    double mean = 0.0;
    for (int64_t c = 0; c < cols; ++c) mean += xr[c];
    mean /= double(cols);
    double var = 0.0;
    for (int64_t c = 0; c < cols; ++c) var += (xr[c] - mean) * (xr[c] - mean);
    var /= double(cols);
    const double rstd = 1.0 / std::sqrt(var + double(eps));
    for (int64_t c = 0; c < cols; ++c) {
      const double w = weight ? weight[c] : 1.0;
      const double b = bias ? bias[c] : 0.0;
      yr[c] = static_cast<float>((xr[c] - mean) * rstd * w + b);
    }
  }
}

void rms_norm(const float* x, const float* weight, float* y, int64_t rows, int64_t cols,
              float eps) {
  for (int64_t r = 0; r < rows; ++r) {
    const float* xr = x + r * cols;
    float* yr = y + r * cols;
    double ss = 0.0;
    for (int64_t c = 0; c < cols; ++c) ss += double(xr[c]) * xr[c];
    const double rstd = 1.0 / std::sqrt(ss / double(cols) + double(eps));
    for (int64_t c = 0; c < cols; ++c) yr[c] = static_cast<float>(xr[c] * rstd * weight[c]);
  }
}

void softmax_rows(float* x, int64_t rows, int64_t cols) {
  for (int64_t r = 0; r < rows; ++r) {
    float* xr = x + r * cols;
    double mx = -std::numeric_limits<double>::infinity();
    for (int64_t c = 0; c < cols; ++c) mx = std::max(mx, double(xr[c]));
    double sum = 0.0;
    for (int64_t c = 0; c < cols; ++c) sum += std::exp(xr[c] - mx);
    for (int64_t c = 0; c < cols; ++c) xr[c] = static_cast<float>(std::exp(xr[c] - mx) / sum);
  }
}

void log_softmax_row(const float* x, float* y, int64_t n) {
  double mx = -std::numeric_limits<double>::infinity();
  for (int64_t i = 0; i < n; ++i) mx = std::max(mx, double(x[i]));
  double sum = 0.0;
  for (int64_t i = 0; i < n; ++i) sum += std::exp(x[i] - mx);
  const double lse = mx + std::log(sum);
  for (int64_t i = 0; i < n; ++i) y[i] = static_cast<float>(x[i] - lse);
}

// 1 + erf(v / sqrt 2) written as erfc(-v / sqrt 2): the same value, but without the cancellation
// that leaves even double with no correct digits of GELU below x ~ -8.
void gelu_erf(float* x, int64_t n) {
  for (int64_t i = 0; i < n; ++i) {
    const double v = x[i];
    x[i] = static_cast<float>(0.5 * v * std::erfc(-v / std::sqrt(2.0)));
  }
}

void gelu_tanh(float* x, int64_t n) {
  const double k = std::sqrt(2.0 / std::numbers::pi);
  for (int64_t i = 0; i < n; ++i) {
    const double v = x[i];
    x[i] = static_cast<float>(0.5 * v * (1.0 + std::tanh(k * (v + 0.044715 * v * v * v))));
  }
}

void erf(float* x, int64_t n) {
  for (int64_t i = 0; i < n; ++i) x[i] = static_cast<float>(std::erf(double(x[i])));
}

void relu(float* x, int64_t n) {
  for (int64_t i = 0; i < n; ++i) x[i] = x[i] < 0.0f ? 0.0f : x[i];
}

void add(const float* a, const float* b, float* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] = a[i] + b[i];
}

void mul(const float* a, const float* b, float* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] = a[i] * b[i];
}

void scale(float* x, float s, int64_t n) {
  for (int64_t i = 0; i < n; ++i) x[i] *= s;
}

void f16_to_f32(const uint16_t* x, float* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] = blip2::f16_to_f32(x[i]);
}

void bf16_to_f32(const uint16_t* x, float* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] = blip2::bf16_to_f32(x[i]);
}

void f32_to_f16(const float* x, uint16_t* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] = blip2::f32_to_f16(x[i]);
}

void f32_to_bf16(const float* x, uint16_t* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] = blip2::f32_to_bf16(x[i]);
}

void embedding(const float* table, int64_t dim, const int32_t* ids, int64_t n, float* out) {
  for (int64_t i = 0; i < n; ++i)
    for (int64_t d = 0; d < dim; ++d) out[i * dim + d] = table[int64_t(ids[i]) * dim + d];
}

void attention(const AttentionParams& p) {
  std::vector<double> scores(static_cast<size_t>(p.kv_len));
  std::vector<char> allowed(static_cast<size_t>(p.kv_len));
  for (int64_t b = 0; b < p.batch; ++b) {
    for (int64_t h = 0; h < p.heads; ++h) {
      for (int64_t i = 0; i < p.q_len; ++i) {
        const float* q = p.q + b * p.q_batch_stride + i * p.q_row_stride + h * p.q_head_stride;
        double mx = -std::numeric_limits<double>::infinity();
        bool any = false;
        for (int64_t j = 0; j < p.kv_len; ++j) {
          allowed[j] = (!p.key_mask || p.key_mask[b * p.key_mask_batch_stride + j] != 0) &&
                       (!p.causal || j <= i + p.causal_offset);
          if (!allowed[j]) continue;
          const float* k = p.k + b * p.k_batch_stride + j * p.k_row_stride + h * p.k_head_stride;
          double dot = 0.0;
          for (int64_t d = 0; d < p.head_dim; ++d) dot += double(q[d]) * double(k[d]);
          double s = double(p.scale) * dot;
          if (p.bias)
            s += p.bias[b * p.bias_batch_stride + h * p.bias_head_stride + i * p.bias_row_stride +
                        j];
          scores[j] = s;
          mx = std::max(mx, s);
          any = true;
        }
        float* out = p.out + b * p.out_batch_stride + i * p.out_row_stride + h * p.out_head_stride;
        std::vector<double> acc(static_cast<size_t>(p.head_dim), 0.0);
        if (any) {
          double sum = 0.0;
          for (int64_t j = 0; j < p.kv_len; ++j)
            if (allowed[j]) sum += (scores[j] = std::exp(scores[j] - mx));
          for (int64_t j = 0; j < p.kv_len; ++j) {
            if (!allowed[j]) continue;
            const float* v = p.v + b * p.v_batch_stride + j * p.v_row_stride + h * p.v_head_stride;
            for (int64_t d = 0; d < p.head_dim; ++d) acc[d] += scores[j] / sum * double(v[d]);
          }
        }
        for (int64_t d = 0; d < p.head_dim; ++d) out[d] = static_cast<float>(acc[d]);
      }
    }
  }
}

}  // namespace blip2::ref
