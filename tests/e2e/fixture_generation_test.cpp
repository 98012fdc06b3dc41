// The whole pipeline (image file -> decode -> preprocess -> vision -> Q-Former -> language model ->
// tokens -> text) through the public API, on both fixture checkpoints: every greedy and beam
// generation of generation.json must come out token for token, including the batched case.
#include <gtest/gtest.h>

#include "blip2/blip2.h"
#include "common/test_util.h"

namespace blip2 {
namespace {

class FixtureGeneration : public ::testing::TestWithParam<std::string> {
 protected:
  std::string dir() const { return test::data_path(GetParam()); }
  static GenerationOptions reference_options(int64_t beams) {
    GenerationOptions o;  // generate(max_new_tokens=20, num_beams=..., length_penalty=1.0)
    o.max_new_tokens = 20;
    o.num_beams = beams;
    return o;
  }
};

TEST_P(FixtureGeneration, EveryImageAndPromptTokenExact) {
  auto engine = Engine::load(dir(), test::two_threads());
  Session session(engine);
  const auto gen = test::load_json(dir() + "/expected/generation.json");
  int n = 0;
  for (const auto& r : gen["results"]) {
    SCOPED_TRACE(str_cat(r["image_file"].get<std::string>(), " prompt \"",
                         r["prompt"].get<std::string>(), "\""));
    const RgbImage image =
        decode_image_file(dir() + "/expected/" + r["image_file"].get<std::string>());
    EXPECT_EQ(engine->prompt_ids(r["prompt"].get<std::string>()),
              r["input_ids"].get<std::vector<int32_t>>());
    for (int64_t beams : {1, 3}) {
      const auto& want = beams == 1 ? r["greedy"] : r["beam"];
      const CaptionResult got =
          session.caption(image, r["prompt"].get<std::string>(), reference_options(beams));
      EXPECT_EQ(got.token_ids, want["new_tokens"].get<std::vector<int32_t>>()) << "beams " << beams;
      EXPECT_EQ(got.text, want["text"].get<std::string>()) << "beams " << beams;
      EXPECT_EQ(got.sequences[0].ended_with_eos, want["ended_with_eos"].get<bool>());
    }
    ++n;
  }
  EXPECT_EQ(n, 12);
}

TEST_P(FixtureGeneration, BatchedCaseTokenExact) {
  auto engine = Engine::load(dir(), test::two_threads());
  Session session(engine);
  const auto gen = test::load_json(dir() + "/expected/generation.json");
  const auto& batch = gen["batch"];
  std::vector<RgbImage> images;
  for (const auto& f : batch["image_files"])
    images.push_back(decode_image_file(dir() + "/expected/" + f.get<std::string>()));
  std::vector<CaptionRequest> reqs;
  for (const RgbImage& im : images) reqs.push_back({&im, batch["prompt"]});
  for (int64_t beams : {1, 3}) {
    const auto results = session.generate(reqs, reference_options(beams));
    for (size_t k = 0; k < results.size(); ++k) {
      const auto& want = batch["rows"][k][beams == 1 ? "greedy" : "beam"];
      EXPECT_EQ(results[k].token_ids, want["new_tokens"].get<std::vector<int32_t>>())
          << "row " << k << " beams " << beams;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Checkpoints, FixtureGeneration, ::testing::Values("opt-tiny", "t5-tiny"));

}  // namespace
}  // namespace blip2
