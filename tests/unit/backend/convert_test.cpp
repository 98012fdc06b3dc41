// f16/bf16 <-> f32 conversions against core/dtype.h's scalar conversions, bit for bit (NaN only
// needs to stay NaN: hardware and software pick different NaN payloads), at every dispatch level.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <sstream>
#include <vector>

#include "backend/cpu/kernels.h"
#include "backend/reference/kernels.h"
#include "test_util.h"

namespace blip2 {
namespace {

class Convert : public test::IsaTest {};
BLIP2_INSTANTIATE_ISA_TESTS(Convert);

bool is_nan16(uint16_t h, bool bf16) {
  return bf16 ? (h & 0x7fff) > 0x7f80 : (h & 0x7fff) > 0x7c00;
}

::testing::AssertionResult same_floats(const std::vector<float>& got,
                                       const std::vector<float>& want) {
  for (size_t i = 0; i < got.size(); ++i) {
    if (std::isnan(want[i]) && std::isnan(got[i])) continue;
    if (std::memcmp(&got[i], &want[i], 4) != 0)
      return ::testing::AssertionFailure()
             << "at [" << i << "]: got " << got[i] << ", want " << want[i];
  }
  return ::testing::AssertionSuccess();
}

::testing::AssertionResult same_halves(const std::vector<float>& in,
                                       const std::vector<uint16_t>& got,
                                       const std::vector<uint16_t>& want, bool bf16) {
  for (size_t i = 0; i < got.size(); ++i) {
    if (is_nan16(want[i], bf16) && is_nan16(got[i], bf16)) continue;
    if (got[i] != want[i]) {
      // One stream: AssertionResult formats each << separately, so std::hex would not stick.
      std::ostringstream os;
      os << "at [" << i << "] input " << in[i] << std::hex << ": got 0x" << got[i] << ", want 0x"
         << want[i];
      return ::testing::AssertionFailure() << os.str();
    }
  }
  return ::testing::AssertionSuccess();
}

TEST_P(Convert, WideningAllSixteenBitPatterns) {
  std::vector<uint16_t> h(65536 + 1);
  for (uint32_t i = 0; i < 65536; ++i) h[i + 1] = static_cast<uint16_t>(i);
  // Offset by one element: unaligned input, and a tail after the last whole vector.
  std::vector<float> got(65536), want(65536);
  cpu::f16_to_f32(h.data() + 1, got.data(), 65536);
  ref::f16_to_f32(h.data() + 1, want.data(), 65536);
  EXPECT_TRUE(same_floats(got, want)) << "f16";
  cpu::bf16_to_f32(h.data() + 1, got.data(), 65536);
  ref::bf16_to_f32(h.data() + 1, want.data(), 65536);
  EXPECT_TRUE(same_floats(got, want)) << "bf16";
  for (int64_t n : {1, 3, 17, 63}) {  // short arrays: only the tail path
    std::vector<float> g(static_cast<size_t>(n)), w(static_cast<size_t>(n));
    cpu::f16_to_f32(h.data() + 15000, g.data(), n);
    ref::f16_to_f32(h.data() + 15000, w.data(), n);
    EXPECT_TRUE(same_floats(g, w)) << "f16 n=" << n;
  }
}

std::vector<float> narrowing_inputs() {
  std::vector<float> x;
  std::mt19937 rng(21);
  std::uniform_int_distribution<uint32_t> bits;
  for (int i = 0; i < 1000000; ++i) {
    const uint32_t b = bits(rng);
    float f;
    std::memcpy(&f, &b, 4);
    x.push_back(f);
  }
  // Values that f16/bf16 represent well (random bits are mostly out of f16 range).
  for (float f : test::random_normal(200000, 22, 0.0f, 100.0f)) x.push_back(f);
  for (float f : test::random_normal(200000, 23, 0.0f, 1e-5f)) x.push_back(f);
  // Boundaries: smallest f16 subnormal and half of it, ties, largest finite and overflow,
  // smallest normal, bf16 ties, infinities, NaNs.
  for (float f :
       {0.0f, 5.96046448e-8f, 2.98023224e-8f, 2.98023259e-8f, 8.94069672e-8f, 65504.0f, 65519.0f,
        65520.0f, 6.10351562e-5f, 6.09755516e-5f, 1.00390625f, 1.01171875f, 3.3895314e38f,
        std::numeric_limits<float>::max(), std::numeric_limits<float>::infinity(),
        std::numeric_limits<float>::quiet_NaN(), std::numeric_limits<float>::signaling_NaN(),
        std::numeric_limits<float>::denorm_min()}) {
    x.push_back(f);
    x.push_back(-f);
  }
  return x;
}

TEST_P(Convert, NarrowingRoundsToNearestEven) {
  const auto x = narrowing_inputs();
  const int64_t n = static_cast<int64_t>(x.size());
  std::vector<uint16_t> got(x.size()), want(x.size());
  cpu::f32_to_f16(x.data(), got.data(), n);
  ref::f32_to_f16(x.data(), want.data(), n);
  EXPECT_TRUE(same_halves(x, got, want, false)) << "f16";
  cpu::f32_to_bf16(x.data(), got.data(), n);
  ref::f32_to_bf16(x.data(), want.data(), n);
  EXPECT_TRUE(same_halves(x, got, want, true)) << "bf16";
  // NaN stays NaN (and does not round into an infinity).
  for (size_t i = 0; i < x.size(); ++i) {
    if (!std::isnan(x[i])) continue;
    ASSERT_TRUE(is_nan16(got[i], true)) << i;
  }
}

TEST_P(Convert, NarrowingTailsWriteOnlyTheirElements) {
  const auto x = test::random_normal(70, 24);
  for (int64_t n : {1, 3, 17, 63}) {
    std::vector<uint16_t> got(80, 0xabcd), want(80, 0xabcd);
    cpu::f32_to_f16(x.data() + 1, got.data() + 1, n);
    ref::f32_to_f16(x.data() + 1, want.data() + 1, n);
    EXPECT_EQ(got, want) << "f16 n=" << n;
    cpu::f32_to_bf16(x.data() + 1, got.data() + 1, n);
    ref::f32_to_bf16(x.data() + 1, want.data() + 1, n);
    EXPECT_EQ(got, want) << "bf16 n=" << n;
  }
}

}  // namespace
}  // namespace blip2
