// The dispatch controls: the default level is the best the CPU has, set_max_isa caps it, and
// unknown names are refused with a clear error.
#include <gtest/gtest.h>

#include <string>

#include "backend/cpu/kernels.h"
#include "core/error.h"

namespace blip2 {
namespace {

TEST(Dispatch, CapsAndRestoresTheInstructionSet) {
  cpu::set_max_isa("best");
  const std::string best = cpu::active_isa();
  if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
      __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl")) {
    EXPECT_EQ(best, "AVX3");
  } else if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) {
    EXPECT_EQ(best, "AVX2");
  }
  // The portable fallback: EMU128, or SCALAR where Highway disables EMU128 (GCC < 12.3).
  const auto is_fallback = [](const std::string& isa) {
    return isa == "EMU128" || isa == "SCALAR";
  };
  cpu::set_max_isa("emu128");
  EXPECT_PRED1(is_fallback, cpu::active_isa());
  cpu::set_max_isa("scalar");
  EXPECT_PRED1(is_fallback, cpu::active_isa());
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) {
    cpu::set_max_isa("AVX2");
    EXPECT_EQ(cpu::active_isa(), "AVX2");
  }
  if (__builtin_cpu_supports("sse4.2")) {
    cpu::set_max_isa("SSE4");
    EXPECT_EQ(cpu::active_isa(), "SSE4");
  }
  cpu::set_max_isa("best");
  EXPECT_EQ(cpu::active_isa(), best);
}

TEST(Dispatch, UnknownNameIsRefused) {
  try {
    cpu::set_max_isa("avx9000");
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kInvalidArgument);
    EXPECT_NE(std::string(e.what()).find("avx9000"), std::string::npos) << e.what();
  }
  cpu::set_max_isa("best");
}

}  // namespace
}  // namespace blip2
