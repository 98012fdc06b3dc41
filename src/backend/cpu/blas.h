// OpenBLAS set up for the engine's thread pool: BLAS's own threading is switched off once per
// process (the pool splits products and calls BLAS from every worker; Debian's pthread build is
// safe under concurrent calls, its serial build is not). Call before any cblas_* call.
#pragma once

#include <cblas.h>

#include <cstdint>
#include <string>

namespace blip2::cpu {

// Idempotent and cheap after the first call. The first call also checks which kernels OpenBLAS's
// run-time CPU detection chose: OpenBLAS 0.3.21 (Debian 12) does not know CPUs newer than it
// (e.g. Emerald Rapids, family 6 model 207) and falls back to its SSE3 "Prescott" kernels, 4-5x
// slower than the AVX-512 ones on the same machine (sgemm at the ViT-g shapes: 15 vs 75 GFLOP/s
// per core, measured). When it chose a core without AVX2 on a CPU that has AVX2+FMA (or
// AVX-512), the kernels are re-selected for the instruction set the CPU has (Haswell, SkylakeX,
// Cooperlake) through OpenBLAS's own OPENBLAS_CORETYPE mechanism. A user's OPENBLAS_CORETYPE is
// respected.
void prepare_blas();

// A dimension as BLAS's int; Error(kInternal) if it does not fit (no BLIP-2 shape comes close).
int blas_int(int64_t v);

// The OpenBLAS kernel set in use ("Cooperlake", "Haswell", ...), after prepare_blas().
std::string blas_core_name();

}  // namespace blip2::cpu
