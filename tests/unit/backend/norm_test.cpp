// LayerNorm, RMS norm, softmax and log-softmax against their scalar twins, at every dispatch
// level, with odd row lengths (tails shorter than a vector), in place and out of place.
#include <gtest/gtest.h>

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

class Norm : public test::IsaTest {};
BLIP2_INSTANTIATE_ISA_TESTS(Norm);

const int64_t kCols[] = {1, 3, 17, 63, 257, 1001};

TEST_P(Norm, LayerNormMatchesReference) {
  ThreadPool pool(2);
  for (int64_t cols : kCols) {
    for (int64_t rows : {1, 5, 130}) {
      const size_t n = static_cast<size_t>(rows * cols);
      // A large mean and spread in the data exercise the two-pass variance.
      const auto x = test::random_normal(n, 1, 5.0f, 3.0f);
      const auto w = test::random_normal(static_cast<size_t>(cols), 2, 1.0f, 0.5f);
      const auto b = test::random_normal(static_cast<size_t>(cols), 3);
      for (int variant = 0; variant < 4; ++variant) {
        const float* wp = (variant & 1) ? w.data() : nullptr;
        const float* bp = (variant & 2) ? b.data() : nullptr;
        std::vector<float> got(n), want(n);
        cpu::layer_norm(pool, x.data(), wp, bp, got.data(), rows, cols, 1e-5f);
        ref::layer_norm(x.data(), wp, bp, want.data(), rows, cols, 1e-5f);
        EXPECT_TRUE(all_near(got, want, tol::kNormAbs, tol::kNormRel))
            << "rows=" << rows << " cols=" << cols << " weight=" << bool(wp)
            << " bias=" << bool(bp);
        // In place (x == y) gives the same.
        std::vector<float> inplace = x;
        cpu::layer_norm(pool, inplace.data(), wp, bp, inplace.data(), rows, cols, 1e-5f);
        EXPECT_EQ(inplace, got) << "in place, rows=" << rows << " cols=" << cols;
      }
    }
  }
}

TEST_P(Norm, LayerNormOfConstantRowIsBias) {
  ThreadPool pool(1);
  std::vector<float> x(19, 3.25f), b(19), y(19);
  for (size_t i = 0; i < b.size(); ++i) b[i] = float(i);
  cpu::layer_norm(pool, x.data(), nullptr, b.data(), y.data(), 1, 19, 1e-5f);
  EXPECT_EQ(y, b);
}

TEST_P(Norm, RmsNormMatchesReference) {
  ThreadPool pool(2);
  for (int64_t cols : kCols) {
    for (int64_t rows : {1, 7, 130}) {
      const size_t n = static_cast<size_t>(rows * cols);
      const auto x = test::random_normal(n, 4, 0.5f, 2.0f);
      const auto w = test::random_normal(static_cast<size_t>(cols), 5, 1.0f, 0.5f);
      std::vector<float> got(n), want(n);
      cpu::rms_norm(pool, x.data(), w.data(), got.data(), rows, cols, 1e-6f);
      ref::rms_norm(x.data(), w.data(), want.data(), rows, cols, 1e-6f);
      EXPECT_TRUE(all_near(got, want, tol::kNormAbs, tol::kNormRel))
          << "rows=" << rows << " cols=" << cols;
      std::vector<float> inplace = x;
      cpu::rms_norm(pool, inplace.data(), w.data(), inplace.data(), rows, cols, 1e-6f);
      EXPECT_EQ(inplace, got) << "in place, rows=" << rows << " cols=" << cols;
    }
  }
}

TEST_P(Norm, SoftmaxMatchesReference) {
  ThreadPool pool(2);
  for (int64_t cols : kCols) {
    for (int64_t rows : {1, 3, 300}) {
      const size_t n = static_cast<size_t>(rows * cols);
      auto got = test::random_normal(n, 6, 0.0f, 4.0f);
      auto want = got;
      cpu::softmax_rows(pool, got.data(), rows, cols);
      ref::softmax_rows(want.data(), rows, cols);
      EXPECT_TRUE(all_near(got, want, tol::kSoftmaxAbs, tol::kSoftmaxRel))
          << "rows=" << rows << " cols=" << cols;
    }
  }
}

TEST_P(Norm, SoftmaxIsStableForLargeAndInfiniteInputs) {
  ThreadPool pool(1);
  const float inf = std::numeric_limits<float>::infinity();
  std::vector<float> x = {1000.0f, 1000.0f, -inf, 999.0f, -1e30f};
  auto want = x;
  cpu::softmax_rows(pool, x.data(), 1, 5);
  ref::softmax_rows(want.data(), 1, 5);
  EXPECT_TRUE(all_near(x, want, tol::kSoftmaxAbs, tol::kSoftmaxRel));
  EXPECT_EQ(x[2], 0.0f);
  EXPECT_EQ(x[4], 0.0f);
}

TEST_P(Norm, LogSoftmaxMatchesReference) {
  for (int64_t n : {1, 3, 17, 63, 257, 1001, 50272}) {
    const auto x = test::random_normal(static_cast<size_t>(n), 7, 0.0f, 5.0f);
    std::vector<float> got(x.size()), want(x.size());
    cpu::log_softmax_row(x.data(), got.data(), n);
    ref::log_softmax_row(x.data(), want.data(), n);
    EXPECT_TRUE(all_near(got, want, tol::kLogSoftmaxAbs, tol::kLogSoftmaxRel)) << "n=" << n;
    std::vector<float> inplace = x;
    cpu::log_softmax_row(inplace.data(), inplace.data(), n);
    EXPECT_EQ(inplace, got) << "in place, n=" << n;
  }
}

}  // namespace
}  // namespace blip2
