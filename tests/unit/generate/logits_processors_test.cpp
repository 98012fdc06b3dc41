// The logits processors and sampling warpers against hand-computed transforms of transformers
// 4.40.2's RepetitionPenaltyLogitsProcessor, NoRepeatNGramLogitsProcessor,
// MinNewTokensLengthLogitsProcessor, TemperatureLogitsWarper, TopKLogitsWarper and
// TopPLogitsWarper.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <vector>

#include "core/error.h"
#include "generate/logits_processors.h"
#include "generate/options.h"

namespace blip2 {
namespace {

constexpr float kInf = std::numeric_limits<float>::infinity();

GenerationTokens eos_tokens(std::vector<int32_t> eos) {
  GenerationTokens t;
  t.eos_token_ids = std::move(eos);
  return t;
}

TEST(RepetitionPenalty, DividesPositiveAndMultipliesNegativeScoresOncePerToken) {
  GenerationOptions o;
  o.repetition_penalty = 2.0;
  // Token 3 occurs twice in the history but is penalised once (gather/scatter of the original
  // scores); tokens 2 and 4 are not in the history and keep their scores.
  std::vector<float> s = {2.0f, -1.0f, 0.5f, -3.0f, 4.0f};
  const std::vector<int32_t> history = {1, 3, 3, 0};
  apply_logits_processors(o, eos_tokens({}), history, 4, s);
  EXPECT_EQ(s, (std::vector<float>{1.0f, -2.0f, 0.5f, -6.0f, 4.0f}));

  o.repetition_penalty = 0.5;  // < 1 encourages repeats: the opposite transform
  s = {2.0f, -1.0f, 0.5f, -3.0f, 4.0f};
  apply_logits_processors(o, eos_tokens({}), history, 4, s);
  EXPECT_EQ(s, (std::vector<float>{4.0f, -0.5f, 0.5f, -1.5f, 4.0f}));
}

TEST(RepetitionPenalty, ChangesTheGreedyChoiceAwayFromARepeat) {
  GenerationOptions o;
  o.repetition_penalty = 1.5;
  std::vector<float> s = {0.0f, 3.0f, 2.5f};  // token 1 is best but was already generated
  apply_logits_processors(o, eos_tokens({}), std::vector<int32_t>{1}, 1, s);
  EXPECT_FLOAT_EQ(s[1], 2.0f);
  EXPECT_GT(s[2], s[1]);
}

TEST(RepetitionPenalty, IgnoresHistoryIdsOutsideTheVocabulary) {
  GenerationOptions o;
  o.repetition_penalty = 2.0;
  std::vector<float> s = {1.0f, 1.0f};
  apply_logits_processors(o, eos_tokens({}), std::vector<int32_t>{7, -1, 1}, 3, s);
  EXPECT_EQ(s, (std::vector<float>{1.0f, 0.5f}));
}

TEST(NoRepeatNgram, BansTheTokensThatCompleteAnEarlierNgram) {
  std::vector<int32_t> banned;
  const std::vector<int32_t> h = {5, 6, 7, 5, 6};
  banned_ngram_tokens(h, 3, banned);  // suffix (5, 6) was followed by 7
  EXPECT_EQ(banned, (std::vector<int32_t>{7}));
  banned_ngram_tokens(h, 2, banned);  // suffix (6) was followed by 7
  EXPECT_EQ(banned, (std::vector<int32_t>{7}));
  banned_ngram_tokens(h, 1, banned);  // unigrams: every token seen
  EXPECT_EQ(banned, (std::vector<int32_t>{5, 6, 7, 5, 6}));
  banned_ngram_tokens(std::vector<int32_t>{5, 6, 5, 6, 5}, 2, banned);  // (5) -> 6 twice
  EXPECT_EQ(banned, (std::vector<int32_t>{6, 6}));
  // transformers bans nothing while cur_len + 1 < n.
  banned_ngram_tokens(std::vector<int32_t>{5}, 3, banned);
  EXPECT_TRUE(banned.empty());
  banned_ngram_tokens(std::vector<int32_t>{5, 5}, 3, banned);  // no complete 3-gram yet
  EXPECT_TRUE(banned.empty());
  banned_ngram_tokens(std::vector<int32_t>{}, 1, banned);
  EXPECT_TRUE(banned.empty());
}

TEST(NoRepeatNgram, SetsBannedScoresToMinusInfinity) {
  GenerationOptions o;
  o.no_repeat_ngram_size = 2;
  std::vector<float> s = {1.0f, 2.0f, 3.0f, 4.0f};
  apply_logits_processors(o, eos_tokens({}), std::vector<int32_t>{1, 3, 2, 1}, 4, s);  // (1) -> 3
  EXPECT_EQ(s, (std::vector<float>{1.0f, 2.0f, 3.0f, -kInf}));
}

TEST(MinNewTokens, SuppressesEveryEosUntilEnoughTokensWereGenerated) {
  GenerationOptions o;
  o.min_new_tokens = 2;
  const GenerationTokens t = eos_tokens({1, 3});
  for (int64_t generated : {0, 1, 2}) {
    std::vector<float> s = {0.5f, 0.5f, 0.5f, 0.5f};
    apply_logits_processors(o, t, {}, generated, s);
    if (generated < 2) {
      EXPECT_EQ(s, (std::vector<float>{0.5f, -kInf, 0.5f, -kInf})) << generated;
    } else {
      EXPECT_EQ(s, (std::vector<float>{0.5f, 0.5f, 0.5f, 0.5f}));
    }
  }
}

TEST(Processors, RunInTransformersOrder) {
  // Repetition penalty first (on the raw score), then n-gram ban and EOS suppression to -inf:
  // a penalty applied after the ban would turn -inf into -inf either way, but the penalised
  // value of a token that is not banned must be the penalty of the raw score.
  GenerationOptions o;
  o.repetition_penalty = 4.0;
  o.no_repeat_ngram_size = 2;
  o.min_new_tokens = 5;
  std::vector<float> s = {8.0f, 8.0f, 8.0f, 8.0f};
  apply_logits_processors(o, eos_tokens({3}), std::vector<int32_t>{2, 0, 2}, 3, s);  // (2) -> 0
  EXPECT_EQ(s, (std::vector<float>{-kInf, 8.0f, 2.0f, -kInf}));
}

TEST(Warpers, TemperatureDividesTheLogitsShiftedByTheirMaximum) {
  GenerationOptions o;
  o.temperature = 0.5;
  o.top_k = 0;
  // transformers: {2, -4, 6}; shifted by the maximum (the same softmax): {-4, -10, 0}.
  std::vector<float> l = {1.0f, -2.0f, 3.0f};
  std::vector<int32_t> scratch;
  apply_sampling_warpers(o, l, scratch);
  EXPECT_EQ(l, (std::vector<float>{-4.0f, -10.0f, 0.0f}));
  o.temperature = 1e-40;  // would overflow unshifted; the best token stays finite
  l = {1.0f, -2.0f, 3.0f, 2.9f};
  apply_sampling_warpers(o, l, scratch);
  EXPECT_EQ(l, (std::vector<float>{-kInf, -kInf, 0.0f, -kInf}));
}

TEST(Warpers, TopKKeepsEveryTokenTiedWithTheKth) {
  GenerationOptions o;
  std::vector<int32_t> scratch;
  o.top_k = 2;
  std::vector<float> l = {1.0f, 3.0f, 3.0f, 2.0f, 0.0f};
  apply_sampling_warpers(o, l, scratch);
  EXPECT_EQ(l, (std::vector<float>{-kInf, 3.0f, 3.0f, -kInf, -kInf}));
  l = {3.0f, 2.0f, 2.0f, 1.0f};
  apply_sampling_warpers(o, l, scratch);
  EXPECT_EQ(l, (std::vector<float>{3.0f, 2.0f, 2.0f, -kInf}));
  o.top_k = 0;  // disabled
  l = {3.0f, 2.0f, 2.0f, 1.0f};
  apply_sampling_warpers(o, l, scratch);
  EXPECT_EQ(l, (std::vector<float>{3.0f, 2.0f, 2.0f, 1.0f}));
  o.top_k = 10;  // more than the vocabulary: nothing removed
  apply_sampling_warpers(o, l, scratch);
  EXPECT_EQ(l, (std::vector<float>{3.0f, 2.0f, 2.0f, 1.0f}));
}

std::vector<float> logs(std::vector<double> p) {
  std::vector<float> l;
  for (double x : p) l.push_back(static_cast<float>(std::log(x)));
  return l;
}

TEST(Warpers, TopPRemovesTheLeastLikelyTokensHoldingAtMostOneMinusTopP) {
  GenerationOptions o;
  o.top_k = 0;
  std::vector<int32_t> scratch;
  const std::vector<float> l0 = logs({0.05, 0.5, 0.15, 0.3});
  // Ascending: 0.05 (cum 0.05), 0.15 (0.20), 0.3 (0.50), 0.5 (1.0).
  o.top_p = 0.75;  // remove cum <= 0.25: ids 0 and 2
  std::vector<float> l = l0;
  apply_sampling_warpers(o, l, scratch);
  EXPECT_EQ(l, (std::vector<float>{-kInf, l0[1], -kInf, l0[3]}));
  o.top_p = 0.9;  // remove cum <= 0.1: id 0 only
  l = l0;
  apply_sampling_warpers(o, l, scratch);
  EXPECT_EQ(l, (std::vector<float>{-kInf, l0[1], l0[2], l0[3]}));
  o.top_p = 0.0;  // everything but the most likely token (min_tokens_to_keep 1)
  l = l0;
  apply_sampling_warpers(o, l, scratch);
  EXPECT_EQ(l, (std::vector<float>{-kInf, l0[1], -kInf, -kInf}));
  o.top_p = 1.0;  // disabled
  l = l0;
  apply_sampling_warpers(o, l, scratch);
  EXPECT_EQ(l, l0);
}

TEST(Warpers, TopPOrdersEqualLogitsByIdLikeAStableAscendingSort) {
  GenerationOptions o;
  o.top_k = 0;
  o.top_p = 0.5;  // four equal tokens: cum 0.25, 0.5 (<= 0.5: removed), 0.75, 1.0
  std::vector<int32_t> scratch;
  std::vector<float> l = {0.0f, 0.0f, 0.0f, 0.0f};
  apply_sampling_warpers(o, l, scratch);
  EXPECT_EQ(l, (std::vector<float>{-kInf, -kInf, 0.0f, 0.0f}));
}

TEST(Warpers, TopKRunsBeforeTopP) {
  GenerationOptions o;
  std::vector<int32_t> scratch;
  // top_p 0.5 alone on (0.4, 0.3, 0.2, 0.1): ascending cum 0.1, 0.3 (<= 0.5: removed), 0.6 -> keeps
  // ids 0 and 1.
  o.top_k = 0;
  o.top_p = 0.5;
  std::vector<float> l = logs({0.4, 0.3, 0.2, 0.1});
  apply_sampling_warpers(o, l, scratch);
  EXPECT_TRUE(std::isfinite(l[0]) && std::isfinite(l[1]));
  EXPECT_EQ(l[2], -kInf);
  EXPECT_EQ(l[3], -kInf);
  // After top_k 2 the survivors renormalise to 4/7 and 3/7; cum 3/7 <= 0.5 removes id 1 too.
  o.top_k = 2;
  l = logs({0.4, 0.3, 0.2, 0.1});
  apply_sampling_warpers(o, l, scratch);
  EXPECT_TRUE(std::isfinite(l[0]));
  EXPECT_EQ(l[1], -kInf);
  EXPECT_EQ(l[2], -kInf);
  EXPECT_EQ(l[3], -kInf);
}

TEST(Options, ValidateNamesTheBadOption) {
  auto message = [](auto&& change) {
    GenerationOptions o;
    change(o);
    try {
      o.validate();
    } catch (const Error& e) {
      EXPECT_EQ(e.kind(), ErrorKind::kInvalidArgument);
      return std::string(e.what());
    }
    return std::string("(accepted)");
  };
  EXPECT_NE(message([](GenerationOptions& o) { o.temperature = 0; }).find("temperature"),
            std::string::npos);
  EXPECT_NE(message([](GenerationOptions& o) { o.top_p = 1.5; }).find("top_p"), std::string::npos);
  EXPECT_NE(message([](GenerationOptions& o) { o.top_k = -1; }).find("top_k"), std::string::npos);
  EXPECT_NE(
      message([](GenerationOptions& o) { o.repetition_penalty = 0; }).find("repetition_penalty"),
      std::string::npos);
  EXPECT_NE(message([](GenerationOptions& o) {
              o.num_return_sequences = 2;
            }).find("num_return_sequences"),
            std::string::npos);
  EXPECT_NE(message([](GenerationOptions& o) {
              o.do_sample = true;
              o.num_beams = 2;
            }).find("beam-sample"),
            std::string::npos);
  EXPECT_NE(message([](GenerationOptions& o) { o.max_new_tokens = 0; }).find("max_new_tokens"),
            std::string::npos);
  EXPECT_NE(message([](GenerationOptions& o) { o.min_new_tokens = -1; }).find("min_new_tokens"),
            std::string::npos);
  EXPECT_NE(message([](GenerationOptions& o) {
              o.no_repeat_ngram_size = -1;
            }).find("no_repeat_ngram_size"),
            std::string::npos);
  EXPECT_NE(
      message([](GenerationOptions& o) { o.length_penalty = INFINITY; }).find("length_penalty"),
      std::string::npos);
  // Accepted: sampling with several sequences, top_p 0 (keeps the best token), beams with N <= K.
  EXPECT_EQ(message([](GenerationOptions& o) {
              o.do_sample = true;
              o.num_return_sequences = 4;
              o.top_p = 0.0;
            }),
            "(accepted)");
  EXPECT_EQ(message([](GenerationOptions& o) {
              o.num_beams = 4;
              o.num_return_sequences = 4;
            }),
            "(accepted)");
}

}  // namespace
}  // namespace blip2
