// Scalar twins of the CPU kernels (backend/cpu/kernels.h): the same operations written as the
// obvious loops, with double accumulation, no SIMD, no BLAS and no threads. They are the test
// oracle for the fast kernels and a readable statement of what each kernel computes; they are not
// meant to be fast.
//
//   float y[3];
//   blip2::ref::layer_norm(x, weight, bias, y, /*rows=*/1, /*cols=*/3, 1e-5f);
//
// Shapes and conventions are those of backend/cpu/kernels.h (row-major, element strides).
#pragma once

#include <cstdint>

#include "backend/cpu/kernels.h"

namespace blip2::ref {

using cpu::AttentionParams;

// C[M,N] = alpha * A[M,K] · B[N,K]^T + beta * C. beta == 0 overwrites C (NaNs in C are not read),
// as BLAS does.
void gemm_nt(int64_t M, int64_t N, int64_t K, const float* A, int64_t lda, const float* B,
             int64_t ldb, float* C, int64_t ldc, float alpha = 1.0f, float beta = 0.0f);
// torch.nn.LayerNorm over rows of `cols` (biased variance); weight/bias may be null.
void layer_norm(const float* x, const float* weight, const float* bias, float* y, int64_t rows,
                int64_t cols, float eps);
// T5LayerNorm: y = x / sqrt(mean(x^2) + eps) * weight.
void rms_norm(const float* x, const float* weight, float* y, int64_t rows, int64_t cols, float eps);

void softmax_rows(float* x, int64_t rows, int64_t cols);
void log_softmax_row(const float* x, float* y, int64_t n);
void gelu_erf(float* x, int64_t n);
void gelu_tanh(float* x, int64_t n);
void erf(float* x, int64_t n);
void relu(float* x, int64_t n);
void add(const float* a, const float* b, float* y, int64_t n);
void mul(const float* a, const float* b, float* y, int64_t n);
void scale(float* x, float s, int64_t n);

// Element by element through the scalar conversions of core/dtype.h.
void f16_to_f32(const uint16_t* x, float* y, int64_t n);
void bf16_to_f32(const uint16_t* x, float* y, int64_t n);
void f32_to_f16(const float* x, uint16_t* y, int64_t n);
void f32_to_bf16(const float* x, uint16_t* y, int64_t n);

void embedding(const float* table, int64_t dim, const int32_t* ids, int64_t n, float* out);

// Scaled dot-product attention exactly as documented on cpu::AttentionParams.
void attention(const AttentionParams& p);

}  // namespace blip2::ref
