// Shared helpers for tests: paths of the reference data, temporary folders, tensor comparison.
#pragma once

#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <random>
#include <string>

#include "blip2/engine.h"
#include "core/mapped_file.h"
#include "core/tensor.h"

namespace blip2::test {

inline std::string data_path(const std::string& rel) {
  return std::string(BLIP2_TEST_DATA) + "/" + rel;
}
inline std::string repo_path(const std::string& rel) {
  return (std::filesystem::path(BLIP2_TEST_DATA).parent_path().parent_path() / rel).string();
}
inline nlohmann::json load_json(const std::string& path) {
  return nlohmann::json::parse(read_text_file(path));
}

// Engine options for tests: two threads, so the parallel paths run even on one-core machines.
inline EngineOptions two_threads() {
  EngineOptions o;
  o.threads = 2;
  return o;
}

// A fresh temporary folder removed at the end of the test.
class TempDir {
 public:
  TempDir() {
    std::random_device rd;
    path_ = std::filesystem::temp_directory_path() /
            ("blip2-test-" + std::to_string(::getpid()) + "-" + std::to_string(rd()));
    std::filesystem::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  std::string path() const { return path_.string(); }
  std::string file(const std::string& name) const { return (path_ / name).string(); }

 private:
  std::filesystem::path path_;
};

struct Diff {
  double max_abs = 0;
  double max_ref = 0;  // max |expected|
  int64_t worst = -1;
};

// Elementwise comparison of two f32 tensors of the same shape.
inline Diff compare(const Tensor& got, const Tensor& want) {
  Diff d;
  EXPECT_EQ(shape_to_string(got.shape()), shape_to_string(want.shape()));
  if (got.shape() != want.shape()) return d;
  Tensor g = got.contiguous(), w = want.contiguous();
  const float* a = g.data<float>();
  const float* b = w.data<float>();
  for (int64_t i = 0; i < g.numel(); ++i) {
    const double e = std::fabs(static_cast<double>(a[i]) - b[i]);
    if (!(e <= d.max_abs)) {  // also catches NaN
      d.max_abs = std::isnan(e) ? INFINITY : e;
      d.worst = i;
    }
    d.max_ref = std::max(d.max_ref, std::fabs(static_cast<double>(b[i])));
  }
  return d;
}

// Expects max|got - want| <= rel * max|want| (+ a tiny absolute floor).
#define EXPECT_TENSOR_NEAR(got, want, rel)                                                    \
  do {                                                                                        \
    const auto _d = ::blip2::test::compare((got), (want));                                    \
    EXPECT_LE(_d.max_abs, (rel)*_d.max_ref + 1e-6)                                            \
        << #got << ": max abs diff " << _d.max_abs << " at flat index " << _d.worst           \
        << ", max |ref| " << _d.max_ref << " (relative " << _d.max_abs / (_d.max_ref + 1e-30) \
        << ")";                                                                               \
  } while (0)

}  // namespace blip2::test
