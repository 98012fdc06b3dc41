// Every stage of the opt-tiny fixture against the reference tensors, and greedy/beam generation
// token-exact against generation.json. The inputs of each stage are the reference's own inputs
// (pixel_values from the fixture), so a failure names the first stage that drifts.
#include <gtest/gtest.h>

#include "common/test_util.h"
#include "common/tolerances.h"
#include "generate/generate.h"
#include "io/checkpoint.h"
#include "io/config.h"
#include "models/opt/opt_decoder.h"
#include "models/qformer/qformer.h"
#include "models/vision/vision_encoder.h"

namespace blip2 {
namespace {

using test::kLogitsRelTol;
using test::kStageRelTol;

class OptParity : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = test::data_path("opt-tiny");
    config_ = new Blip2Config(load_blip2_config(dir_));
    WeightLoader w(Checkpoint::open(dir_));
    vision_ = new VisionEncoder(VisionEncoder::load(w.scope("vision_model"), config_->vision));
    qformer_ = new QFormer(QFormer::load(w, *config_));
    opt_ = OptModel::load(w.scope("language_model"), config_->opt).release();
    expected_ = new SafetensorsFile(SafetensorsFile::open(dir_ + "/expected/expected.safetensors"));
    generation_ = new nlohmann::json(test::load_json(dir_ + "/expected/generation.json"));
    pool_ = new ThreadPool(2);
  }
  static void TearDownTestSuite() {
    delete config_;
    delete vision_;
    delete qformer_;
    delete opt_;
    delete expected_;
    delete generation_;
    delete pool_;
  }

  static Tensor expected(const std::string& name) { return expected_->get(name); }

  // The language-model input of image i computed by our vision encoder and Q-Former.
  static Tensor language_model_inputs(int i) {
    const Tensor pixels = expected(str_cat("img", i, ".pixel_values"));
    const VisionOutput v = vision_forward(*pool_, *vision_, pixels);
    return project_to_language_model(*pool_, *qformer_,
                                     qformer_forward(*pool_, *qformer_, v.last_hidden_state));
  }

  static std::vector<int32_t> ids_of(const nlohmann::json& j) {
    return j.get<std::vector<int32_t>>();
  }

  static GenerationTokens tokens() {
    GenerationTokens t;
    for (int64_t e : config_->special.eos_token_id)
      t.eos_token_ids.push_back(static_cast<int32_t>(e));
    t.pad_token_id = static_cast<int32_t>(config_->special.pad_token_id.value());
    return t;
  }

  static inline std::string dir_;
  static inline Blip2Config* config_ = nullptr;
  static inline VisionEncoder* vision_ = nullptr;
  static inline QFormer* qformer_ = nullptr;
  static inline OptModel* opt_ = nullptr;
  static inline SafetensorsFile* expected_ = nullptr;
  static inline nlohmann::json* generation_ = nullptr;
  static inline ThreadPool* pool_ = nullptr;
};

TEST_F(OptParity, VisionEncoderStages) {
  for (int i = 0; i < 4; ++i) {
    SCOPED_TRACE(str_cat("image ", i));
    const Tensor pixels = expected(str_cat("img", i, ".pixel_values"));
    EXPECT_TENSOR_NEAR(vision_embeddings(*pool_, *vision_, pixels),
                       expected(str_cat("img", i, ".vision_embeddings")), kStageRelTol);
    const VisionOutput v = vision_forward(*pool_, *vision_, pixels);
    EXPECT_TENSOR_NEAR(v.last_hidden_state,
                       expected(str_cat("img", i, ".vision_last_hidden_state")), kStageRelTol);
    EXPECT_TENSOR_NEAR(v.pooler_output, expected(str_cat("img", i, ".vision_pooler_output")),
                       kStageRelTol);
  }
}

TEST_F(OptParity, QFormerAndProjection) {
  for (int i = 0; i < 4; ++i) {
    SCOPED_TRACE(str_cat("image ", i));
    // Fed with the reference's vision output, so only the Q-Former is under test here.
    const Tensor q = qformer_forward(*pool_, *qformer_,
                                     expected(str_cat("img", i, ".vision_last_hidden_state")));
    EXPECT_TENSOR_NEAR(q, expected(str_cat("img", i, ".qformer_last_hidden_state")), kStageRelTol);
    EXPECT_TENSOR_NEAR(project_to_language_model(*pool_, *qformer_, q),
                       expected(str_cat("img", i, ".language_model_inputs")), kStageRelTol);
  }
}

