// The T5 language model of the t5-tiny fixture against the reference: encoder output and decoder
// logits per (image, prompt), and greedy/beam generation token-exact against generation.json,
// single and batched. The language-model inputs are the reference's own
// (img{i}.language_model_inputs), so only the T5 code is under test here.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>

#include "common/test_util.h"
#include "common/tolerances.h"
#include "generate/generate.h"
#include "io/checkpoint.h"
#include "io/config.h"
#include "io/safetensors.h"
#include "models/t5/t5_model.h"

namespace blip2 {
namespace {

using test::kLogitsRelTol;
using test::kStageRelTol;

class T5Parity : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = test::data_path("t5-tiny");
    config_ = new Blip2Config(load_blip2_config(dir_));
    WeightLoader w(Checkpoint::open(dir_));
    t5_ = T5Model::load(w.scope("language_model"), config_->t5,
                        config_->special.decoder_start_token_id.value())
              .release();
    expected_ = new SafetensorsFile(SafetensorsFile::open(dir_ + "/expected/expected.safetensors"));
    generation_ = new nlohmann::json(test::load_json(dir_ + "/expected/generation.json"));
    pool_ = new ThreadPool(2);
  }
  static void TearDownTestSuite() {
    delete config_;
    delete t5_;
    delete expected_;
    delete generation_;
    delete pool_;
  }

  static Tensor expected(const std::string& name) { return expected_->get(name); }

  static std::vector<int32_t> ids_of(const Tensor& t) {
    std::vector<int32_t> ids;
    for (int64_t k = 0; k < t.numel(); ++k)
      ids.push_back(static_cast<int32_t>(t.data<int64_t>()[k]));
    return ids;
  }
  static std::vector<int32_t> ids_of(const nlohmann::json& j) {
    return j.get<std::vector<int32_t>>();
  }

  // f32 [1, Q, d_model] of image i; the returned tensor keeps the data alive.
  static Tensor prefix(int i) { return expected(str_cat("img", i, ".language_model_inputs")); }

  static LmPrompt prompt_of(const Tensor& prefix_embeds, std::vector<int32_t> tokens) {
    LmPrompt p;
    p.prefix_embeds = prefix_embeds.data<float>();
    p.prefix_len = prefix_embeds.dim(1);
    p.tokens = std::move(tokens);
    return p;
  }

  static GenerationTokens tokens() {
    GenerationTokens t;
    for (int64_t e : config_->special.eos_token_id)
      t.eos_token_ids.push_back(static_cast<int32_t>(e));
    t.pad_token_id = static_cast<int32_t>(config_->special.pad_token_id.value());
    t.history_prefix = {static_cast<int32_t>(config_->special.decoder_start_token_id.value())};
    return t;
  }

  static GenerationOptions greedy_options() {
    GenerationOptions o;
    o.max_new_tokens = 20;
    return o;
  }
  static GenerationOptions beam_options() {
    GenerationOptions o = greedy_options();
    o.num_beams = 3;
    o.length_penalty = 1.0;
    return o;
  }

  static inline std::string dir_;
  static inline Blip2Config* config_ = nullptr;
  static inline T5Model* t5_ = nullptr;
  static inline SafetensorsFile* expected_ = nullptr;
  static inline nlohmann::json* generation_ = nullptr;
  static inline ThreadPool* pool_ = nullptr;
};

