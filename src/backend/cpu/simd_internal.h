// Internal entry points of the SIMD translation units used by other backend/cpu files (not part
// of the kernel API). Each dispatches to the best SIMD target at run time.
#pragma once

#include <cstdint>

namespace blip2::cpu::detail {

// One attention score row s[0, n): s += bias (may be null); keys with mask[j] == 0 (mask may be
// null) get probability exactly 0; then a stable softmax in place. Returns false, with the row
// all zeros, when no key is allowed.
bool attention_softmax_row(float* s, int64_t n, const float* bias, const uint8_t* mask);

}  // namespace blip2::cpu::detail
