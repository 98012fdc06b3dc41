// GELU (both forms), erf, ReLU, add, mul, scale, bias rows and the embedding gather against
// their scalar twins, at every dispatch level.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "backend/cpu/kernels.h"
#include "backend/reference/kernels.h"
#include "core/thread_pool.h"
#include "test_util.h"
#include "tolerances.h"

namespace blip2 {
namespace {

using test::all_near;
namespace tol = test::tol;

class Elementwise : public test::IsaTest {};
BLIP2_INSTANTIATE_ISA_TESTS(Elementwise);

const int64_t kSizes[] = {1, 3, 17, 63, 257, 1001, 100003, 300007};

// A dense sweep of [-lo, hi] plus special values.
std::vector<float> sweep(float lo, float hi, int steps) {
  std::vector<float> x;
  for (int i = 0; i <= steps; ++i) x.push_back(lo + (hi - lo) * float(i) / float(steps));
  for (float v : {0.0f, -0.0f, 1e-30f, -1e-30f, 1e-7f, -1e-7f, 0.75f, -0.75f, 1e30f, -1e30f,
                  std::numeric_limits<float>::max(), -std::numeric_limits<float>::max(),
                  std::numeric_limits<float>::denorm_min(), std::numeric_limits<float>::infinity(),
                  -std::numeric_limits<float>::infinity(), std::numeric_limits<float>::quiet_NaN()})
    x.push_back(v);
  return x;
}

// max over i of |got - want| / max(1, |x|), the brief's GELU error measure. Non-finite results
// must match exactly (NaN with NaN); a mismatch counts as an infinite error.
double gelu_scaled_error(const std::vector<float>& x, const std::vector<float>& got,
                         const std::vector<float>& want, size_t* worst) {
  double err = 0.0;
  for (size_t i = 0; i < x.size(); ++i) {
    double e;
    if (!std::isfinite(want[i]) || !std::isfinite(got[i])) {
      const bool same = (std::isnan(want[i]) && std::isnan(got[i])) || want[i] == got[i];
      e = same ? 0.0 : INFINITY;
    } else {
      e = std::fabs(double(got[i]) - want[i]) / std::max(1.0, std::fabs(double(x[i])));
    }
    if (e > err) {
      err = e;
      *worst = i;
    }
  }
  return err;
}

TEST_P(Elementwise, GeluErfWithinBoundEverywhere) {
  ThreadPool pool(2);
  const auto x = sweep(-30.0f, 30.0f, 600000);
  auto got = x, want = x;
  cpu::gelu_erf(pool, got.data(), static_cast<int64_t>(got.size()));
  ref::gelu_erf(want.data(), static_cast<int64_t>(want.size()));
  size_t worst = 0;
  const double err = gelu_scaled_error(x, got, want, &worst);
  EXPECT_LE(err, tol::kGeluAbsPerMaxOneX)
      << "x=" << x[worst] << " got " << got[worst] << " want " << want[worst];
}

// Where GELU is tiny (x << 0) an erf-based 1 + erf(u) would cancel; the erfc form keeps the
// relative error small all the way down to the f32 underflow.
TEST_P(Elementwise, GeluErfRelativeErrorForNegativeInputs) {
  ThreadPool pool(1);
  const auto x = sweep(-13.0f, -1.0f, 200000);
  auto got = x, want = x;
  cpu::gelu_erf(pool, got.data(), static_cast<int64_t>(got.size()));
  ref::gelu_erf(want.data(), static_cast<int64_t>(want.size()));
  double worst_rel = 0.0;
  float worst_x = 0.0f;
  for (size_t i = 0; i <= 200000; ++i) {  // the sweep part only
    if (want[i] == 0.0f || std::fabs(want[i]) < std::numeric_limits<float>::min()) continue;
    const double rel = std::fabs(double(got[i]) - want[i]) / std::fabs(double(want[i]));
    if (rel > worst_rel) {
      worst_rel = rel;
      worst_x = x[i];
    }
  }
  EXPECT_LE(worst_rel, tol::kGeluErfNegativeRel) << "at x=" << worst_x;
}

TEST_P(Elementwise, GeluTanhWithinBoundEverywhere) {
  ThreadPool pool(2);
  const auto x = sweep(-30.0f, 30.0f, 600000);
  auto got = x, want = x;
  cpu::gelu_tanh(pool, got.data(), static_cast<int64_t>(got.size()));
  ref::gelu_tanh(want.data(), static_cast<int64_t>(want.size()));
  size_t worst = 0;
  const double err = gelu_scaled_error(x, got, want, &worst);
  EXPECT_LE(err, tol::kGeluAbsPerMaxOneX)
      << "x=" << x[worst] << " got " << got[worst] << " want " << want[worst];
}

TEST_P(Elementwise, ErfMaxAbsErrorOverRealLine) {
  ThreadPool pool(2);
  const auto x = sweep(-10.0f, 10.0f, 1000000);
  auto got = x, want = x;
  cpu::erf(pool, got.data(), static_cast<int64_t>(got.size()));
  ref::erf(want.data(), static_cast<int64_t>(want.size()));
  EXPECT_TRUE(all_near(got, want, tol::kErfAbs, 0.0));
  // Small arguments keep their relative precision (erf(x) ~ 2x/sqrt(pi)).
  for (float v : {1e-30f, -1e-20f, 1e-7f, 3e-4f}) {
    float y = v;
    cpu::erf(pool, &y, 1);
    EXPECT_NEAR(y / v, 1.1283791670955126, 1e-6) << v;
  }
  float nan = std::numeric_limits<float>::quiet_NaN();
  cpu::erf(pool, &nan, 1);
  EXPECT_TRUE(std::isnan(nan));
}

TEST_P(Elementwise, GeluOddSizesAndTails) {
  ThreadPool pool(2);
  for (int64_t n : kSizes) {
    const auto x = test::random_normal(static_cast<size_t>(n), 11, 0.0f, 3.0f);
    auto got = x, want = x;
    cpu::gelu_erf(pool, got.data(), n);
    ref::gelu_erf(want.data(), n);
    EXPECT_TRUE(all_near(got, want, tol::kGeluAbsPerMaxOneX, 0.0)) << "gelu_erf n=" << n;
    got = want = x;
    cpu::gelu_tanh(pool, got.data(), n);
    ref::gelu_tanh(want.data(), n);
    EXPECT_TRUE(all_near(got, want, tol::kGeluAbsPerMaxOneX, 0.0)) << "gelu_tanh n=" << n;
  }
}

// Exact kernels: the fast and the scalar version must agree bit for bit.
TEST_P(Elementwise, ReluAddMulScaleAreExact) {
  ThreadPool pool(2);
  for (int64_t n : kSizes) {
    const size_t sz = static_cast<size_t>(n);
    auto a = test::random_normal(sz + 1, 12);
    const auto b = test::random_normal(sz + 1, 13);
    a[0] = -0.0f;
    if (n > 2) a[2] = std::numeric_limits<float>::quiet_NaN();
    // Offsets of one float make every array unaligned.
    auto got = a, want = a;
    cpu::relu(pool, got.data() + 1, n);
    ref::relu(want.data() + 1, n);
    EXPECT_TRUE(all_near(got, want, 0.0, 0.0)) << "relu n=" << n;
    if (n > 2) {
      EXPECT_TRUE(std::isnan(got[2])) << "relu keeps NaN";
    }

    std::vector<float> y(sz + 1, 7.0f), y_ref(sz + 1, 7.0f);
    cpu::add(pool, a.data() + 1, b.data() + 1, y.data() + 1, n);
    ref::add(a.data() + 1, b.data() + 1, y_ref.data() + 1, n);
    EXPECT_TRUE(all_near(y, y_ref, 0.0, 0.0)) << "add n=" << n;
    cpu::mul(pool, a.data() + 1, b.data() + 1, y.data() + 1, n);
    ref::mul(a.data() + 1, b.data() + 1, y_ref.data() + 1, n);
    EXPECT_TRUE(all_near(y, y_ref, 0.0, 0.0)) << "mul n=" << n;

    // Aliased output (y == a, y == b).
    got = a, want = a;
    cpu::add(pool, got.data(), b.data(), got.data(), n);
    ref::add(want.data(), b.data(), want.data(), n);
    EXPECT_TRUE(all_near(got, want, 0.0, 0.0)) << "add in place n=" << n;
    auto gb = b, wb = b;
    cpu::mul(pool, a.data(), gb.data(), gb.data(), n);
    ref::mul(a.data(), wb.data(), wb.data(), n);
    EXPECT_TRUE(all_near(gb, wb, 0.0, 0.0)) << "mul in place n=" << n;

    got = want = a;
    cpu::scale(got.data() + 1, -0.37f, n);
    ref::scale(want.data() + 1, -0.37f, n);
    EXPECT_TRUE(all_near(got, want, 0.0, 0.0)) << "scale n=" << n;
  }
}

TEST(Embedding, GathersRows) {
  const int64_t dim = 13, rows = 50;
  const auto table = test::random_normal(static_cast<size_t>(rows * dim), 16);
  const std::vector<int32_t> ids = {0, 49, 7, 7, 23};
  std::vector<float> got(ids.size() * dim), want(ids.size() * dim);
  cpu::embedding(table.data(), dim, ids.data(), static_cast<int64_t>(ids.size()), got.data());
  ref::embedding(table.data(), dim, ids.data(), static_cast<int64_t>(ids.size()), want.data());
  EXPECT_EQ(got, want);
  EXPECT_EQ(got[dim], table[49 * dim]);
}

}  // namespace
}  // namespace blip2
