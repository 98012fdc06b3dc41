// Matrix multiply against a Linear weight held in one of the weight formats (core/dtype.h
// WeightFormat), and the conversions between them. Model code reaches this through nn::Linear.
//
//   cpu::WeightView w = cpu::WeightView::int8(q.data(), scales.data(), /*n=*/out, /*k=*/in);
//   cpu::MatmulEpilogue ep;
//   ep.bias = bias;                      // optional, [N]
//   ep.activation = cpu::Act::kGelu;      // optional, applied after the bias
//   cpu::matmul(pool, w, rows, x, in, y, out, ep);   // y[rows, out] = gelu(x W^T + b)
//
// Formats of W [N (out), K (in)], rows contiguous (row n at data + n * row_bytes):
//   kF32   float  [N, K]
//   kBF16  bf16   [N, K] (uint16 bit patterns)
//   kInt8  int8   [N, K] in [-127, 127], with float scale[N]: W[n, k] = q[n, k] * scale[n]
//   kQ4    uint8  [N, K/2], K a multiple of 32, with f16 scale[N, K/32]: blocks of 32 weights;
//          byte j (0..15) of block b holds q[b*32 + j] in its low nibble and q[b*32 + j + 16] in
//          its high nibble, q in [0, 15], W[n, b*32 + i] = (q[b*32 + i] - 8) * scale[n, b]
//          (the layout of llama.cpp's Q4_0, with the scales kept in a separate tensor)
//
// How each product is computed (the level: cpu_features.h):
//   - f32: OpenBLAS sgemm (sgemv for one row), split over the pool; products of 2..64 rows on
//     AVX-512 machines (the LM prefill) go to oneDNN's brgemm instead (dnnl_matmul.h).
//   - bf16 / int8 / q4 with few rows (decode steps; M <= kSmallM): kernels that stream the weights
//     once for all rows. bf16 widens the weights to f32 (exact) and multiplies f32 activations.
//     int8 and q4 quantise each activation row to int8 in blocks of 32 with one f32 scale per
//     block (symmetric, round to nearest even), then take integer dot products (AVX-512 VNNI
//     vpdpbusd; AVX2 vpmaddubsw) and scale per block. The activation rounding is the only error
//     beyond the weights' own: |y - y_exact| <= sum_k |W[n,k]| * d_block(k) / 2 + f32 rounding.
//   - many rows (vision encoder, prefill): AMX tiles where present (activations rounded to bf16,
//     weights widened to bf16: exact for bf16 and int8, q4 dequantised and rounded to bf16), else
//     the weights are dequantised to f32 a panel at a time and multiplied by OpenBLAS sgemm.
#pragma once

#include <cstdint>

#include "core/dtype.h"
#include "core/thread_pool.h"

namespace blip2::cpu {

// A non-owning view of a weight matrix in one format.
struct WeightView {
  WeightFormat format = WeightFormat::kF32;
  int64_t n = 0, k = 0;
  const void* data = nullptr;
  const void* scale = nullptr;  // int8: float[N]; q4: uint16 (f16) [N, K/32]; else null

  static WeightView f32(const float* w, int64_t n, int64_t k) {
    return {WeightFormat::kF32, n, k, w, nullptr};
  }
  static WeightView bf16(const uint16_t* w, int64_t n, int64_t k) {
    return {WeightFormat::kBF16, n, k, w, nullptr};
  }
  static WeightView int8(const int8_t* q, const float* scale, int64_t n, int64_t k) {
    return {WeightFormat::kInt8, n, k, q, scale};
  }
  static WeightView q4(const uint8_t* q, const uint16_t* scale, int64_t n, int64_t k) {
    return {WeightFormat::kQ4, n, k, q, scale};
  }
  // Bytes of one row of `data`.
  int64_t row_bytes() const;
};

// Q4 block size (weights per scale).
inline constexpr int64_t kQ4Block = 32;
// Activation quantisation block of the int8 and q4 kernels.
inline constexpr int64_t kActBlock = 32;
// Products with at most this many rows take the small-M (decode) kernels.
inline constexpr int64_t kSmallM = 8;

enum class Act : uint8_t { kNone, kGelu, kGeluTanh, kRelu };

// What happens to each output element z = (x W^T)[m, n]:
//   y[m, n] = act(alpha * z + beta * y[m, n] + bias[n])
// beta == 0 overwrites y without reading it; beta == 1 adds a residual in place.
struct MatmulEpilogue {
  float alpha = 1.0f;
  float beta = 0.0f;
  const float* bias = nullptr;  // [N] or null
  Act activation = Act::kNone;
};

// y[M, N] (row stride ldy) = epilogue(x[M, K] (row stride ldx) · W^T). x and y must not overlap.
void matmul(ThreadPool& pool, const WeightView& w, int64_t M, const float* x, int64_t ldx, float* y,
            int64_t ldy, const MatmulEpilogue& epilogue = {});

// ----------------------------------------------------------------------------- conversions
// Rows [0, n) of a weight [n, k] given as f32. Each function handles any n; callers split rows
// over the pool for large matrices (see quantize_weight in nn/).
//
// int8, symmetric per output row: scale = max|w| / 127, q = round_half_even(w / scale).
void quantize_int8_rows(const float* w, int64_t n, int64_t k, int8_t* q, float* scale);
// q4 (k % 32 == 0): per block, the scale minimising the squared error among candidates around
// max|w| / 8 (signed so that the largest magnitude maps to -8, which the range [-8, 7] holds
// exactly), stored as f16; q = clamp(round(w / scale) + 8, 0, 15).
void quantize_q4_rows(const float* w, int64_t n, int64_t k, uint8_t* q, uint16_t* scale);
// Rows [n0, n1) of any format back to f32, dst [n1 - n0, k] (row stride k).
void dequantize_rows(const WeightView& w, int64_t n0, int64_t n1, float* dst);

// ----------------------------------------------------------------------------- dispatch
// The level the matrix kernels run with: "AMX", "AVX512_VNNI", "AVX2" or "scalar".
// set_max_isa (kernels.h) caps it: "AVX3" -> AVX512_VNNI, "AVX2" -> AVX2, "SSE4"/"EMU128"/
// "scalar" -> scalar; "AMX" and "best" lift the cap.
std::string active_matmul_isa();

}  // namespace blip2::cpu
