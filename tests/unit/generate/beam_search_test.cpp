// Beam search bookkeeping (transformers 4.40.2 BeamSearchScorer / BeamHypotheses) on a fake
// language model whose next-token distribution is a table of the generated history. The expected
// hypotheses, scores and stopping steps below are worked out by hand in the comments.
#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <set>
#include <vector>

#include "fake_language_model.h"
#include "generate/generate.h"

namespace blip2 {
namespace {

using test::FakeState;
using test::log_probs;

// Vocabulary of the table model: 0 pad, 1 EOS, 2 "A", 3 "B".
constexpr int32_t kPad = 0, kEos = 1, kA = 2, kB = 3;

GenerationTokens tokens() {
  GenerationTokens t;
  t.eos_token_ids = {kEos};
  t.pad_token_id = kPad;
  return t;
}

// p(next | generated history) as {pad, EOS, A, B}; histories not listed use `fallback`.
FakeState table_model(std::map<std::vector<int32_t>, std::vector<double>> table,
                      std::vector<double> fallback) {
  return FakeState(4, [table, fallback](const std::vector<int32_t>& h) {
    const auto it = table.find(h);
    return log_probs(it != table.end() ? it->second : fallback);
  });
}

// The scenario of the early-stopping tests (K = 2, max_new_tokens 4):
//   []      -> EOS .1, A .6, B .3
//   [A]     -> EOS .5, A .3, B .2
//   [B]     -> EOS .7, A .2, B .1
//   [A,A]   -> EOS .2, A .5, B .3
//   [A,A,A] -> EOS .95, A .03, B .02
//   other   -> EOS .15, A .55, B .3
// Step 1: beams A (.6), B (.3).
// Step 2: candidates AE .3, BE .21, AA .18, AB .12: AE and BE (ranks 0, 1 < K) become
//   hypotheses with score ln(p)/2 (AE -0.60199, BE -0.78032); beams AA, AB.
//   early_stopping true: 2 hypotheses -> done.
// Step 3: AAA .09, ABA .066 (then AAB .054, ...): beams AAA, ABA.
//   heuristic: worst -0.78032 >= ln(.09)/3 = -0.80265 -> done.
//   never (length_penalty > 0): bound ln(.09)/4 = -0.60198 -> not done.
// Step 4 (never): AAAE .0855 (rank 0): hypothesis ln(.0855)/4 = -0.61481 replaces BE.
FakeState early_stopping_model() {
  return table_model({{{}, {0, .1, .6, .3}},
                      {{kA}, {0, .5, .3, .2}},
                      {{kB}, {0, .7, .2, .1}},
                      {{kA, kA}, {0, .2, .5, .3}},
                      {{kA, kA, kA}, {0, .95, .03, .02}}},
                     {0, .15, .55, .3});
}

GenerationOptions beam_options(EarlyStopping es, double length_penalty = 1.0) {
  GenerationOptions o;
  o.num_beams = 2;
  o.num_return_sequences = 2;
  o.max_new_tokens = 4;
  o.early_stopping = es;
  o.length_penalty = length_penalty;
  return o;
}

std::vector<GeneratedSequence> run(FakeState& state, const GenerationOptions& o) {
  const LmPrompt p = test::prompt_of({});
  return generate(state, {&p, 1}, o, tokens()).at(0);
}

TEST(BeamSearch, EarlyStoppingTrueStopsOnceNumBeamsHypothesesAreFinished) {
  FakeState state = early_stopping_model();
  const auto out = run(state, beam_options(EarlyStopping::kTrue));
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0].tokens, (std::vector<int32_t>{kA, kEos}));
  EXPECT_NEAR(out[0].score, std::log(.3) / 2, 1e-6);
  EXPECT_TRUE(out[0].ended_with_eos);
  EXPECT_EQ(out[1].tokens, (std::vector<int32_t>{kB, kEos}));
  EXPECT_NEAR(out[1].score, std::log(.21) / 2, 1e-6);
  EXPECT_EQ(state.steps(), 1);  // decided at step 2: only one step() after the prefill
}

TEST(BeamSearch, EarlyStoppingFalseStopsWhenNoBeamCanBeatTheWorstAtTheCurrentLength) {
  FakeState state = early_stopping_model();
  const auto out = run(state, beam_options(EarlyStopping::kHeuristic));
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0].tokens, (std::vector<int32_t>{kA, kEos}));
  EXPECT_EQ(out[1].tokens, (std::vector<int32_t>{kB, kEos}));
  EXPECT_NEAR(out[1].score, std::log(.21) / 2, 1e-6);
  EXPECT_EQ(state.steps(), 2);  // decided at step 3
}

