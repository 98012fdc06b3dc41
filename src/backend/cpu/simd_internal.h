// Internal entry points of the SIMD translation units used by other backend/cpu files (not part
// of the kernel API). Each dispatches to the best SIMD target at run time.
#pragma once

#include <cstdint>

namespace blip2::cpu::detail {

// One attention score row s[0, n): s += bias (may be null); keys with mask[j] == 0 (mask may be
// null) get probability exactly 0; then a stable softmax in place. Returns false, with the row
// all zeros, when no key is allowed.
bool attention_softmax_row(float* s, int64_t n, const float* bias, const uint8_t* mask);

// The matmul epilogue (matmul.h MatmulEpilogue) for one block of outputs:
//   y[r, i] = act(alpha * z[r, i] * col_scale[i] + bias[i] + beta * y[r, i])
// for r < rows, i < n. col_scale and bias may be null (and point at the block's first column);
// beta == 0 does not read y; z may equal y (same ld). activation: 0 none, 1 GELU (erf),
// 2 GELU (tanh), 3 ReLU, as cpu::Act.
struct EpilogueParams {
  float alpha = 1.0f, beta = 0.0f;
  const float* bias = nullptr;
  const float* col_scale = nullptr;
  int activation = 0;
};
void epilogue_rows(const float* z, int64_t ldz, float* y, int64_t ldy, int64_t rows, int64_t n,
                   const EpilogueParams& p);

}  // namespace blip2::cpu::detail
