// f32 products with few rows through oneDNN's brgemm matmul, one call per pool task.
//
// For the language model's prefill ([~34 x 2560] x [N x 2560]^T on OPT-2.7b) OpenBLAS packs every
// weight panel before using it, and with so few rows the packing is not amortised: it reaches
// ~80 GFLOP/s on 2 cores where oneDNN's brgemm, reading the weights in place, reaches ~195
// (bench/matmul_bench.cpp BM_many_rows; docs/performance.md). Used only where that holds: AVX-512
// machines (on AVX2 oneDNN has no brgemm and OpenBLAS stays), 2..kDnnlMaxRows rows.
#pragma once

#include <cstdint>

namespace blip2::cpu {

inline constexpr int64_t kDnnlMaxRows = 64;

// Whether dnnl_sgemm_nt is used on this machine at the current matmul level (cpu_features.h).
bool dnnl_matmul_enabled();

// out[M, N] (row stride ldo) = x[M, K] (row stride ldx) · W^T, W [N, K] with row stride K.
// Single-threaded (the caller's pool splits the work). The primitive for a shape is created on
// first use and comes from oneDNN's primitive cache afterwards.
void dnnl_sgemm_nt(int64_t M, int64_t N, int64_t K, const float* x, int64_t ldx, const float* W,
                   float* out, int64_t ldo);

}  // namespace blip2::cpu
