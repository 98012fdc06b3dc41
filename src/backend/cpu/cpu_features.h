// What the CPU can run, for the hand-written matrix kernels (matmul_*.cpp): detected once, then
// capped by set_max_isa() for tests and benchmarks. The Highway kernels (norms, activations) have
// their own dispatch; set_max_isa() caps both.
//
// Levels, each a superset of the one below:
//   kScalar  portable C++ (any CPU)
//   kAvx2    AVX2 + FMA + F16C (Haswell and later, Zen 1 and later)
//   kAvx512  AVX-512 F/BW/DQ/VL + VNNI (Ice Lake, Cascade Lake, Zen 4 and later)
//   kAmx     kAvx512 + AVX512_BF16 + AMX-TILE/AMX-BF16, with the kernel's permission to use the
//            tile registers (Sapphire Rapids and later)
// A CPU with AVX-512 but without VNNI (Skylake-X) runs the AVX2 kernels.
#pragma once

#include <string>

namespace blip2::cpu {

enum class MatmulLevel : int { kScalar = 0, kAvx2 = 1, kAvx512 = 2, kAmx = 3 };

// The best level this CPU (and OS) supports; AMX permission is requested on the first call.
MatmulLevel detected_matmul_level();
// The level the kernels use now: min(detected, cap).
MatmulLevel matmul_level();
// Sets the cap (kAmx = no cap). Process-wide; call before starting work.
void set_matmul_level_cap(MatmulLevel cap);
// "AMX", "AVX512_VNNI", "AVX2", "scalar".
std::string matmul_level_name(MatmulLevel level);

}  // namespace blip2::cpu
