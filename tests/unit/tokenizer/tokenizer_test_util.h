// Shared helpers of the tokenizer tests: fixture paths, JSON files, scratch folders.
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <string>

#include <nlohmann/json.hpp>

#include "common/test_util.h"
#include "core/error.h"

namespace blip2::testing {

inline std::filesystem::path test_data() {
  return BLIP2_TEST_DATA;
}
inline std::string opt_tiny() {
  return (test_data() / "opt-tiny").string();
}
inline std::string t5_tiny() {
  return (test_data() / "t5-tiny").string();
}
// models/shapes-demo, next to tests/ in the repository.
inline std::string shapes_demo() {
  return (test_data().parent_path().parent_path() / "models" / "shapes-demo").string();
}

inline nlohmann::json load_json(const std::filesystem::path& path) {
  std::ifstream in(path);
  EXPECT_TRUE(in.good()) << "cannot open " << path;
  return nlohmann::json::parse(in);
}

inline void write_file(const std::filesystem::path& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary);
  out << text;
  ASSERT_TRUE(out.good()) << "cannot write " << path;
}

inline std::string read_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// A test::TempDir filled from fixture folders.
class ScratchDir : public blip2::test::TempDir {
 public:
  std::filesystem::path path() const { return std::filesystem::path(TempDir::path()); }
  std::string str() const { return TempDir::path(); }
  // Copies `names` from folder `from` into this folder.
  void copy_from(const std::string& from, std::initializer_list<const char*> names) const {
    for (const char* name : names) {
      std::filesystem::copy_file(std::filesystem::path(from) / name, path() / name,
                                 std::filesystem::copy_options::overwrite_existing);
    }
  }
};

// Runs `f` and returns the blip2::Error it throws; fails the test if it throws nothing.
template <typename F>
blip2::Error expect_error(F&& f) {
  try {
    f();
  } catch (const blip2::Error& e) {
    return e;
  }
  ADD_FAILURE() << "expected a blip2::Error";
  return blip2::Error(blip2::ErrorKind::kInternal, "no error");
}

}  // namespace blip2::testing