TEST(BeamSearch, EarlyStoppingNeverBoundsWithTheMaximumLength) {
  FakeState state = early_stopping_model();
  const auto out = run(state, beam_options(EarlyStopping::kNever));
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0].tokens, (std::vector<int32_t>{kA, kEos}));
  EXPECT_NEAR(out[0].score, std::log(.3) / 2, 1e-6);
  EXPECT_EQ(out[1].tokens, (std::vector<int32_t>{kA, kA, kA, kEos}));
  EXPECT_NEAR(out[1].score, std::log(.0855) / 4, 1e-6);
  EXPECT_EQ(state.steps(), 3);  // ran to max_new_tokens
}

// length_penalty 2, never: hypotheses AE ln(.3)/4, BE ln(.21)/4; at step 4 AAAE ln(.0855)/16
// = -0.15370 replaces BE; not done (bound ln(.0855)/16 > worst AE -0.30099), so at the end the
// running beams are added: ABAA ln(.0363)/16 = -0.20724 replaces AE; ABAB -0.24513 does not
// make it. The longest sequences win.
TEST(BeamSearch, PositiveLengthPenaltyFavoursLongerSequences) {
  FakeState state = early_stopping_model();
  const auto out = run(state, beam_options(EarlyStopping::kNever, 2.0));
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0].tokens, (std::vector<int32_t>{kA, kA, kA, kEos}));
  EXPECT_NEAR(out[0].score, std::log(.0855) / 16, 1e-6);
  EXPECT_EQ(out[1].tokens, (std::vector<int32_t>{kA, kB, kA, kA}));
  EXPECT_NEAR(out[1].score, std::log(.0363) / 16, 1e-6);
  EXPECT_FALSE(out[1].ended_with_eos);
}

// length_penalty -1: a hypothesis scores sum * length. AE ln(.3)*2 = -2.40795, BE ln(.21)*2 =
// -3.12128; at step 3 the bound ln(.09)*3 = -7.22 is below the worst: done. "never" with a
// non-positive length penalty uses the current length too, so it stops at the same step.
TEST(BeamSearch, NegativeLengthPenaltyFavoursShorterSequences) {
  for (EarlyStopping es : {EarlyStopping::kHeuristic, EarlyStopping::kNever}) {
    FakeState state = early_stopping_model();
    const auto out = run(state, beam_options(es, -1.0));
    ASSERT_EQ(out.size(), 2u);
    EXPECT_EQ(out[0].tokens, (std::vector<int32_t>{kA, kEos}));
    EXPECT_NEAR(out[0].score, std::log(.3) * 2, 1e-5);
    EXPECT_EQ(out[1].tokens, (std::vector<int32_t>{kB, kEos}));
    EXPECT_NEAR(out[1].score, std::log(.21) * 2, 1e-5);
    EXPECT_EQ(state.steps(), 2);
  }
}

// Equal scores: A and B tie at step 1 (the lower index, A, gets beam 0), AE and BE tie at step 2
// and are added in that order. The reference sorts hypotheses ascending (stable) and pops the
// last, so of equal scores the one added last (BE) is returned first.
TEST(BeamSearch, EqualScoresReturnTheLastAddedHypothesisFirst) {
  FakeState state = table_model({{{}, {0, .2, .4, .4}}}, {0, .5, .25, .25});
  const auto out = run(state, beam_options(EarlyStopping::kTrue));
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0].score, out[1].score);
  EXPECT_EQ(out[0].tokens, (std::vector<int32_t>{kB, kEos}));
  EXPECT_EQ(out[1].tokens, (std::vector<int32_t>{kA, kEos}));
}

// An EOS candidate ranked at or after num_beams is not a hypothesis (K = 2, early_stopping true,
// so a wrongly added hypothesis would end the search at once):
//   []    -> EOS .05, A .6, B .35      step 1: beams A, B
//   [A]   -> EOS .35, A .6, B .05      step 2: AA .36 (beam), AE .21 (rank 1: hypothesis),
//   [B]   -> EOS .5,  A .4, B .1               BE .175 (rank 2: skipped), BA .14 (beam)
//   other -> EOS .99, A .005, B .005   step 3: AAE .3564, BAE .1386 -> hypotheses; AE dropped
TEST(BeamSearch, EosOutsideTheTopNumBeamsIsNotAHypothesis) {
  FakeState state =
      table_model({{{}, {0, .05, .6, .35}}, {{kA}, {0, .35, .6, .05}}, {{kB}, {0, .5, .4, .1}}},
                  {0, .99, .005, .005});
  GenerationOptions o = beam_options(EarlyStopping::kTrue);
  o.max_new_tokens = 3;
  const auto out = run(state, o);
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0].tokens, (std::vector<int32_t>{kA, kA, kEos}));
  EXPECT_NEAR(out[0].score, std::log(.3564) / 3, 1e-6);
  EXPECT_EQ(out[1].tokens, (std::vector<int32_t>{kB, kA, kEos}));
  EXPECT_NEAR(out[1].score, std::log(.1386) / 3, 1e-6);
  EXPECT_EQ(state.steps(), 2);
}

