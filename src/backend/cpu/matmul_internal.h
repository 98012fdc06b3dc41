// Internal interface between the matmul dispatcher (matmul.cpp) and the per-instruction-set
// kernels (matmul_scalar.cpp, matmul_avx2.cpp, matmul_avx512.cpp, matmul_amx.cpp). Not part of
// the kernel API.
//
// The small-M kernels compute raw products z[m, n] = sum_k x[m, k] W[n, k] for all M rows and the
// weight rows [n0, n1), int8 rows already multiplied by their scale; the dispatcher applies the
// epilogue. Each kernel file compiles its functions for its own instruction set only (a
// `#pragma GCC target` region holding nothing but these functions and file-local helpers, so no
// inline function of a shared header is ever emitted with instructions another CPU lacks).
#pragma once

#include <cstdint>

#include "backend/cpu/matmul.h"

namespace blip2::cpu::detail {

// Round half to even for |v| < 2^22 without a libm call (baseline x86-64 has no roundss):
// adding 1.5 * 2^23 leaves no fraction bits, so the addition rounds in the default
// nearest-even mode, and subtracting it back is exact. (The build never enables
// -ffast-math, which could fold the pair away.) Equals the SIMD conversions (cvtps2dq).
inline float round_even(float v) {
  constexpr float kMagic = 12582912.0f;  // 1.5 * 2^23
  return (v + kMagic) - kMagic;
}

// Activation rows quantised to int8 in blocks of kActBlock with one f32 scale per block.
// K is padded with zeros to kpad (a multiple of 128); padded blocks have scale 0.
//   q     int8 [M, kpad], in the kernel's order (see ActLayout)
//   d     f32 [M, kpad / 32]: block scales
//   lane_scale  f32 [M, kpad / 4]: the scale of the block each int32 lane of the kernel sums
//   lane_corr   int32 [M, kpad / 4] (q4 only): -8 * (sum of the activations the lane sees), which
//               turns sum(q * x) over unsigned nibbles q into sum((q - 8) * x)
struct QuantActs {
  int64_t M = 0, k = 0, kpad = 0;
  int8_t* q = nullptr;
  float* d = nullptr;
  float* lane_scale = nullptr;
  int32_t* lane_corr = nullptr;
};

// Order of the quantised activations.
//   kNatural: element order; int32 lane i (4 consecutive bytes) covers elements 4i..4i+3.
//   kQ4Grouped: per group of 4 blocks (128 elements): 64 bytes holding elements 0..15 of each
//     block (block by block), then 64 bytes holding elements 16..31 of each block. A 64-byte load
//     of 4 q4 blocks split into low and high nibbles lines up with these two halves. Int32 lane l
//     (0..15) of a group covers bytes 4l..4l+3 of both halves: block l / 4.
enum class ActLayout { kNatural, kQ4Grouped };

// Rows of x (row stride ldx) quantised per QuantActs; `qa` points at caller-provided buffers
// sized for M rows and kpad = round_up(K, 128). lane_corr is filled only when with_corr.
void quantize_acts_scalar(const float* x, int64_t ldx, QuantActs& qa, ActLayout layout,
                          bool with_corr);

// Activations for the bf16 small-M kernels: x[m, 2i] in even[m, i], x[m, 2i + 1] in odd[m, i],
// rows of khalf (= ceil(K / 2) rounded up to 16) floats, zero padded.
struct SplitActs {
  int64_t M = 0, khalf = 0;
  float* even = nullptr;
  float* odd = nullptr;
};

struct SmallMArgs {
  const WeightView* w = nullptr;
  int64_t M = 0;
  const float* x = nullptr;  // f32 rows (scalar kernels, f32 kernels)
  int64_t ldx = 0;
  const QuantActs* qa = nullptr;  // int8 / q4
  const SplitActs* sa = nullptr;  // bf16
  float* z = nullptr;             // [M, N] raw products, row stride ldz
  int64_t ldz = 0;
};

using SmallMKernel = void (*)(const SmallMArgs& a, int64_t n0, int64_t n1);

// Per-level entry points (a level's table holds null where it has no kernel of its own).
struct LevelKernels {
  SmallMKernel f32 = nullptr;
  SmallMKernel bf16 = nullptr;
  SmallMKernel int8 = nullptr;
  SmallMKernel q4 = nullptr;
  ActLayout q4_layout = ActLayout::kNatural;
  bool q4_corr = false;  // the q4 kernel reads lane_corr
  // Quantises activations (same result as quantize_acts_scalar); null: use the scalar one.
  void (*quantize_acts)(const float* x, int64_t ldx, QuantActs& qa, ActLayout layout,
                        bool with_corr) = nullptr;
};

LevelKernels scalar_kernels();
LevelKernels avx2_kernels();    // defined on x86-64 only
LevelKernels avx512_kernels();  // defined on x86-64 only

// ----------------------------------------------------------------------------- AMX
// Activations packed as the AMX B operand of C^T = W · X^T: for each block of 16 rows m and 32
// columns k a 1 KiB tile, 16 lines p of 16 (x[m, k0 + 2p], x[m, k0 + 2p + 1]) bf16 pairs, m in
// the block. Tiles of one row block are consecutive over k: tile (mb, kb) at
// data + (mb * kblocks + kb) * 512 uint16s. Rows >= M and columns >= K are zero.
struct AmxActs {
  int64_t M = 0, K = 0, mblocks = 0, kblocks = 0;
  uint16_t* data = nullptr;
};
// Packs row blocks [mb0, mb1) of x.
void amx_pack_acts(const float* x, int64_t ldx, const AmxActs& a, int64_t mb0, int64_t mb1);
// Weight rows [n0, n0 + 32) (or fewer at the end) as bf16 with rows of kblocks * 32 elements,
// zero padded, converted from any format (int8: the integers, exact; scale applied later).
// `panel` holds 32 * kblocks * 32 uint16s.
void amx_weight_panel(const WeightView& w, int64_t n0, int64_t kblocks, uint16_t* panel);
// out[m, n] (row stride ldo, f32) = sum_k x[m, k] * Wpanel[n, k] for m in [0, M), n in
// [0, ncols) (ncols <= 32); `wp` is bf16 with row stride ldw elements, at least 32 rows
// readable (when ncols <= 16, 16 rows) and kblocks * 32 columns.
void amx_panel_product(const AmxActs& a, const uint16_t* wp, int64_t ldw, int64_t ncols, float* out,
                       int64_t ldo);

}  // namespace blip2::cpu::detail
