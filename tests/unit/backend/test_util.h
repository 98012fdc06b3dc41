// Helpers for the backend kernel tests: random inputs, tolerance checks that name the worst
// element, and a fixture that runs a test once per SIMD dispatch level.
#pragma once

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "backend/cpu/kernels.h"

namespace blip2::test {

inline std::vector<float> random_normal(size_t n, uint32_t seed, float mean = 0.0f,
                                        float stddev = 1.0f) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> dist(mean, stddev);
  std::vector<float> v(n);
  for (auto& x : v) x = dist(rng);
  return v;
}

inline std::vector<float> random_uniform(size_t n, uint32_t seed, float lo, float hi) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(lo, hi);
  std::vector<float> v(n);
  for (auto& x : v) x = dist(rng);
  return v;
}

// Passes when |got - want| <= atol + rtol * |want| for every element (NaN must match NaN).
// The message names the first failing index and the largest error seen.
inline ::testing::AssertionResult all_near(const float* got, const float* want, int64_t n,
                                           double atol, double rtol) {
  int64_t first_bad = -1, worst = -1;
  double worst_err = 0.0;
  for (int64_t i = 0; i < n; ++i) {
    const double g = got[i], w = want[i];
    bool ok;
    double err;
    if (std::isnan(w) || std::isnan(g)) {
      ok = std::isnan(w) && std::isnan(g);
      err = ok ? 0.0 : INFINITY;
    } else if (std::isinf(w) || std::isinf(g)) {
      ok = g == w;
      err = ok ? 0.0 : INFINITY;
    } else {
      err = std::fabs(g - w);
      ok = err <= atol + rtol * std::fabs(w);
    }
    if (!ok && first_bad < 0) first_bad = i;
    if (err > worst_err) {
      worst_err = err;
      worst = i;
    }
  }
  if (first_bad < 0) return ::testing::AssertionSuccess();
  std::ostringstream os;
  os.precision(9);
  os << "first mismatch at [" << first_bad << "]: got " << got[first_bad] << ", want "
     << want[first_bad] << " (atol " << atol << ", rtol " << rtol << "); largest error "
     << worst_err << " at [" << worst << "]: got " << got[worst] << ", want " << want[worst];
  return ::testing::AssertionFailure() << os.str();
}

inline ::testing::AssertionResult all_near(const std::vector<float>& got,
                                           const std::vector<float>& want, double atol,
                                           double rtol) {
  if (got.size() != want.size())
    return ::testing::AssertionFailure() << "size " << got.size() << " != " << want.size();
  return all_near(got.data(), want.data(), static_cast<int64_t>(got.size()), atol, rtol);
}

// The dispatch levels the SIMD kernels are tested at. A level this CPU lacks is skipped.
inline const std::string kIsaLevels[] = {"AVX3", "AVX2", "SSE4", "EMU128"};

// Runs each TEST_P once per dispatch level, restoring the best level afterwards.
class IsaTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    cpu::set_max_isa(GetParam());
    const std::string active = cpu::active_isa();
    // The portable fallback is EMU128, or SCALAR where Highway disables EMU128 (GCC < 12.3).
    const bool fallback = GetParam() == "EMU128" && active == "SCALAR";
    if (active != GetParam() && !fallback) {
      cpu::set_max_isa("best");
      GTEST_SKIP() << GetParam() << " is not available on this CPU";
    }
  }
  void TearDown() override { cpu::set_max_isa("best"); }
};

// Test names end in the level: Isa/Norm.SoftmaxMatchesReference/AVX2.
#define BLIP2_INSTANTIATE_ISA_TESTS(suite)                        \
  INSTANTIATE_TEST_SUITE_P(                                       \
      Isa, suite, ::testing::ValuesIn(::blip2::test::kIsaLevels), \
      [](const ::testing::TestParamInfo<std::string>& info) { return info.param; })

}  // namespace blip2::test
