// Scalar twin of cpu::matmul (backend/cpu/matmul.h): the weights dequantised element by element
// with the formulas of matmul.h, multiplied by the f32 activations as they are (no activation
// quantisation or bf16 rounding) with double accumulation, then the epilogue. The test oracle:
// the fast paths differ from it only by the rounding their formats imply, which the functions
// below bound.
#pragma once

#include <cstdint>

#include "backend/cpu/matmul.h"

namespace blip2::ref {

// W[n, k] as f32.
float weight_at(const cpu::WeightView& w, int64_t n, int64_t k);

void matmul(const cpu::WeightView& w, int64_t M, const float* x, int64_t ldx, float* y, int64_t ldy,
            const cpu::MatmulEpilogue& epilogue = {});

// Bound on |z_fast - z_exact| for z = x · W[n, :] when the int8 / q4 kernels quantise x to int8
// in blocks of 32 (scale d_b = max|x_b| / 127, round to nearest): sum_b d_b / 2 * sum |W[n, k]|.
double q8_activation_bound(const cpu::WeightView& w, const float* x, int64_t n);
// sum_k |x[k] * W[n, k]|: the scale of every f32 / bf16 rounding error of that dot product.
double abs_dot(const cpu::WeightView& w, const float* x, int64_t n);

// Quantisers restated plainly (test oracles for cpu::quantize_*_rows): int8 per row, q4 per
// block with the plain max-magnitude scale (no refit).
void quantize_int8_rows(const float* w, int64_t n, int64_t k, int8_t* q, float* scale);

}  // namespace blip2::ref
