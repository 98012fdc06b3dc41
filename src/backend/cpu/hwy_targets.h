// Which SIMD targets the backend/cpu Highway translation units compile. Include this first in each
// of them, before hwy/foreach_target.h; it is deliberately not a global compile definition, so
// other code using Highway keeps its own choice.
//
// Every extra target is one more full compilation of each kernel file, and CI has 2 cores. On
// x86-64 we keep AVX3 (AVX-512), AVX2 (with FMA and F16C), SSE4 and the portable fallback
// (EMU128, or the one-lane SCALAR where Highway marks EMU128 broken: GCC < 12.3, so Debian 12),
// which covers every x86-64 machine; SSSE3-only CPUs get the fallback, and AVX3_DL adds nothing
// these kernels use. Other architectures keep Highway's defaults.
#pragma once

#ifndef HWY_DISABLED_TARGETS
#define HWY_DISABLED_TARGETS (HWY_SSSE3 | HWY_AVX3_DL)
#endif