// T5Attention._relative_position_bucket at chosen distances, worked out from the reference's
// formula (key position - query position).
TEST(T5RelativePositionBucket, MatchesTheReferenceFormula) {
  // Bidirectional, 32 buckets / 128 (16 per direction, 8 exact): keys before the query use
  // buckets 0..15, keys after it 16..31.
  EXPECT_EQ(t5_relative_position_bucket(0, true, 32, 128), 0);
  EXPECT_EQ(t5_relative_position_bucket(-1, true, 32, 128), 1);
  EXPECT_EQ(t5_relative_position_bucket(1, true, 32, 128), 17);
  EXPECT_EQ(t5_relative_position_bucket(-7, true, 32, 128), 7);
  EXPECT_EQ(t5_relative_position_bucket(-8, true, 32, 128), 8);
  EXPECT_EQ(t5_relative_position_bucket(-15, true, 32, 128), 9);   // 8 + trunc(1.81)
  EXPECT_EQ(t5_relative_position_bucket(-16, true, 32, 128), 10);  // log 2 / log 16 * 8 = 2 exactly
  EXPECT_EQ(t5_relative_position_bucket(16, true, 32, 128), 26);
  EXPECT_EQ(t5_relative_position_bucket(-31, true, 32, 128), 11);  // 8 + trunc(3.91)
  EXPECT_EQ(t5_relative_position_bucket(-64, true, 32, 128), 14);  // 3 log 2 / 4 log 2 * 8 = 6
  EXPECT_EQ(t5_relative_position_bucket(-127, true, 32, 128), 15);
  EXPECT_EQ(t5_relative_position_bucket(-5000, true, 32, 128), 15);
  EXPECT_EQ(t5_relative_position_bucket(5000, true, 32, 128), 31);
  // Causal, 32 buckets (16 exact): keys after the query all share bucket 0.
  EXPECT_EQ(t5_relative_position_bucket(5, false, 32, 128), 0);
  EXPECT_EQ(t5_relative_position_bucket(0, false, 32, 128), 0);
  EXPECT_EQ(t5_relative_position_bucket(-15, false, 32, 128), 15);
  EXPECT_EQ(t5_relative_position_bucket(-16, false, 32, 128), 16);
  EXPECT_EQ(t5_relative_position_bucket(-20, false, 32, 128), 17);  // 16 + trunc(1.72)
  EXPECT_EQ(t5_relative_position_bucket(-32, false, 32, 128), 21);  // 16 + trunc(5.33)
  EXPECT_EQ(t5_relative_position_bucket(-128, false, 32, 128), 31);
  EXPECT_EQ(t5_relative_position_bucket(-100000, false, 32, 128), 31);
}

TEST_F(T5Parity, EncoderLastHiddenState) {
  double worst = 0;
  int checked = 0;
  for (int i = 0; i < 4; ++i) {
    const Tensor pre = prefix(i);
    for (int p = 0; p < 3; ++p) {
      SCOPED_TRACE(str_cat("image ", i, " prompt ", p));
      const LmPrompt prompt =
          prompt_of(pre, ids_of(expected(str_cat("img", i, ".p", p, ".input_ids"))));
      const Tensor got = t5_->encode(*pool_, prompt);
      const Tensor want =
          expected(str_cat("img", i, ".p", p, ".encoder_last_hidden_state")).select(0, 0);
      EXPECT_TENSOR_NEAR(got, want, kStageRelTol);
      const test::Diff d = test::compare(got, want);
      worst = std::max(worst, d.max_abs / d.max_ref);
      ++checked;
    }
  }
  EXPECT_EQ(checked, 12);
  std::printf("[ measured ] encoder_last_hidden_state: max |error| / max |ref| = %.3g\n", worst);
}

// Tolerance: kLogitsRelTol (1e-4 of each row's max |logit|); measured worst over the fixture:
// about 5e-6 (encoder output about 1.2e-6), float32 rounding on logits that reach a few hundred.
TEST_F(T5Parity, DecoderLogitsTeacherForced) {
  double worst = 0;
  int checked = 0;
  for (int i = 0; i < 4; ++i) {
    const Tensor pre = prefix(i);
    for (int p = 0; p < 3; ++p) {
      SCOPED_TRACE(str_cat("image ", i, " prompt ", p));
      const LmPrompt prompt =
          prompt_of(pre, ids_of(expected(str_cat("img", i, ".p", p, ".input_ids"))));
      const std::vector<int32_t> decoder_ids =
          ids_of(expected(str_cat("img", i, ".p", p, ".decoder_input_ids")));
      ASSERT_EQ(decoder_ids.front(), t5_->decoder_start_token_id);
      const Tensor got = t5_->forward_logits(*pool_, prompt, decoder_ids);
      const Tensor want = expected(str_cat("img", i, ".p", p, ".logits")).select(0, 0);
      ASSERT_EQ(got.dim(0), want.dim(0));
      for (int64_t row = 0; row < got.dim(0); ++row) {
        EXPECT_TENSOR_NEAR(got.select(0, row), want.select(0, row), kLogitsRelTol);
        const test::Diff d = test::compare(got.select(0, row), want.select(0, row));
        worst = std::max(worst, d.max_abs / d.max_ref);
      }
      ++checked;
    }
  }
  EXPECT_EQ(checked, 12);
  std::printf("[ measured ] decoder logits: max |error| / row max |logit| = %.3g\n", worst);
}