TEST_F(OptParity, LogitsOfEveryPrompt) {
  for (int i = 0; i < 4; ++i) {
    const Tensor prefix = expected(str_cat("img", i, ".language_model_inputs"));
    for (int p = 0; p < 3; ++p) {
      SCOPED_TRACE(str_cat("image ", i, " prompt ", p));
      const Tensor ids = expected(str_cat("img", i, ".p", p, ".input_ids"));
      LmPrompt prompt;
      prompt.prefix_embeds = prefix.data<float>();
      prompt.prefix_len = prefix.dim(1);
      for (int64_t t = 0; t < ids.numel(); ++t)
        prompt.tokens.push_back(static_cast<int32_t>(ids.data<int64_t>()[t]));
      const Tensor got = opt_->forward_logits(*pool_, prompt, {});
      const Tensor want = expected(str_cat("img", i, ".p", p, ".logits"));
      ASSERT_EQ(want.dim(1), got.dim(0));
      for (int64_t row = 0; row < got.dim(0); ++row)
        EXPECT_TENSOR_NEAR(got.select(0, row), want.select(0, 0).select(0, row), kLogitsRelTol);
    }
  }
}

TEST_F(OptParity, GreedyAndBeamGenerationTokenExact) {
  std::vector<Tensor> prefixes;
  for (int i = 0; i < 4; ++i) prefixes.push_back(language_model_inputs(i));
  auto state = opt_->new_state(*pool_);
  int checked = 0;
  for (const auto& r : (*generation_)["results"]) {
    const int i = r["image"];
    SCOPED_TRACE(str_cat("image ", i, " prompt \"", r["prompt"].get<std::string>(), "\""));
    LmPrompt prompt;
    prompt.prefix_embeds = prefixes[i].data<float>();
    prompt.prefix_len = prefixes[i].dim(1);
    prompt.tokens = ids_of(r["input_ids"]);
    GenerationOptions greedy;
    greedy.max_new_tokens = 20;
    auto g = generate(*state, {&prompt, 1}, greedy, tokens());
    EXPECT_EQ(g[0][0].tokens, ids_of(r["greedy"]["new_tokens"]));
    EXPECT_EQ(g[0][0].ended_with_eos, r["greedy"]["ended_with_eos"].get<bool>());
    GenerationOptions beam = greedy;
    beam.num_beams = 3;
    auto b = generate(*state, {&prompt, 1}, beam, tokens());
    EXPECT_EQ(b[0][0].tokens, ids_of(r["beam"]["new_tokens"]));
    EXPECT_NEAR(b[0][0].score, r["beam"]["sequence_score"].get<double>(), 1e-4);
    ++checked;
  }
  EXPECT_EQ(checked, 12);
}

TEST_F(OptParity, BatchedGenerationTokenExact) {
  const auto& batch = (*generation_)["batch"];
  std::vector<Tensor> prefixes;
  std::vector<LmPrompt> prompts;
  for (const auto& i : batch["images"]) prefixes.push_back(language_model_inputs(i.get<int>()));
  for (size_t k = 0; k < prefixes.size(); ++k) {
    LmPrompt p;
    p.prefix_embeds = prefixes[k].data<float>();
    p.prefix_len = prefixes[k].dim(1);
    p.tokens = ids_of(batch["input_ids"][k]);
    prompts.push_back(p);
  }
  auto state = opt_->new_state(*pool_);
  GenerationOptions greedy;
  greedy.max_new_tokens = 20;
  auto g = generate(*state, prompts, greedy, tokens());
  GenerationOptions beam = greedy;
  beam.num_beams = 3;
  auto b = generate(*state, prompts, beam, tokens());
  for (size_t k = 0; k < prompts.size(); ++k) {
    SCOPED_TRACE(str_cat("row ", k));
    EXPECT_EQ(g[k][0].tokens, ids_of(batch["rows"][k]["greedy"]["new_tokens"]));
    EXPECT_EQ(b[k][0].tokens, ids_of(batch["rows"][k]["beam"]["new_tokens"]));
  }
}

}  // namespace
}  // namespace blip2