TEST(BeamSearch, NumReturnSequencesAreDistinctAndSortedByScore) {
  FakeState state(16, [](const std::vector<int32_t>& h) { return test::hashed_logits(h, 16); });
  GenerationOptions o;
  o.num_beams = 4;
  o.num_return_sequences = 4;
  o.max_new_tokens = 10;
  const LmPrompt p = test::prompt_of({5, 6});
  const auto out = generate(state, {&p, 1}, o, tokens()).at(0);
  ASSERT_EQ(out.size(), 4u);
  for (size_t i = 1; i < out.size(); ++i) {
    EXPECT_GE(out[i - 1].score, out[i].score);
    for (size_t j = 0; j < i; ++j) EXPECT_NE(out[i].tokens, out[j].tokens);
  }
  // The best of several equals the single best.
  o.num_return_sequences = 1;
  const auto one = generate(state, {&p, 1}, o, tokens()).at(0);
  ASSERT_EQ(one.size(), 1u);
  EXPECT_EQ(one[0].tokens, out[0].tokens);
  EXPECT_EQ(one[0].score, out[0].score);
}

TEST(BeamSearch, BatchWithDifferentPromptsEqualsSingleRuns) {
  auto fn = [](const std::vector<int32_t>& h) { return test::hashed_logits(h, 12); };
  GenerationOptions o;
  o.num_beams = 3;
  o.num_return_sequences = 2;
  o.max_new_tokens = 12;
  o.repetition_penalty = 1.2;
  o.no_repeat_ngram_size = 2;
  const std::vector<LmPrompt> prompts = {test::prompt_of({4}), test::prompt_of({5, 6, 7}),
                                         test::prompt_of({8, 9})};
  FakeState batch_state(12, fn);
  const auto batch = generate(batch_state, prompts, o, tokens());
  ASSERT_EQ(batch.size(), prompts.size());
  bool some_eos = false;
  for (size_t i = 0; i < prompts.size(); ++i) {
    FakeState single_state(12, fn);
    const auto single = generate(single_state, {&prompts[i], 1}, o, tokens()).at(0);
    ASSERT_EQ(batch[i].size(), single.size());
    for (size_t k = 0; k < single.size(); ++k) {
      EXPECT_EQ(batch[i][k].tokens, single[k].tokens) << "item " << i << " sequence " << k;
      EXPECT_EQ(batch[i][k].score, single[k].score);
      some_eos = some_eos || single[k].ended_with_eos;
    }
  }
  EXPECT_TRUE(some_eos) << "the scenario should end some hypotheses with EOS";
}

TEST(BeamSearch, NoRepeatNgramHoldsInEveryReturnedSequence) {
  // A model that wants to repeat the token before last (A B A B ...).
  FakeState state(6, [](const std::vector<int32_t>& h) {
    std::vector<float> l(6, 0.0f);
    l[kEos] = -5.0f;
    l[h.size() >= 2 ? h[h.size() - 2] : 2] += 4.0f;
    l[h.empty() ? 3 : (h.back() % 4) + 2] += 1.0f;
    return l;
  });
  GenerationOptions o;
  o.num_beams = 3;
  o.num_return_sequences = 3;
  o.max_new_tokens = 12;
  const LmPrompt p = test::prompt_of({});
  auto repeats = [](const std::vector<int32_t>& s, size_t n) {
    std::set<std::vector<int32_t>> seen;
    for (size_t i = 0; i + n <= s.size(); ++i)
      if (!seen.insert(std::vector<int32_t>(s.begin() + i, s.begin() + i + n)).second) return true;
    return false;
  };
  const auto plain = generate(state, {&p, 1}, o, tokens()).at(0);
  EXPECT_TRUE(repeats(plain[0].tokens, 3)) << "without the option the model repeats";
  for (int64_t n : {2, 3}) {
    o.no_repeat_ngram_size = n;
    const auto out = generate(state, {&p, 1}, o, tokens()).at(0);
    ASSERT_EQ(out.size(), 3u);
    for (const auto& s : out) EXPECT_FALSE(repeats(s.tokens, n)) << n;
  }
}

}  // namespace
}  // namespace blip2
