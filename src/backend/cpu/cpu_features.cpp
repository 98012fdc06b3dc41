#include "backend/cpu/cpu_features.h"

#include <atomic>

#if defined(__x86_64__) && defined(__linux__)
#include <sys/syscall.h>
#include <unistd.h>
#endif

namespace blip2::cpu {

namespace {

#if defined(__x86_64__)
// Linux keeps the 8 KiB AMX tile state out of every thread's context until the process asks for
// it (arch_prctl ARCH_REQ_XCOMP_PERM, XFEATURE_XTILEDATA); without the permission the first tile
// instruction faults. The permission covers every thread of the process.
bool request_amx_permission() {
#if defined(__linux__)
  constexpr long kArchReqXcompPerm = 0x1023;
  constexpr long kXfeatureXtiledata = 18;
  return syscall(SYS_arch_prctl, kArchReqXcompPerm, kXfeatureXtiledata) == 0;
#else
  return false;
#endif
}

MatmulLevel detect() {
  __builtin_cpu_init();
  if (!(__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")))
    return MatmulLevel::kScalar;
  // F16C has no __builtin_cpu_supports name in GCC 12: CPUID.1:ECX bit 29.
  unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
  __asm__("cpuid" : "=a"(eax), "=b"(ebx), "=c"(ecx), "=d"(edx) : "a"(1), "c"(0));
  if (!(ecx & (1u << 29))) return MatmulLevel::kScalar;
  if (!(__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
        __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl") &&
        __builtin_cpu_supports("avx512vnni")))
    return MatmulLevel::kAvx2;
  // AMX-TILE and AMX-BF16: CPUID.(7,0):EDX bits 24 and 22; AVX512_BF16: CPUID.(7,1):EAX bit 5.
  __asm__("cpuid" : "=a"(eax), "=b"(ebx), "=c"(ecx), "=d"(edx) : "a"(7), "c"(0));
  const bool amx = (edx & (1u << 24)) && (edx & (1u << 22));
  __asm__("cpuid" : "=a"(eax), "=b"(ebx), "=c"(ecx), "=d"(edx) : "a"(7), "c"(1));
  const bool bf16 = eax & (1u << 5);
  if (amx && bf16 && request_amx_permission()) return MatmulLevel::kAmx;
  return MatmulLevel::kAvx512;
}
#else
MatmulLevel detect() {
  return MatmulLevel::kScalar;
}
#endif

std::atomic<int> g_cap{static_cast<int>(MatmulLevel::kAmx)};

}  // namespace

MatmulLevel detected_matmul_level() {
  static const MatmulLevel level = detect();
  return level;
}

MatmulLevel matmul_level() {
  const int cap = g_cap.load(std::memory_order_relaxed);
  const int best = static_cast<int>(detected_matmul_level());
  return static_cast<MatmulLevel>(cap < best ? cap : best);
}

void set_matmul_level_cap(MatmulLevel cap) {
  g_cap.store(static_cast<int>(cap), std::memory_order_relaxed);
}

std::string matmul_level_name(MatmulLevel level) {
  switch (level) {
    case MatmulLevel::kAmx:
      return "AMX";
    case MatmulLevel::kAvx512:
      return "AVX512_VNNI";
    case MatmulLevel::kAvx2:
      return "AVX2";
    case MatmulLevel::kScalar:
      return "scalar";
  }
  return "?";
}

}  // namespace blip2::cpu
