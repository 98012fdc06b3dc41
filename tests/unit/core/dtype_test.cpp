#include <gtest/gtest.h>
#include <immintrin.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <random>

#include "core/dtype.h"

namespace blip2 {
namespace {

// The oracle for f16 is the hardware conversion (F16C), which every AVX2 machine has.
__attribute__((target("f16c"))) uint16_t hw_f32_to_f16(float f) {
  return static_cast<uint16_t>(_cvtss_sh(f, _MM_FROUND_TO_NEAREST_INT));
}
__attribute__((target("f16c"))) float hw_f16_to_f32(uint16_t h) {
  return _cvtsh_ss(h);
}

TEST(DType, F16MatchesHardwareForAllHalfValues) {
  if (!__builtin_cpu_supports("f16c")) GTEST_SKIP() << "no F16C";
  for (uint32_t h = 0; h < 65536; ++h) {
    const float want = hw_f16_to_f32(static_cast<uint16_t>(h));
    const float got = f16_to_f32(static_cast<uint16_t>(h));
    if (std::isnan(want)) {
      EXPECT_TRUE(std::isnan(got));
    } else {
      ASSERT_EQ(std::memcmp(&want, &got, 4), 0) << "h=" << h;
    }
  }
}

TEST(DType, F32ToF16RoundsLikeHardware) {
  if (!__builtin_cpu_supports("f16c")) GTEST_SKIP() << "no F16C";
  std::mt19937 rng(7);
  std::uniform_int_distribution<uint32_t> bits;
  for (int i = 0; i < 2000000; ++i) {
    uint32_t b = bits(rng);
    float f;
    std::memcpy(&f, &b, 4);
    if (std::isnan(f)) continue;
    ASSERT_EQ(f32_to_f16(f), hw_f32_to_f16(f)) << "bits=" << b;
  }
  // Boundaries: around the smallest subnormal and the largest finite half.
  for (float f : {5.96046448e-8f, 2.98023224e-8f, 2.98023259e-8f, 65504.0f, 65519.0f, 65520.0f,
                  6.10351562e-5f, 6.09755516e-5f}) {
    EXPECT_EQ(f32_to_f16(f), hw_f32_to_f16(f)) << f;
    EXPECT_EQ(f32_to_f16(-f), hw_f32_to_f16(-f)) << -f;
  }
}

TEST(DType, BF16RoundsToNearestEven) {
  EXPECT_EQ(f32_to_bf16(1.0f), 0x3f80);
  // 1 + 2^-8 is exactly halfway between two bf16 values: ties to even (down).
  EXPECT_EQ(f32_to_bf16(1.00390625f), 0x3f80);
  // 1 + 3*2^-8 is halfway too, the even neighbour is above.
  EXPECT_EQ(f32_to_bf16(1.01171875f), 0x3f82);
  EXPECT_EQ(bf16_to_f32(0x3f80), 1.0f);
  EXPECT_TRUE(std::isnan(bf16_to_f32(f32_to_bf16(std::numeric_limits<float>::quiet_NaN()))));
}

TEST(DType, Names) {
  EXPECT_EQ(dtype_from_name("BF16"), DType::kBF16);
  EXPECT_FALSE(dtype_from_name("F8_E4M3").has_value());
  EXPECT_EQ(dtype_from_user_string("float16"), DType::kF16);
  EXPECT_EQ(dtype_size(DType::kI64), 8u);
}

}  // namespace
}  // namespace blip2
