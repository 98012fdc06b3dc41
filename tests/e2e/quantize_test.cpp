// `blip2 quantize` and `--dtype` end to end: a quantised folder is plain safetensors (standard
// dtypes, listable by any reader), describes itself in config.json, loads without --dtype, and
// generates exactly what converting the original at load time (`--dtype`) generates.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "common/cli_runner.h"
#include "io/safetensors.h"

namespace blip2 {
namespace {

using test::run_cli;
namespace fs = std::filesystem;

std::vector<int32_t> greedy_ids(const std::vector<std::string>& model_args,
                                const std::string& image) {
  std::vector<std::string> args = {"caption"};
  args.insert(args.end(), model_args.begin(), model_args.end());
  for (const char* a : {"--num-beams", "1", "--max-new-tokens", "12", "--min-new-tokens", "0",
                        "--threads", "2", "--json"})
    args.emplace_back(a);
  args.push_back(image);
  const auto r = run_cli(args);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  const auto lines = test::json_lines(r.out);
  if (lines.size() != 1) return {};
  return lines[0]["token_ids"].get<std::vector<int32_t>>();
}

struct Case {
  const char* model;
  const char* dtype;
  DType weight_dtype;  // of a quantised language-model weight
};

class QuantizeCli : public ::testing::TestWithParam<Case> {};

TEST_P(QuantizeCli, FolderIsPlainSafetensorsAndGeneratesAsDtypeAtLoad) {
  const Case c = GetParam();
  const std::string src = test::data_path(c.model);
  test::TempDir dir;
  const std::string out = dir.file("q");
  const auto r = run_cli({"quantize", "-m", src, "-o", out, "--dtype", c.dtype, "--threads", "2"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("wrote"), std::string::npos) << r.out;

  // Self-describing: config.json says what was done; the tokenizer and processor files came along.
  nlohmann::json config = nlohmann::json::parse(std::ifstream(out + "/config.json"));
  ASSERT_TRUE(config.contains("quantization"));
  EXPECT_EQ(config["quantization"]["format"], c.dtype);
  EXPECT_TRUE(fs::exists(out + "/preprocessor_config.json"));

  // Listable by a plain safetensors reader: standard dtypes, each quantised weight with a scale.
  const auto file = SafetensorsFile::open(out + "/model.safetensors");
  int quantised = 0;
  for (const TensorInfo& t : file.tensors()) {
    if (t.name.rfind("language_model.", 0) != 0 || t.dtype != c.weight_dtype) continue;
    ++quantised;
    if (c.weight_dtype != DType::kBF16) {
      EXPECT_NE(file.find(t.name + "_scale"), nullptr) << t.name;
    }
  }
  EXPECT_GT(quantised, 4);
  EXPECT_EQ(file.metadata().count("blip2_quantization"), 1u);

  // The same tokens as converting at load time, on every fixture image.
  for (const auto& e : fs::directory_iterator(src + "/expected/images")) {
    SCOPED_TRACE(e.path().filename().string());
    const auto want = greedy_ids({"-m", src, "--dtype", c.dtype}, e.path().string());
    ASSERT_FALSE(want.empty());
    EXPECT_EQ(greedy_ids({"-m", out}, e.path().string()), want);
  }
}

INSTANTIATE_TEST_SUITE_P(
    Fixtures, QuantizeCli,
    ::testing::Values(Case{"opt-tiny", "int8", DType::kI8}, Case{"opt-tiny", "q4", DType::kU8},
                      Case{"t5-tiny", "int8", DType::kI8}, Case{"t5-tiny", "q4", DType::kU8},
                      Case{"t5-tiny", "bf16", DType::kBF16}),
    [](const auto& info) {
      return std::string(info.param.model == std::string("opt-tiny") ? "opt" : "t5") + "_" +
             info.param.dtype;
    });

TEST(QuantizeCli, RefusesToOverwriteToRequantiseAndUnknownFormats) {
  const std::string src = test::data_path("opt-tiny");
  test::TempDir dir;
  std::ofstream(dir.file("keep.txt")) << "x";
  auto r = run_cli({"quantize", "-m", src, "-o", dir.path(), "--dtype", "int8"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("not empty"), std::string::npos) << r.err;

  const std::string q = dir.file("q");
  ASSERT_EQ(run_cli({"quantize", "-m", src, "-o", q, "--dtype", "int8"}).exit_code, 0);
  r = run_cli({"quantize", "-m", q, "-o", dir.file("qq"), "--dtype", "q4"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("already quantised"), std::string::npos) << r.err;

  r = run_cli({"quantize", "-m", src, "-o", dir.file("x"), "--dtype", "int4"});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_FALSE(fs::exists(dir.file("x")));
  r = run_cli(
      {"caption", "-m", src, "--dtype", "int4", src + "/expected/images/img1_rgb_300x500.png"});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("int4"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace blip2