// The incremental decoder (start() + step() with the KV cache) must give the teacher-forced
// logits too: the first rows of a greedy run, fed the reference's decoder inputs.
TEST_F(T5Parity, CachedStepsMatchTeacherForcedLogits) {
  const Tensor pre = prefix(0);
  const LmPrompt prompt = prompt_of(pre, ids_of(expected("img0.p2.input_ids")));
  const std::vector<int32_t> decoder_ids = ids_of(expected("img0.p2.decoder_input_ids"));
  const Tensor want = expected("img0.p2.logits").select(0, 0);
  auto state = t5_->new_state(*pool_);
  state->start({&prompt, 1}, 1, static_cast<int64_t>(decoder_ids.size()));
  const int64_t V = t5_->vocab_size();
  double worst = 0;
  for (size_t t = 0; t < decoder_ids.size(); ++t) {
    SCOPED_TRACE(str_cat("decoder position ", t));
    if (t > 0) state->step({&decoder_ids[t], 1});
    Tensor got = Tensor::from_floats(std::vector<float>(state->logits(), state->logits() + V), {V});
    EXPECT_TENSOR_NEAR(got, want.select(0, static_cast<int64_t>(t)), kLogitsRelTol);
    const test::Diff d = test::compare(got, want.select(0, static_cast<int64_t>(t)));
    worst = std::max(worst, d.max_abs / d.max_ref);
  }
  std::printf("[ measured ] cached decoder steps: max |error| / row max |logit| = %.3g\n", worst);
}

TEST_F(T5Parity, GreedyAndBeamGenerationTokenExact) {
  auto state = t5_->new_state(*pool_);  // reused across prompts of different lengths
  int checked = 0, ended_with_eos = 0;
  for (const auto& r : (*generation_)["results"]) {
    const int i = r["image"];
    SCOPED_TRACE(str_cat("image ", i, " prompt \"", r["prompt"].get<std::string>(), "\""));
    const Tensor pre = prefix(i);
    const LmPrompt prompt = prompt_of(pre, ids_of(r["input_ids"]));
    auto g = generate(*state, {&prompt, 1}, greedy_options(), tokens());
    EXPECT_EQ(g[0][0].tokens, ids_of(r["greedy"]["new_tokens"]));
    EXPECT_EQ(g[0][0].ended_with_eos, r["greedy"]["ended_with_eos"].get<bool>());
    auto b = generate(*state, {&prompt, 1}, beam_options(), tokens());
    EXPECT_EQ(b[0][0].tokens, ids_of(r["beam"]["new_tokens"]));
    EXPECT_EQ(b[0][0].ended_with_eos, r["beam"]["ended_with_eos"].get<bool>());
    EXPECT_NEAR(b[0][0].score, r["beam"]["sequence_score"].get<double>(), 1e-4);
    ended_with_eos +=
        r["greedy"]["ended_with_eos"].get<bool>() + r["beam"]["ended_with_eos"].get<bool>();
    ++checked;
  }
  EXPECT_EQ(checked, 12);
  EXPECT_GT(ended_with_eos, 0);  // the fixture includes runs that stop at EOS
}

