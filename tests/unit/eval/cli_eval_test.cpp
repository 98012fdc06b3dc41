// Runs the built `blip2` binary (BLIP2_CLI_PATH) on the fixtures and checks its numbers.
#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>

#include "common/cli_runner.h"
#include "eval_test_util.h"

namespace blip2::eval {
namespace {

using testing::eval_data;
using testing::kMetricTolerance;
using testing::load_json;
using testing::metric_names;

using blip2::test::CliResult;
using blip2::test::run_cli;

TEST(CliEval, CaptionsJsonMatchesTheReference) {
  const std::string set = eval_data("caption/medium");
  blip2::test::TempDir dir;
  const std::string per_image = dir.file("per_image.jsonl");
  const CliResult r =
      run_cli({"eval", "captions", "--annotations", set + "/annotations.json", "--results",
               set + "/results.json", "--json", "--per-image", per_image});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const nlohmann::json got = nlohmann::json::parse(r.out);
  const nlohmann::json expected = load_json(set + "/expected.json");
  for (const std::string& name : metric_names()) {
    EXPECT_NEAR(got.at(name).get<double>(), expected["corpus"][name].get<double>(),
                kMetricTolerance)
        << name;
  }
  EXPECT_EQ(got.at("num_images").get<int>(), 60);
  EXPECT_TRUE(got.at("not_computed").contains("METEOR"));
  EXPECT_TRUE(got.at("not_computed").contains("SPICE"));
  EXPECT_FALSE(got.contains("METEOR"));

  std::ifstream lines(per_image);
  std::string line;
  size_t i = 0;
  while (std::getline(lines, line)) {
    const nlohmann::json img = nlohmann::json::parse(line);
    const auto& want = expected["per_image"].at(i++);
    EXPECT_EQ(img.at("image_id"), want["image_id"]);
    for (const std::string& name : metric_names()) {
      EXPECT_NEAR(img.at(name).get<double>(), want[name].get<double>(), kMetricTolerance);
    }
  }
  EXPECT_EQ(i, 60u);
}

TEST(CliEval, CaptionsHumanOutputSaysMeteorAndSpiceAreNotComputed) {
  const std::string set = eval_data("caption/small");
  const CliResult r = run_cli({"eval", "captions", "--annotations", set + "/annotations.json",
                               "--results", set + "/results.json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("CIDEr    1.486963"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("METEOR   not computed"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("SPICE    not computed"), std::string::npos) << r.out;
}

TEST(CliEval, VqaJsonMatchesTheReference) {
  const std::string d = eval_data("vqa");
  const CliResult r =
      run_cli({"eval", "vqa", "--questions", d + "/questions.json", "--annotations",
               d + "/annotations.json", "--results", d + "/results.json", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const nlohmann::json got = nlohmann::json::parse(r.out);
  const nlohmann::json expected = load_json(d + "/expected.json");
  EXPECT_EQ(got.at("overall").get<double>(), expected["overall"].get<double>());
  EXPECT_EQ(got.at("perQuestionType"), expected["perQuestionType"]);
  EXPECT_EQ(got.at("perAnswerType"), expected["perAnswerType"]);
}

TEST(CliEval, BadResultsGiveAOneLineErrorAndExitCode1) {
  const std::string set = eval_data("caption/small");
  // The annotations file passed as results: not a list of results.
  const CliResult r = run_cli({"eval", "captions", "--annotations", set + "/annotations.json",
                               "--results", set + "/annotations.json"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.out, "");
  EXPECT_NE(r.err.find("blip2: error:"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("expected a JSON array"), std::string::npos) << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  const CliResult missing = run_cli({"eval", "captions", "--annotations", set + "/annotations.json",
                                     "--results", "/nonexistent.json"});
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_NE(missing.err.find("/nonexistent.json"), std::string::npos) << missing.err;
}

}  // namespace
}  // namespace blip2::eval
