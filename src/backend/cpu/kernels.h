// CPU kernels: the only code that knows about SIMD and BLAS. Model code calls these through nn/;
// a GPU backend would provide the same operations. Every kernel has a plain scalar twin in
// backend/reference/kernels.h with the same signature (minus the pool), used as its test oracle.
//
// Conventions: row-major, shapes in comments as PyTorch writes them, element strides.
// SIMD paths are chosen at run time (Highway dynamic dispatch); nothing assumes AVX-512.
#pragma once

#include <cstdint>
#include <string>

#include "core/thread_pool.h"

namespace blip2::cpu {

// Matrix products against Linear weights (f32 or reduced formats) are in backend/cpu/matmul.h.

// ----------------------------------------------------------------------------- normalisation
// y = (x - mean) / sqrt(var + eps) * weight + bias, per row of length `cols` (biased variance,
// as torch.nn.LayerNorm). weight/bias may be null (treated as 1 / 0). x and y may alias.
void layer_norm(ThreadPool& pool, const float* x, const float* weight, const float* bias, float* y,
                int64_t rows, int64_t cols, float eps);
// T5LayerNorm: y = x * rsqrt(mean(x^2) + eps) * weight (no mean subtraction, no bias).
void rms_norm(ThreadPool& pool, const float* x, const float* weight, float* y, int64_t rows,
              int64_t cols, float eps);

// ----------------------------------------------------------------------------- elementwise
// In-place over n contiguous floats.
void softmax_rows(ThreadPool& pool, float* x, int64_t rows, int64_t cols);  // stable, per row
void log_softmax_row(const float* x, float* y, int64_t n);                  // one row
void gelu_erf(ThreadPool& pool, float* x, int64_t n);   // 0.5 x (1 + erf(x / sqrt 2)), exact form
void gelu_tanh(ThreadPool& pool, float* x, int64_t n);  // "gelu_new"/"gelu_pytorch_tanh"
void erf(ThreadPool& pool, float* x, int64_t n);        // x = erf(x), |error| < 3e-7
void relu(ThreadPool& pool, float* x, int64_t n);
void add(ThreadPool& pool, const float* a, const float* b, float* y, int64_t n);  // y = a + b
void mul(ThreadPool& pool, const float* a, const float* b, float* y, int64_t n);  // y = a * b
void scale(float* x, float s, int64_t n);                                         // x *= s

// ----------------------------------------------------------------------------- conversions
void f16_to_f32(const uint16_t* x, float* y, int64_t n);
void bf16_to_f32(const uint16_t* x, float* y, int64_t n);
void f32_to_f16(const float* x, uint16_t* y, int64_t n);   // round to nearest even
void f32_to_bf16(const float* x, uint16_t* y, int64_t n);  // round to nearest even

// out[i, :] = table[ids[i], :]  (table f32 [rows, dim]); ids must be checked by the caller.
void embedding(const float* table, int64_t dim, const int32_t* ids, int64_t n, float* out);

// ----------------------------------------------------------------------------- attention
// Scaled dot-product attention for every (batch, head):
//   out[b, i, h, :] = softmax_j(scale * q[b,i,h,:]·k[b,j,h,:] + bias[b,h,i,j]) · v[b,j,h,:]
// over the keys j allowed by key_mask and causality. Element (b, t, h, d) of q lives at
// q + b*q_batch_stride + t*q_row_stride + h*q_head_stride + d (likewise k, v, out), so both
// [B, T, H*D] activations and [B, H, Tmax, D] KV caches are described without copies; the head
// dimension must be contiguous, and rows of more than one element must not overlap (row stride
// >= head_dim). A query row with no allowed key gets zeros. Excluded keys get probability exactly
// 0, so their values do not matter as long as they are finite (0 * inf is NaN in the P.V
// product); only keys j < kv_len are ever read.
struct AttentionParams {
  int64_t batch = 1, heads = 1, q_len = 0, kv_len = 0, head_dim = 0;
  const float* q = nullptr;
  int64_t q_batch_stride = 0, q_row_stride = 0, q_head_stride = 0;
  const float* k = nullptr;
  int64_t k_batch_stride = 0, k_row_stride = 0, k_head_stride = 0;
  const float* v = nullptr;
  int64_t v_batch_stride = 0, v_row_stride = 0, v_head_stride = 0;
  float* out = nullptr;
  int64_t out_batch_stride = 0, out_row_stride = 0, out_head_stride = 0;
  float scale = 1.0f;
  // Optional additive bias (T5 relative positions): bias + b*bias_batch_stride +
  // h*bias_head_stride + i*bias_row_stride + j. Strides may be 0 to broadcast.
  const float* bias = nullptr;
  int64_t bias_batch_stride = 0, bias_head_stride = 0, bias_row_stride = 0;
  // Optional key mask: key_mask[b*key_mask_batch_stride + j] == 0 excludes key j.
  const uint8_t* key_mask = nullptr;
  int64_t key_mask_batch_stride = 0;
  // Causal: query i may attend to keys j <= i + causal_offset (kv_len - q_len with a KV cache).
  bool causal = false;
  int64_t causal_offset = 0;
};
void attention(ThreadPool& pool, const AttentionParams& p);

// ----------------------------------------------------------------------------- dispatch
// The instruction set the SIMD kernels run with: "AVX3" (AVX-512), "AVX2", "SSE4", or the
// portable fallback "EMU128" ("SCALAR" where Highway disables EMU128, e.g. built with GCC < 12.3).
std::string active_isa();
// Restricts dispatch to at most `isa` ("AVX3", "AVX2", "SSE4", "EMU128" or "scalar": the portable
// fallback; any case) for testing and benchmarking; "best" (or "AMX") restores the default. It
// caps the reduced-precision matrix kernels too (matmul.h active_matmul_isa): "AMX" and "best"
// allow AMX tiles, "AVX3" stops at AVX-512 VNNI, "AVX2" at AVX2, the rest at scalar. Process-wide
// (Highway's dispatch table is); call it before starting work, not while kernels run. Throws
// Error(kInvalidArgument) on unknown names.
void set_max_isa(const std::string& isa);

}  // namespace blip2::cpu
