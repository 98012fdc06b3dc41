// The bundled demo model (a small trained BLIP-2) through the public API: its captions and answers
// on the example images must equal the reference implementation's (models/shapes-demo/expected).
#include <gtest/gtest.h>

#include <numeric>

#include "blip2/blip2.h"
#include "common/test_util.h"

namespace blip2 {
namespace {

class DemoModel : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    engine_ = new std::shared_ptr<const Engine>(
        Engine::load(test::repo_path("models/shapes-demo"), test::two_threads()));
    expected_ = new nlohmann::json(
        test::load_json(test::repo_path("models/shapes-demo/expected/generation.json")));
  }
  static void TearDownTestSuite() {
    delete engine_;
    delete expected_;
  }
  static const Engine& engine() { return **engine_; }
  static RgbImage image(const nlohmann::json& ex) {
    return decode_image_file(
        test::repo_path("models/shapes-demo/" + ex["file"].get<std::string>()));
  }
  // The reference's sequence is [BOS] + generated; ours is the generated part.
  static std::vector<int32_t> generated(const nlohmann::json& seq) {
    auto v = seq.get<std::vector<int32_t>>();
    return {v.begin() + 1, v.end()};
  }
  static inline std::shared_ptr<const Engine>* engine_ = nullptr;
  static inline nlohmann::json* expected_ = nullptr;
};

TEST_F(DemoModel, PixelValuesMatchTheReference) {
  for (const auto& ex : (*expected_)["examples"]) {
    SCOPED_TRACE(ex["file"].get<std::string>());
    const RgbImage im = image(ex);
    std::vector<float> px(3 * 224 * 224);
    engine().preprocess(im, px.data());
    const double sum = std::accumulate(px.begin(), px.end(), 0.0);
    EXPECT_NEAR(sum, ex["pixel_values"]["sum"].get<double>(), 1e-2);
    for (int i = 0; i < 8; ++i)
      EXPECT_NEAR(px[i], ex["pixel_values"]["first8"][i].get<double>(), 1e-5);
  }
}

TEST_F(DemoModel, GreedyAndBeamCaptionsEqualTheReference) {
  Session session(*engine_);
  GenerationOptions greedy;  // the reference's generate(max_new_tokens=20, num_beams=1)
  greedy.max_new_tokens = 20;
  GenerationOptions beam = greedy;
  beam.num_beams = 3;
  for (const auto& ex : (*expected_)["examples"]) {
    SCOPED_TRACE(ex["file"].get<std::string>());
    const RgbImage im = image(ex);
    const CaptionResult g = session.caption(im, "", greedy);
    EXPECT_EQ(g.token_ids, generated(ex["caption_greedy"]["sequence"]));
    EXPECT_EQ(g.text, ex["caption_greedy"]["text"].get<std::string>());
    const CaptionResult b = session.caption(im, "", beam);
    EXPECT_EQ(b.token_ids, generated(ex["caption_beam3"]["sequence"]));
    EXPECT_EQ(b.text, ex["caption_beam3"]["text"].get<std::string>());
    EXPECT_NEAR(b.sequences[0].score, ex["caption_beam3"]["sequence_score"].get<double>(), 1e-4);
  }
}

TEST_F(DemoModel, VqaAnswersEqualTheReference) {
  Session session(*engine_);
  GenerationOptions greedy;
  greedy.max_new_tokens = 20;
  for (const auto& ex : (*expected_)["examples"]) {
    const RgbImage im = image(ex);
    for (const auto& q : ex["vqa"]) {
      SCOPED_TRACE(q["prompt"].get<std::string>());
      EXPECT_EQ(engine().prompt_ids(q["prompt"].get<std::string>()),
                q["input_ids"].get<std::vector<int32_t>>());
      // The prompt built from the question by the VQA template is the reference's prompt.
      const std::string prompt = q["prompt"];
      const std::string question = prompt.substr(10, prompt.size() - 10 - 8);
      EXPECT_EQ(engine().vqa_prompt(question), prompt);
      const CaptionResult a = session.ask(im, question, greedy);
      EXPECT_EQ(a.token_ids, generated(q["greedy"]["sequence"]));
      EXPECT_EQ(a.text, q["greedy"]["text"].get<std::string>());
    }
  }
}

TEST_F(DemoModel, DefaultsComeFromGenerationConfig) {
  // generation_config.json: greedy, max_new_tokens 20.
  const GenerationOptions o = engine().default_options(Task::kCaption);
  EXPECT_EQ(o.num_beams, 1);
  EXPECT_EQ(o.max_new_tokens, 20);
  EXPECT_FALSE(o.do_sample);
}

TEST_F(DemoModel, BatchEqualsSingleRuns) {
  Session session(*engine_);
  std::vector<RgbImage> images;
  for (const auto& ex : (*expected_)["examples"]) images.push_back(image(ex));
  for (int64_t beams : {1, 3}) {
    GenerationOptions o;
    o.max_new_tokens = 20;
    o.num_beams = beams;
    // Different prompts in one batch exercise the left padding.
    std::vector<CaptionRequest> reqs;
    for (size_t i = 0; i < images.size(); ++i)
      reqs.push_back(
          {&images[i], i % 2 ? engine().vqa_prompt("what color is the background?") : ""});
    const auto batch = session.generate(reqs, o);
    for (size_t i = 0; i < images.size(); ++i) {
      SCOPED_TRACE(str_cat("beams ", beams, " image ", i));
      const CaptionResult single = session.caption(images[i], reqs[i].prompt, o);
      EXPECT_EQ(batch[i].token_ids, single.token_ids);
      EXPECT_EQ(batch[i].text, single.text);
    }
  }
}

TEST_F(DemoModel, StreamedTextEqualsFinalText) {
  Session session(*engine_);
  GenerationOptions o;
  o.max_new_tokens = 20;
  const RgbImage im = image((*expected_)["examples"][1]);
  std::string streamed;
  const CaptionRequest req{&im, ""};
  const auto r = session.generate({&req, 1}, o, [&](int64_t, std::string_view piece) {
    streamed += piece;
    return true;
  });
  EXPECT_EQ(streamed, r[0].text);
  EXPECT_FALSE(streamed.empty());
  // A callback returning false stops generation after the first piece.
  int calls = 0;
  const auto stopped =
      session.generate({&req, 1}, o, [&](int64_t, std::string_view) { return ++calls < 1; });
  EXPECT_LT(stopped[0].token_ids.size(), r[0].token_ids.size());
}

}  // namespace
}  // namespace blip2