TEST_F(T5Parity, BatchedGenerationTokenExact) {
  const auto& batch = (*generation_)["batch"];
  std::vector<Tensor> prefixes;
  std::vector<LmPrompt> prompts;
  for (const auto& i : batch["images"]) prefixes.push_back(prefix(i.get<int>()));
  for (size_t k = 0; k < prefixes.size(); ++k)
    prompts.push_back(prompt_of(prefixes[k], ids_of(batch["input_ids"][k])));
  ASSERT_EQ(prompts.size(), 2u);
  auto state = t5_->new_state(*pool_);
  auto g = generate(*state, prompts, greedy_options(), tokens());
  auto b = generate(*state, prompts, beam_options(), tokens());
  ASSERT_EQ(g.size(), 2u);
  ASSERT_EQ(b.size(), 2u);
  for (size_t k = 0; k < prompts.size(); ++k) {
    SCOPED_TRACE(str_cat("row ", k));
    const auto& row = batch["rows"][k];
    EXPECT_EQ(g[k][0].tokens, ids_of(row["greedy"]["new_tokens"]));
    EXPECT_EQ(g[k][0].ended_with_eos, row["greedy"]["ended_with_eos"].get<bool>());
    EXPECT_EQ(b[k][0].tokens, ids_of(row["beam"]["new_tokens"]));
    EXPECT_NEAR(b[k][0].score, row["beam"]["sequence_score"].get<double>(), 1e-4);
  }
}

// Right padding: an item batched with a longer one must decode as it does alone (the key mask
// hides its pads from the encoder and from the decoder's cross-attention).
TEST_F(T5Parity, PaddedBatchMatchesSingleItems) {
  const Tensor pre0 = prefix(0), pre1 = prefix(1);
  const LmPrompt short_prompt = prompt_of(pre0, ids_of(expected("img0.p0.input_ids")));
  const LmPrompt long_prompt = prompt_of(pre1, ids_of(expected("img1.p2.input_ids")));
  ASSERT_LT(short_prompt.tokens.size(), long_prompt.tokens.size());
  const std::vector<LmPrompt> both = {short_prompt, long_prompt};
  auto state = t5_->new_state(*pool_);
  auto batched = generate(*state, both, beam_options(), tokens());
  for (size_t k = 0; k < both.size(); ++k) {
    SCOPED_TRACE(str_cat("item ", k));
    auto alone = generate(*state, {&both[k], 1}, beam_options(), tokens());
    EXPECT_EQ(batched[k][0].tokens, alone[0][0].tokens);
    EXPECT_NEAR(batched[k][0].score, alone[0][0].score, 1e-4);
  }
  // And against the reference for the item that generation.json covers alone.
  for (const auto& r : (*generation_)["results"]) {
    if (r["image"] == 0 && r["prompt_index"] == 0) {
      EXPECT_EQ(batched[0][0].tokens, ids_of(r["beam"]["new_tokens"]));
    }
  }
}

TEST_F(T5Parity, RejectsBadInputs) {
  const Tensor pre = prefix(0);
  LmPrompt prompt = prompt_of(pre, {5, 1});
  auto expect_kind = [](auto&& fn, ErrorKind kind) {
    try {
      fn();
      ADD_FAILURE() << "no error";
    } catch (const Error& e) {
      EXPECT_EQ(e.kind(), kind) << e.what();
    }
  };
  const int32_t too_big = static_cast<int32_t>(t5_->vocab_size());
  expect_kind([&] { t5_->forward_logits(*pool_, prompt, std::vector<int32_t>{}); },
              ErrorKind::kInvalidArgument);
  expect_kind(
      [&] {
        t5_->forward_logits(*pool_, prompt, std::vector<int32_t>{0, too_big});
      },
      ErrorKind::kInvalidArgument);
  LmPrompt bad = prompt_of(pre, {too_big});
  expect_kind([&] { t5_->encode(*pool_, bad); }, ErrorKind::kInvalidArgument);
  LmPrompt empty;
  auto state = t5_->new_state(*pool_);
  expect_kind([&] { state->start({&empty, 1}, 1, 5); }, ErrorKind::kInvalidArgument);
  WeightLoader w(Checkpoint::open(dir_));
  expect_kind(
      [&] { T5Model::load(w.scope("language_model"), config_->t5, config_->t5.vocab_size); },
      ErrorKind::kFormat);
}

}  // namespace
}  // namespace blip2
