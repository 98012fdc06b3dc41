// Greedy search and sampling on a fake language model with non-degenerate logits: seeds,
// per-item random streams (batch == single runs), several samples per item, the greedy limits of
// top_k = 1 and a tiny temperature, EOS padding, min_new_tokens and the token callback.
#include <gtest/gtest.h>

#include <set>
#include <vector>

#include "fake_language_model.h"
#include "generate/generate.h"

namespace blip2 {
namespace {

using test::FakeState;

constexpr int64_t kVocab = 24;
constexpr int32_t kPad = 0, kEos = 1;

GenerationTokens tokens() {
  GenerationTokens t;
  t.eos_token_ids = {kEos};
  t.pad_token_id = kPad;
  return t;
}

// Hashed logits with EOS pushed down so sequences run long enough to compare.
FakeState model(float eos_bias = -3.0f) {
  return FakeState(kVocab, [eos_bias](const std::vector<int32_t>& h) {
    auto l = test::hashed_logits(h, kVocab);
    l[kEos] += eos_bias;
    return l;
  });
}

GenerationOptions sampling(uint64_t seed) {
  GenerationOptions o;
  o.do_sample = true;
  o.top_k = 0;
  o.seed = seed;
  o.max_new_tokens = 16;
  return o;
}

std::vector<GeneratedSequence> run(FakeState& state, const GenerationOptions& o,
                                   std::vector<int32_t> prompt = {3}) {
  const LmPrompt p = test::prompt_of(std::move(prompt));
  return generate(state, {&p, 1}, o, tokens()).at(0);
}

TEST(Sampling, SameSeedSameTokensOtherSeedOtherTokens) {
  FakeState state = model();
  const auto a = run(state, sampling(42));
  const auto b = run(state, sampling(42));
  ASSERT_EQ(a.size(), 1u);
  EXPECT_EQ(a[0].tokens, b[0].tokens);
  EXPECT_EQ(a[0].score, b[0].score);
  std::set<std::vector<int32_t>> distinct;
  for (uint64_t seed = 1; seed <= 8; ++seed) distinct.insert(run(state, sampling(seed))[0].tokens);
  EXPECT_GE(distinct.size(), 6u) << "8 seeds on a flat 24-token distribution should rarely collide";
  // And sampling is not greedy.
  GenerationOptions greedy;
  greedy.max_new_tokens = 16;
  EXPECT_EQ(distinct.count(run(state, greedy)[0].tokens), 0u);
}

TEST(Sampling, WithoutASeedRunsDiffer) {
  FakeState state = model();
  GenerationOptions o = sampling(0);
  o.seed.reset();
  const auto a = run(state, o), b = run(state, o);
  EXPECT_NE(a[0].tokens, b[0].tokens);  // 16 draws over ~24 tokens: equal by chance ~never
}

TEST(Sampling, BatchWithDifferentPromptsEqualsSingleRuns) {
  GenerationOptions o = sampling(7);
  o.top_k = 10;
  o.top_p = 0.9;
  o.temperature = 1.3;
  o.repetition_penalty = 1.1;
  o.num_return_sequences = 2;
  const std::vector<LmPrompt> prompts = {test::prompt_of({2}), test::prompt_of({5, 6}),
                                         test::prompt_of({2}), test::prompt_of({9, 8, 7})};
  FakeState batch_state = model(-1.0f);
  const auto batch = generate(batch_state, prompts, o, tokens());
  ASSERT_EQ(batch.size(), prompts.size());
  for (size_t i = 0; i < prompts.size(); ++i) {
    FakeState single_state = model(-1.0f);
    const auto single = generate(single_state, {&prompts[i], 1}, o, tokens()).at(0);
    ASSERT_EQ(single.size(), 2u);
    ASSERT_EQ(batch[i].size(), 2u);
    for (size_t k = 0; k < 2; ++k) {
      EXPECT_EQ(batch[i][k].tokens, single[k].tokens) << "item " << i << " sample " << k;
      EXPECT_EQ(batch[i][k].score, single[k].score);
    }
  }
  // The seed maps to items by content, not position: items 0 and 2 have the same prompt.
  EXPECT_EQ(batch[0][0].tokens, batch[2][0].tokens);
  EXPECT_NE(batch[0][0].tokens, batch[1][0].tokens);
}

TEST(Sampling, NumReturnSequencesGivesIndependentSamplesTheFirstBeingTheSingleSample) {
  FakeState state = model();
  GenerationOptions o = sampling(11);
  o.num_return_sequences = 5;
  const auto many = run(state, o);
  ASSERT_EQ(many.size(), 5u);
  std::set<std::vector<int32_t>> distinct;
  for (const auto& s : many) distinct.insert(s.tokens);
  EXPECT_GE(distinct.size(), 4u);
  o.num_return_sequences = 1;
  const auto one = run(state, o);
  EXPECT_EQ(one[0].tokens, many[0].tokens);  // sample j uses stream (seed, j)
}

TEST(Sampling, TopKOneAndATinyTemperatureEqualGreedy) {
  FakeState state = model();
  GenerationOptions greedy;
  greedy.max_new_tokens = 16;
  greedy.repetition_penalty = 1.3;  // processors apply the same way in both modes
  for (std::vector<int32_t> prompt : {std::vector<int32_t>{3}, {4, 5}, {9}}) {
    const auto want = run(state, greedy, prompt);
    for (uint64_t seed : {1u, 2u, 3u}) {
      GenerationOptions k1 = sampling(seed);
      k1.top_k = 1;
      k1.repetition_penalty = 1.3;
      EXPECT_EQ(run(state, k1, prompt)[0].tokens, want[0].tokens);
      GenerationOptions cold = sampling(seed);
      cold.temperature = 1e-4;  // logit gaps of the fake model are >> 1e-4 * 40
      cold.repetition_penalty = 1.3;
      EXPECT_EQ(run(state, cold, prompt)[0].tokens, want[0].tokens);
      GenerationOptions frozen = cold;
      frozen.temperature = 1e-40;  // every gap overflows to -inf: still the greedy limit
      EXPECT_EQ(run(state, frozen, prompt)[0].tokens, want[0].tokens);
    }
  }
}

TEST(Sampling, FinishedItemsArePaddedAndTheOthersGoOn) {
  // Item 0 ends at once (EOS is certain after prompt [1]); item 1 never emits EOS.
  FakeState state(kVocab, [](const std::vector<int32_t>& h) {
    std::vector<float> l = test::hashed_logits(h, kVocab);
    l[kEos] = h.front() == 1 ? 50.0f : -50.0f;
    return l;
  });
  const std::vector<LmPrompt> prompts = {test::prompt_of({1}), test::prompt_of({2})};
  GenerationOptions o = sampling(3);
  o.max_new_tokens = 5;
  const auto out = generate(state, prompts, o, tokens());
  EXPECT_EQ(out[0][0].tokens, (std::vector<int32_t>{kEos}));
  EXPECT_TRUE(out[0][0].ended_with_eos);
  EXPECT_EQ(out[1][0].tokens.size(), 5u);
  EXPECT_FALSE(out[1][0].ended_with_eos);
  // Item 0 feeds its EOS once, then the pad token, as the reference's unfinished_sequences mask.
  ASSERT_EQ(state.fed().size(), 4u);  // steps after tokens 1..4
  EXPECT_EQ(state.fed()[0][0], kEos);
  for (size_t s = 1; s < state.fed().size(); ++s) EXPECT_EQ(state.fed()[s][0], kPad);
  for (size_t s = 0; s < state.fed().size(); ++s) EXPECT_EQ(state.fed()[s][1], out[1][0].tokens[s]);
}

TEST(Greedy, MinNewTokensPreventsAnEarlyEos) {
  // EOS is the best token from the second step on.
  FakeState state(kVocab, [](const std::vector<int32_t>& h) {
    std::vector<float> l = test::hashed_logits(h, kVocab);
    l[kEos] = h.size() >= 2 ? 10.0f : -10.0f;
    return l;
  });
  GenerationOptions o;
  o.max_new_tokens = 10;
  const auto plain = run(state, o);
  ASSERT_EQ(plain[0].tokens.size(), 2u);
  EXPECT_EQ(plain[0].tokens.back(), kEos);
  o.min_new_tokens = 4;
  const auto longer = run(state, o);
  ASSERT_EQ(longer[0].tokens.size(), 5u);  // 4 tokens, then EOS as soon as it is allowed
  EXPECT_EQ(longer[0].tokens[0], plain[0].tokens[0]);
  for (int i = 0; i < 4; ++i) EXPECT_NE(longer[0].tokens[i], kEos);
  EXPECT_EQ(longer[0].tokens[4], kEos);
  // Beam search honours it too.
  o.num_beams = 3;
  const auto beam = run(state, o);
  ASSERT_GE(beam[0].tokens.size(), 5u);
  for (int i = 0; i < 4; ++i) EXPECT_NE(beam[0].tokens[i], kEos);
}

TEST(Greedy, TokenCallbackStopsOnlyItsItem) {
  FakeState state = model();
  const std::vector<LmPrompt> prompts = {test::prompt_of({2}), test::prompt_of({3})};
  GenerationOptions o;
  o.max_new_tokens = 8;
  std::vector<std::vector<int32_t>> seen(2);
  const auto out = generate(state, prompts, o, tokens(), [&](int64_t item, int32_t tok) {
    seen[item].push_back(tok);
    return !(item == 0 && seen[0].size() == 3);
  });
  EXPECT_EQ(out[0][0].tokens.size(), 3u);
  EXPECT_EQ(out[1][0].tokens.size(), 8u);
  EXPECT_EQ(seen[0], out[0][0].tokens);
  EXPECT_EQ(seen[1], out[1][0].tokens);
  FakeState fresh = model();
  const auto alone = generate(fresh, {&prompts[1], 1}, o, tokens()).at(0);
  EXPECT_EQ(alone[0].tokens, out[1][0].tokens);
}

}  // namespace
}  // namespace blip2
