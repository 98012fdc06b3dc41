// cpu::matmul in every weight format against its scalar twin (ref::matmul: dequantise, then
// multiply in double) at every matrix-kernel level this CPU has (AMX, AVX-512 VNNI, AVX2,
// scalar), with the error bounded by what each format's rounding can explain; and the weight
// quantisers.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "backend/cpu/kernels.h"
#include "backend/cpu/matmul.h"
#include "backend/reference/matmul.h"
#include "core/dtype.h"
#include "core/thread_pool.h"
#include "nn/weight_format.h"
#include "test_util.h"
#include "tolerances.h"

namespace blip2 {
namespace {

// Weights of one format made from random f32 by the quantisers under test (through
// convert_weight, as the model loads them).
struct Weights {
  WeightFormat format;
  int64_t n, k;
  FormattedWeight held;
  cpu::WeightView view() const { return held.view(); }
};

Weights make_weights(WeightFormat f, int64_t n, int64_t k, uint32_t seed) {
  const Tensor w = Tensor::from_floats(
      test::random_normal(static_cast<size_t>(n * k), seed, 0.0f, 0.05f), {n, k});
  Weights out{f, n, k, convert_weight(nullptr, w, f)};
  EXPECT_EQ(out.held.format, f);  // q4 only for k % 32 == 0
  return out;
}

// The matrix-kernel levels, as set_max_isa names them and as active_matmul_isa reports them.
struct Level {
  const char* cap;
  const char* name;
};
const Level kLevels[] = {
    {"AMX", "AMX"}, {"AVX3", "AVX512_VNNI"}, {"AVX2", "AVX2"}, {"EMU128", "scalar"}};

class MatmulLevelTest : public ::testing::TestWithParam<Level> {
 protected:
  void SetUp() override {
    cpu::set_max_isa(GetParam().cap);
    if (cpu::active_matmul_isa() != GetParam().name) {
      cpu::set_max_isa("best");
      GTEST_SKIP() << GetParam().name << " is not available on this CPU";
    }
  }
  void TearDown() override { cpu::set_max_isa("best"); }
};

// |got - want| within the bound the path's rounding explains, for every element.
::testing::AssertionResult check(const Weights& w, int64_t M, const float* x, int64_t ldx,
                                 const float* got, const float* want, int64_t ldy, bool amx,
                                 double extra_rel = 0.0) {
  const cpu::WeightView v = w.view();
  const bool small = M <= cpu::kSmallM;
  for (int64_t m = 0; m < M; ++m)
    for (int64_t n = 0; n < w.n; ++n) {
      const double scale = ref::abs_dot(v, x + m * ldx, n);
      double bound = (w.k + 4) * test::tol::kF32SumPerTerm * scale + extra_rel * scale + 1e-30;
      const bool quantized = w.format == WeightFormat::kInt8 || w.format == WeightFormat::kQ4;
      if (small && quantized) bound += ref::q8_activation_bound(v, x + m * ldx, n);
      if (!small && amx) bound += test::tol::kAmxRounding * scale;
      const double g = got[m * ldy + n], e = want[m * ldy + n];
      if (!(std::fabs(g - e) <= bound))
        return ::testing::AssertionFailure()
               << weight_format_name(w.format) << " M=" << M << " N=" << w.n << " K=" << w.k
               << ": y[" << m << ", " << n << "] = " << g << ", want " << e << " (error "
               << std::fabs(g - e) << " > bound " << bound << ")";
    }
  return ::testing::AssertionSuccess();
}

struct Shape {
  int64_t M, N, K;
};

void run_shapes(WeightFormat f, const std::vector<Shape>& shapes) {
  const bool amx = cpu::active_matmul_isa() == "AMX";
  ThreadPool pool(2);
  uint32_t seed = 10;
  for (const Shape& s : shapes) {
    const Weights w = make_weights(f, s.N, s.K, seed++);
    const int64_t ldx = s.K + 3, ldy = s.N + 5;  // padded rows
    const auto x = test::random_normal(static_cast<size_t>(s.M * ldx), seed++);
    std::vector<float> got(static_cast<size_t>(s.M * ldy), std::numeric_limits<float>::quiet_NaN());
    std::vector<float> want = got;
    cpu::matmul(pool, w.view(), s.M, x.data(), ldx, got.data(), ldy);
    ref::matmul(w.view(), s.M, x.data(), ldx, want.data(), ldy);
    ASSERT_TRUE(check(w, s.M, x.data(), ldx, got.data(), want.data(), ldy, amx));
  }
}

// Decode-sized products: every tile shape (1-4 activation rows x 1-4 weight rows) and tails.
std::vector<Shape> small_shapes(bool q4) {
  std::vector<Shape> out;
  const std::vector<int64_t> ks =
      q4 ? std::vector<int64_t>{32, 64, 96, 128, 160, 384, 2048}
         : std::vector<int64_t>{1, 3, 17, 31, 32, 33, 63, 64, 65, 127, 129, 1001};
  for (int64_t M : {1, 2, 3, 4, 5, 8})
    for (int64_t N : {1, 2, 3, 5, 7, 33})
      for (int64_t K : ks) out.push_back({M, N, K});
  out.push_back({1, 1000, 2048});  // split over the pool
  out.push_back({5, 517, q4 ? 512 : 515});
  return out;
}

// Vision / prefill-sized products: row-block and column-panel tails of the AMX and dequantise
// paths.
std::vector<Shape> large_shapes(bool q4) {
  std::vector<Shape> out;
  for (int64_t M : {9, 16, 17, 33, 64, 257})
    for (int64_t N : {1, 15, 16, 17, 32, 33, 100})
      for (int64_t K :
           q4 ? std::vector<int64_t>{32, 96, 256} : std::vector<int64_t>{1, 31, 32, 100, 256})
        out.push_back({M, N, K});
  out.push_back({257, 200, q4 ? 1408 : 1411});
  return out;
}

TEST_P(MatmulLevelTest, Bf16MatchesTheScalarTwin) {
  run_shapes(WeightFormat::kBF16, small_shapes(false));
  run_shapes(WeightFormat::kBF16, large_shapes(false));
}

TEST_P(MatmulLevelTest, Int8MatchesTheScalarTwin) {
  run_shapes(WeightFormat::kInt8, small_shapes(false));
  run_shapes(WeightFormat::kInt8, large_shapes(false));
}

TEST_P(MatmulLevelTest, Q4MatchesTheScalarTwin) {
  run_shapes(WeightFormat::kQ4, small_shapes(true));
  run_shapes(WeightFormat::kQ4, large_shapes(true));
}

TEST_P(MatmulLevelTest, F32MatchesTheScalarTwin) {
  run_shapes(WeightFormat::kF32, {{1, 7, 33}, {3, 100, 65}, {17, 33, 257}, {257, 64, 100}});
}

// The SIMD levels make the same integer sums as the scalar level.
TEST_P(MatmulLevelTest, QuantizedSmallMEqualsTheScalarLevel) {
  ThreadPool pool(1);
  for (WeightFormat f : {WeightFormat::kInt8, WeightFormat::kQ4}) {
    for (const Shape s : {Shape{1, 9, 2560}, Shape{4, 6, 480}, Shape{7, 5, 1024}}) {
      const Weights w = make_weights(f, s.N, s.K, 3);
      const auto x = test::random_normal(static_cast<size_t>(s.M * s.K), 4);
      std::vector<float> got(static_cast<size_t>(s.M * s.N)), want = got;
      cpu::matmul(pool, w.view(), s.M, x.data(), s.K, got.data(), s.N);
      const std::string level = GetParam().cap;
      cpu::set_max_isa("scalar");
      cpu::matmul(pool, w.view(), s.M, x.data(), s.K, want.data(), s.N);
      cpu::set_max_isa(level);
      for (int64_t m = 0; m < s.M; ++m)
        for (int64_t n = 0; n < s.N; ++n) {
          const double scale = ref::abs_dot(w.view(), x.data() + m * s.K, n);
          EXPECT_NEAR(got[m * s.N + n], want[m * s.N + n], test::tol::kCrossLevelRel * scale)
              << weight_format_name(f) << " [" << m << ", " << n << "]";
        }
    }
  }
}

// alpha, beta (residual), bias and each activation, on both the small and the large paths.
TEST_P(MatmulLevelTest, EpilogueMatchesTheScalarTwin) {
  const bool amx = cpu::active_matmul_isa() == "AMX";
  ThreadPool pool(2);
  const cpu::Act acts[] = {cpu::Act::kNone, cpu::Act::kGelu, cpu::Act::kGeluTanh, cpu::Act::kRelu};
  for (WeightFormat f :
       {WeightFormat::kF32, WeightFormat::kBF16, WeightFormat::kInt8, WeightFormat::kQ4}) {
    for (int64_t M : {1, 3, 40}) {
      const int64_t N = 37, K = 96, ldy = N + 2;
      const Weights w = make_weights(f, N, K, 7);
      const auto x = test::random_normal(static_cast<size_t>(M * K), 8);
      const auto bias = test::random_normal(static_cast<size_t>(N), 9);
      const auto y0 = test::random_normal(static_cast<size_t>(M * ldy), 10);
      for (cpu::Act act : acts) {
        for (float beta : {0.0f, 1.0f, 0.5f}) {
          cpu::MatmulEpilogue ep;
          ep.alpha = 0.75f;
          ep.beta = beta;
          ep.bias = bias.data();
          ep.activation = act;
          auto got = y0, want = y0;
          cpu::matmul(pool, w.view(), M, x.data(), K, got.data(), ldy, ep);
          ref::matmul(w.view(), M, x.data(), K, want.data(), ldy, ep);
          // The activations' own error (kGeluAbsPerMaxOneX) on top of the product's; GELU and
          // ReLU have slope <= 1.13, so the product's bound carries over scaled by 1.2.
          for (int64_t m = 0; m < M; ++m)
            for (int64_t n = 0; n < N; ++n) {
              const double scale = ref::abs_dot(w.view(), x.data() + m * K, n);
              double bound = (K + 4) * test::tol::kF32SumPerTerm * scale + 1e-6;
              const bool quantized = f == WeightFormat::kInt8 || f == WeightFormat::kQ4;
              if (M <= cpu::kSmallM && quantized)
                bound += ref::q8_activation_bound(w.view(), x.data() + m * K, n);
              if (M > cpu::kSmallM && amx && f != WeightFormat::kF32)
                bound += test::tol::kAmxRounding * scale;
              bound = 1.2 * 0.75 * bound + test::tol::kGeluAbsPerMaxOneX * 4;
              EXPECT_NEAR(got[m * ldy + n], want[m * ldy + n], bound)
                  << weight_format_name(f) << " M=" << M << " act=" << int(act) << " beta=" << beta
                  << " [" << m << ", " << n << "]";
            }
          // Padding between rows is never written.
          for (int64_t m = 0; m < M; ++m)
            for (int64_t n = N; n < ldy; ++n) EXPECT_EQ(got[m * ldy + n], y0[m * ldy + n]);
        }
      }
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Levels, MatmulLevelTest, ::testing::ValuesIn(kLevels),
                         [](const ::testing::TestParamInfo<Level>& info) {
                           return std::string(info.param.name);
                         });

// ----------------------------------------------------------------------------- quantisers

TEST(Quantize, Int8EqualsThePlainFormula) {
  const int64_t n = 13, k = 301;
  auto w = test::random_normal(static_cast<size_t>(n * k), 1);
  w[5] = 0.0f;
  for (int64_t i = 0; i < k; ++i) w[static_cast<size_t>(3 * k + i)] = 0.0f;  // an all-zero row
  std::vector<int8_t> q(w.size()), q_ref(w.size());
  std::vector<float> s(static_cast<size_t>(n)), s_ref(s.size());
  cpu::quantize_int8_rows(w.data(), n, k, q.data(), s.data());
  ref::quantize_int8_rows(w.data(), n, k, q_ref.data(), s_ref.data());
  EXPECT_EQ(q, q_ref);
  EXPECT_EQ(s, s_ref);
  EXPECT_EQ(s[3], 0.0f);
  // Round to nearest: every weight within half a step.
  for (int64_t r = 0; r < n; ++r)
    for (int64_t i = 0; i < k; ++i)
      EXPECT_LE(std::fabs(w[r * k + i] - q[r * k + i] * s[r]), s[r] * 0.5f * (1 + 1e-6f) + 1e-30f);
}

TEST(Quantize, Q4IsNoWorseThanTheMaxScale) {
  const int64_t n = 7, k = 256;
  auto w = test::random_normal(static_cast<size_t>(n * k), 2);
  for (int i = 0; i < 32; ++i) w[static_cast<size_t>(k + i)] = 0.0f;  // an all-zero block
  std::vector<uint8_t> q(w.size() / 2);
  std::vector<uint16_t> s(static_cast<size_t>(n * k / 32));
  cpu::quantize_q4_rows(w.data(), n, k, q.data(), s.data());
  const cpu::WeightView v = cpu::WeightView::q4(q.data(), s.data(), n, k);
  for (int64_t r = 0; r < n; ++r)
    for (int64_t b = 0; b < k / 32; ++b) {
      // The plain Q4_0 choice: scale = (signed max magnitude) / -8, f16-rounded.
      float amax = 0.0f, smax = 0.0f;
      for (int i = 0; i < 32; ++i)
        if (std::fabs(w[r * k + b * 32 + i]) > amax) {
          amax = std::fabs(w[r * k + b * 32 + i]);
          smax = w[r * k + b * 32 + i];
        }
      const float d0 = f16_to_f32(f32_to_f16(smax / -8.0f));
      double err = 0.0, err0 = 0.0;
      for (int i = 0; i < 32; ++i) {
        const float x = w[r * k + b * 32 + i];
        const float q0 = d0 != 0.0f ? std::clamp(std::nearbyint(x / d0), -8.0f, 7.0f) : 0.0f;
        err0 += (x - q0 * d0) * (x - q0 * d0);
        const float y = ref::weight_at(v, r, b * 32 + i);
        err += (x - y) * (x - y);
      }
      EXPECT_LE(err, err0 * (1 + 1e-5) + 1e-12) << "row " << r << " block " << b;
    }
  EXPECT_EQ(ref::weight_at(v, 1, 0), 0.0f);
}

TEST(Quantize, Q4LayoutOfAKnownBlock) {
  // w = (i - 8) * 0.5 for i in 0..31 clipped to [-8, 7] * 0.5: the scale 0.5 is exact.
  std::vector<float> w(32);
  for (int i = 0; i < 32; ++i) w[i] = static_cast<float>((i % 16) - 8) * 0.5f;
  std::vector<uint8_t> q(16);
  uint16_t s = 0;
  cpu::quantize_q4_rows(w.data(), 1, 32, q.data(), &s);
  EXPECT_EQ(f16_to_f32(s), 0.5f);
  for (int j = 0; j < 16; ++j) EXPECT_EQ(q[j], (j & 0x0f) | ((j & 0x0f) << 4)) << j;
}

TEST(Quantize, DequantizeRowsEqualsTheTwin) {
  for (WeightFormat f :
       {WeightFormat::kF32, WeightFormat::kBF16, WeightFormat::kInt8, WeightFormat::kQ4}) {
    const Weights w = make_weights(f, 5, 96, 3);
    std::vector<float> out(static_cast<size_t>(3 * 96));
    cpu::dequantize_rows(w.view(), 1, 4, out.data());
    for (int64_t n = 1; n < 4; ++n)
      for (int64_t k = 0; k < 96; ++k)
        EXPECT_EQ(out[(n - 1) * 96 + k], ref::weight_at(w.view(), n, k)) << weight_format_name(f);
  }
}

TEST(MatmulDispatch, LevelsFollowSetMaxIsa) {
  cpu::set_max_isa("scalar");
  EXPECT_EQ(cpu::active_matmul_isa(), "scalar");
  cpu::set_max_isa("best");
  const std::string best = cpu::active_matmul_isa();
  if (__builtin_cpu_supports("avx512vnni") && __builtin_cpu_supports("avx512bw")) {
    EXPECT_TRUE(best == "AVX512_VNNI" || best == "AMX") << best;
    cpu::set_max_isa("AVX3");
    EXPECT_EQ(cpu::active_matmul_isa(), "AVX512_VNNI");
  }
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) {
    cpu::set_max_isa("AVX2");
    EXPECT_EQ(cpu::active_matmul_isa(), "AVX2");
  }
  cpu::set_max_isa("best");
  EXPECT_EQ(cpu::active_matmul_isa(), best);
}

}  // namespace
}  // namespace blip2
