// Which SIMD target the kernels run with, and a way to cap it for tests and benchmarks. Compiled
// for the same targets as the kernel files (hwy_targets.h), so the name reported is the one the
// kernels dispatch to.
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "backend/cpu/dispatch.cpp"
#include "backend/cpu/hwy_targets.h"  // before foreach_target.h
// clang-format off
#include "hwy/foreach_target.h"  // IWYU pragma: keep
// clang-format on
#include "hwy/highway.h"
#include "hwy/targets.h"

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <string>

#include "backend/cpu/cpu_features.h"
#include "backend/cpu/kernels.h"
#include "core/error.h"

HWY_BEFORE_NAMESPACE();
namespace blip2::cpu::HWY_NAMESPACE {
const char* TargetNameImpl() {
  return hwy::TargetName(HWY_TARGET);
}
}  // namespace blip2::cpu::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace blip2::cpu {

HWY_EXPORT(TargetNameImpl);

std::string active_isa() {
  return HWY_DYNAMIC_DISPATCH(TargetNameImpl)();
}

void set_max_isa(const std::string& isa) {
  std::string name = isa;
  std::transform(name.begin(), name.end(), name.begin(),
                 [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
  int64_t cap = 0;
  MatmulLevel matmul_cap = MatmulLevel::kAmx;
  if (name == "BEST" || name == "AMX") {
    cap = 0;
#if HWY_ARCH_X86
  } else if (name == "AVX3" || name == "AVX512") {
    cap = HWY_AVX3;
    matmul_cap = MatmulLevel::kAvx512;
  } else if (name == "AVX2") {
    cap = HWY_AVX2;
    matmul_cap = MatmulLevel::kAvx2;
  } else if (name == "SSE4") {
    cap = HWY_SSE4;
    matmul_cap = MatmulLevel::kScalar;
#endif
  } else if (name == "EMU128" || name == "SCALAR") {
    cap = HWY_EMU128;
    matmul_cap = MatmulLevel::kScalar;
  } else {
    fail(ErrorKind::kInvalidArgument, "unknown instruction set '", isa,
         "' for set_max_isa; use one of best, AMX, AVX3, AVX2, SSE4, EMU128 (or scalar)");
  }
  set_matmul_level_cap(matmul_cap);
  // Highway target bits: a lower bit is a better target, so "at most `cap`" keeps `cap` and every
  // higher bit. The mock replaces CPU detection until it is reset with 0.
  hwy::SetSupportedTargetsForTest(0);
  if (cap != 0) {
    const int64_t supported = hwy::SupportedTargets();
    int64_t allowed = supported & ~(cap - 1);
    if (allowed == 0) allowed = HWY_EMU128;  // Highway always has a fallback to run
    hwy::SetSupportedTargetsForTest(allowed);
  }
  // Re-select now rather than relying on the next dispatch to notice.
  hwy::GetChosenTarget().Update(hwy::SupportedTargets());
}

}  // namespace blip2::cpu
#endif  // HWY_ONCE
