// Every tolerance the backend kernel tests use, in one place. The oracle is the scalar twin in
// backend/reference, which accumulates in double. Each value says why it is what it is and what
// was measured on this project's dev machine (AVX-512 CPU) at every dispatch level: AVX3, AVX2,
// SSE4 and the one-lane SCALAR fallback (GCC 12.2; it has no FMA, so it is the least accurate).
// Loosening one needs a new measurement in its comment.
#pragma once

namespace blip2::test::tol {

// ----------------------------------------------------------------------------- GEMM
// OpenBLAS sums K products in f32; the double oracle does not round. For N(0, 1) inputs the error
// grows like sqrt(K) * eps * sqrt(K) (|dot| ~ sqrt(K)). Measured max |err| / sqrt(K): 1.7e-6
// (K = 3 ... 1001). rtol covers the beta * C term.
constexpr double kGemmAbsPerSqrtK = 5e-6;
constexpr double kGemmRel = 1e-6;

// ----------------------------------------------------------------------------- norms, softmax
// LayerNorm/RMSNorm: blocked f32 sums reduced in double, one rsqrt, outputs ~ N(0, 1) * w + b.
// Measured max abs error: 1.4e-6 (SIMD targets), 3.7e-6 (SCALAR).
constexpr double kNormAbs = 1e-5;
constexpr double kNormRel = 1e-6;
// softmax: hwy Exp is within 1 ulp; blocked sums. Probabilities in [0, 1]. Measured max
// relative error 2.3e-6 (SIMD), 3.0e-6 (SCALAR); max abs 1.7e-6.
constexpr double kSoftmaxAbs = 1e-7;
constexpr double kSoftmaxRel = 1e-5;
// log-softmax over up to 50272 logits (a vocabulary row): error / (|y| + 1) measured 1.1e-7
// (SIMD), 6.9e-7 (SCALAR); the f32 subtraction (x - max) - log(sum) alone costs an ulp of |y|.
constexpr double kLogSoftmaxAbs = 2e-6;
constexpr double kLogSoftmaxRel = 2e-6;

// ----------------------------------------------------------------------------- activations
// The required bound for both GELUs: |gelu_simd - gelu_ref| <= 1e-6 * max(1, |x|).
// Measured over [-30, 30] and special values: 1.2e-7 for both forms at every level.
constexpr double kGeluAbsPerMaxOneX = 1e-6;
// erf: required max abs error 1e-6 over the real line; measured 1.2e-7 (relative 2.2e-7), so the
// test holds it to 3e-7 to catch regressions.
constexpr double kErfAbs = 3e-7;
// GELU (erf form) relative error where it is tiny, x in [-13, -1] (|gelu| down to 1e-37).
// Measured 4.0e-6 (AVX3, AVX2: FMA gives x^2 exactly), 7.7e-6 (SSE4, SCALAR).
constexpr double kGeluErfNegativeRel = 2e-5;

// ----------------------------------------------------------------------------- attention
// Two BLAS products around the SIMD softmax; outputs are weighted means of N(0, 1) values.
// Measured max abs error 7.8e-7, and error / (|out| + 0.1) 3.7e-6.
constexpr double kAttentionAbs = 5e-6;
constexpr double kAttentionRel = 5e-5;

// ----------------------------------------------------------------------------- matmul (formats)
// Each bound multiplies sum_k |x_k W_nk| (ref::abs_dot), the scale of every rounding in the dot
// product, except the int8 / q4 activation rounding, which has its own exact bound
// (ref::q8_activation_bound). f32 summation: recursive summation of K terms is within
// K * 2^-24 of exact (Higham's gamma_K); we allow that for every path. Measured worst ratios
// error / (abs_dot * K * 2^-24) over the test shapes: below 0.05 at every level.
constexpr double kF32SumPerTerm = 0x1p-24;
// AMX rounds the activations to bf16 (relative 2^-9) and, for q4, the dequantised weights too
// (another 2^-9); bf16 and int8 weights are exact in bf16.
constexpr double kAmxRounding = 0x1p-8;
// The int8 / q4 kernels at different levels make the same integer block sums and differ only in
// the order of the f32 block additions. Measured max |difference| / abs_dot: 3e-8.
constexpr double kCrossLevelRel = 1e-6;

}  // namespace blip2::test::tol
