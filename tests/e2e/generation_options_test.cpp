// Every generation option on the real pipeline (the opt-tiny and t5-tiny fixtures and the demo
// model). The reference fixtures hold only plain greedy and beam outputs, so the options are
// checked by properties that cannot hold by accident, and the logits processors against an
// oracle: a greedy loop that recomputes the logits from scratch (LanguageModel::forward_logits,
// no cache) for every step and applies the processors to the reference's input_ids history.
#include <gtest/gtest.h>

#include <set>

#include "blip2/blip2.h"
#include "common/cli_runner.h"
#include "common/test_util.h"
#include "generate/logits_processors.h"
#include "models/blip2/blip2_model.h"

namespace blip2 {
namespace {

struct Case {
  std::string image_file;  // relative to the fixture's expected/ folder
  std::string prompt;
};

class Fixture {
 public:
  explicit Fixture(const std::string& name)
      : dir_(test::data_path(name)),
        engine_(Engine::load(dir_, test::two_threads())),
        session_(engine_) {
    const auto gen = test::load_json(dir_ + "/expected/generation.json");
    for (const auto& r : gen["results"]) {
      const std::string file = r["image_file"];
      if (!images_.count(file))
        images_.emplace(file, decode_image_file(dir_ + "/expected/" + file));
      cases_.push_back({file, r["prompt"]});
    }
  }
  const Engine& engine() const { return *engine_; }
  Session& session() { return session_; }
  const std::vector<Case>& cases() const { return cases_; }
  const RgbImage& image(const std::string& file) const { return images_.at(file); }
  CaptionResult run(const Case& c, const GenerationOptions& o) {
    return session_.caption(image(c.image_file), c.prompt, o);
  }

  // Greedy search with the logits processors, every step's logits recomputed without a cache.
  std::vector<int32_t> oracle_greedy(const Case& c, const GenerationOptions& o) const {
    const Blip2Model& model = engine_->model();
    const int64_t S = engine_->image_size();
    Tensor pixels = Tensor::empty(DType::kF32, {1, 3, S, S});
    engine_->preprocess(image(c.image_file), pixels.mutable_data<float>());
    const ImageFeatures f = model.encode_images(engine_->pool(), pixels);
    const GenerationTokens t = model.generation_tokens();
    const bool t5 = engine_->config().lm_type == LanguageModelType::kT5;
    const std::vector<int32_t> ids = engine_->prompt_ids(c.prompt);
    std::vector<int32_t> generated;
    for (int64_t step = 0; step < o.max_new_tokens; ++step) {
      std::vector<int32_t> lm_ids = ids, decoder;
      if (t5) {
        decoder = t.history_prefix;
        decoder.insert(decoder.end(), generated.begin(), generated.end());
      } else {
        lm_ids.insert(lm_ids.end(), generated.begin(), generated.end());
      }
      const Tensor logits = model.language_model().forward_logits(
          engine_->pool(), model.lm_prompt(f.language_model_inputs, 0, lm_ids), decoder);
      const int64_t V = logits.dim(1);
      std::vector<float> row(logits.data<float>() + (logits.dim(0) - 1) * V,
                             logits.data<float>() + logits.dim(0) * V);
      std::vector<int32_t> history = t.history_prefix;
      history.insert(history.end(), generated.begin(), generated.end());
      apply_logits_processors(o, t, history, step, row);
      const int32_t tok =
          static_cast<int32_t>(std::max_element(row.begin(), row.end()) - row.begin());
      generated.push_back(tok);
      if (std::find(t.eos_token_ids.begin(), t.eos_token_ids.end(), tok) != t.eos_token_ids.end())
        break;
    }
    return generated;
  }

 private:
  std::string dir_;
  std::shared_ptr<const Engine> engine_;
  Session session_;
  std::map<std::string, RgbImage> images_;
  std::vector<Case> cases_;
};

GenerationOptions greedy(int64_t max_new = 20) {
  GenerationOptions o;
  o.max_new_tokens = max_new;
  return o;
}

// The reference's input_ids history for the n-gram rule: T5's decoder start token counts.
std::vector<int32_t> history(const Fixture& f, const std::vector<int32_t>& generated) {
  std::vector<int32_t> h = f.engine().model().generation_tokens().history_prefix;
  h.insert(h.end(), generated.begin(), generated.end());
  return h;
}

bool has_repeated_ngram(const std::vector<int32_t>& s, size_t n) {
  std::set<std::vector<int32_t>> seen;
  for (size_t i = 0; i + n <= s.size(); ++i)
    if (!seen.insert(std::vector<int32_t>(s.begin() + i, s.begin() + i + n)).second) return true;
  return false;
}

class Options : public ::testing::TestWithParam<std::string> {
 protected:
  static Fixture& fixture(const std::string& name) {
    static std::map<std::string, std::unique_ptr<Fixture>> fixtures;
    auto& f = fixtures[name];
    if (!f) f = std::make_unique<Fixture>(name);
    return *f;
  }
  Fixture& f() { return fixture(GetParam()); }
};

TEST_P(Options, NoRepeatNgramSizeForbidsRepeatsWhereGreedyRepeats) {
  // A repetition penalty below 1 rewards repeats, so that both fixtures repeat a lot without the
  // n-gram rule (opt-tiny's plain greedy outputs already do).
  GenerationOptions repetitive = greedy();
  repetitive.repetition_penalty = 0.5;
  for (size_t n : {1u, 2u, 3u}) {
    int repeating = 0;
    for (const Case& c : f().cases()) {
      SCOPED_TRACE(str_cat(c.image_file, " \"", c.prompt, "\" n=", n));
      const CaptionResult plain = f().run(c, repetitive);
      repeating += has_repeated_ngram(history(f(), plain.token_ids), n);
      GenerationOptions o = repetitive;
      o.no_repeat_ngram_size = static_cast<int64_t>(n);
      const CaptionResult r = f().run(c, o);
      EXPECT_FALSE(has_repeated_ngram(history(f(), r.token_ids), n));
      EXPECT_EQ(r.token_ids, f().oracle_greedy(c, o));
      o.num_beams = 3;
      o.num_return_sequences = 3;
      for (const Sequence& s : f().run(c, o).sequences)
        EXPECT_FALSE(has_repeated_ngram(history(f(), s.token_ids), n));
    }
    EXPECT_GE(repeating, 6) << "the property must be tested where greedy repeats (n=" << n << ")";
  }
}

TEST_P(Options, RepetitionPenaltyMatchesTheOracleAndChangesRepetitiveOutputs) {
  int changed = 0;
  for (const Case& c : f().cases()) {
    SCOPED_TRACE(str_cat(c.image_file, " \"", c.prompt, "\""));
    const CaptionResult plain = f().run(c, greedy());
    for (double penalty : {1.5, 0.7}) {
      GenerationOptions o = greedy();
      o.repetition_penalty = penalty;
      const CaptionResult r = f().run(c, o);
      EXPECT_EQ(r.token_ids, f().oracle_greedy(c, o)) << "penalty " << penalty;
      if (penalty > 1 && has_repeated_ngram(plain.token_ids, 1))
        changed += r.token_ids != plain.token_ids;
    }
    GenerationOptions beam = greedy();
    beam.num_beams = 3;
    beam.repetition_penalty = 5.0;
    const CaptionResult b = f().run(c, beam);
    EXPECT_FALSE(b.token_ids.empty());
  }
  EXPECT_GE(changed, 2) << "a penalty of 1.5 should change repetitive greedy outputs";
}

TEST_P(Options, MinNewTokensPreventsAnEarlyEos) {
  const auto eos = f().engine().model().generation_tokens().eos_token_ids;
  int early = 0;
  for (const Case& c : f().cases()) {
    SCOPED_TRACE(str_cat(c.image_file, " \"", c.prompt, "\""));
    const CaptionResult plain = f().run(c, greedy());
    if (!plain.sequences[0].ended_with_eos || plain.token_ids.size() >= 12) continue;
    ++early;  // e.g. opt-tiny, "a photo of" on img0: EOS at step 6
    GenerationOptions o = greedy();
    o.min_new_tokens = 12;
    for (int64_t beams : {1, 3}) {
      o.num_beams = beams;
      const CaptionResult r = f().run(c, o);
      ASSERT_GE(r.token_ids.size(), 12u);
      for (size_t i = 0; i < 12; ++i)
        EXPECT_EQ(std::count(eos.begin(), eos.end(), r.token_ids[i]), 0)
            << "EOS at " << i << ", beams " << beams;
      if (beams == 1) {
        const size_t eos_at = plain.token_ids.size() - 1;
        EXPECT_TRUE(std::equal(plain.token_ids.begin(), plain.token_ids.begin() + eos_at,
                               r.token_ids.begin()));
        EXPECT_EQ(r.token_ids, f().oracle_greedy(c, o));
      }
    }
  }
  EXPECT_GE(early, 1) << "needs a case where greedy ends early";
}

TEST_P(Options, TopKOneAndNearZeroTemperatureSamplingEqualGreedy) {
  for (const Case& c : f().cases()) {
    SCOPED_TRACE(str_cat(c.image_file, " \"", c.prompt, "\""));
    const CaptionResult plain = f().run(c, greedy());
    for (uint64_t seed : {1u, 2u}) {
      GenerationOptions o = greedy();
      o.do_sample = true;
      o.seed = seed;
      o.top_k = 1;
      EXPECT_EQ(f().run(c, o).token_ids, plain.token_ids) << "top_k 1";
      o.top_k = 0;
      o.temperature = 1e-3;  // fixture margins are >= 0.13: exp(-130) is 0
      EXPECT_EQ(f().run(c, o).token_ids, plain.token_ids) << "temperature 1e-3";
    }
  }
}

TEST_P(Options, BeamNumReturnSequencesAreDistinctAndSortedByScore) {
  for (const Case& c : f().cases()) {
    SCOPED_TRACE(str_cat(c.image_file, " \"", c.prompt, "\""));
    GenerationOptions o = greedy();
    o.num_beams = 4;
    const CaptionResult one = f().run(c, o);
    o.num_return_sequences = 4;
    const CaptionResult all = f().run(c, o);
    ASSERT_EQ(all.sequences.size(), 4u);
    EXPECT_EQ(all.token_ids, one.token_ids);
    EXPECT_EQ(all.text, all.sequences[0].text);
    for (size_t i = 1; i < 4; ++i) {
      EXPECT_GE(all.sequences[i - 1].score, all.sequences[i].score);
      for (size_t j = 0; j < i; ++j)
        EXPECT_NE(all.sequences[i].token_ids, all.sequences[j].token_ids);
    }
  }
}

TEST_P(Options, SamplingNumReturnSequencesGivesNSamples) {
  const Case& c = f().cases().front();
  GenerationOptions o = greedy();
  o.do_sample = true;
  o.seed = 5;
  o.temperature = 100.0;  // the fixtures' logits are large by construction: flatten them
  const CaptionResult one = f().run(c, o);
  o.num_return_sequences = 4;
  const CaptionResult four = f().run(c, o);
  ASSERT_EQ(four.sequences.size(), 4u);
  EXPECT_EQ(four.sequences[0].token_ids, one.token_ids);  // sample j uses the stream (seed, j)
  std::set<std::vector<int32_t>> distinct;
  for (const Sequence& s : four.sequences) distinct.insert(s.token_ids);
  EXPECT_GE(distinct.size(), 3u);
}

TEST_P(Options, SameSeedSameTokensOtherSeedsOtherTokens) {
  const Case& c = f().cases().front();
  GenerationOptions o = greedy();
  o.do_sample = true;
  o.temperature = 100.0;
  o.top_k = 0;
  std::set<std::vector<int32_t>> distinct;
  for (uint64_t seed = 1; seed <= 4; ++seed) {
    o.seed = seed;
    const CaptionResult a = f().run(c, o), b = f().run(c, o);
    EXPECT_EQ(a.token_ids, b.token_ids) << "seed " << seed;
    distinct.insert(a.token_ids);
  }
  EXPECT_GE(distinct.size(), 3u);
}

TEST_P(Options, NegativeLengthPenaltyFavoursShorterOutputs) {
  size_t short_total = 0, long_total = 0;
  int shorter = 0;
  for (const Case& c : f().cases()) {
    SCOPED_TRACE(str_cat(c.image_file, " \"", c.prompt, "\""));
    GenerationOptions o = greedy();
    o.num_beams = 4;
    o.length_penalty = -1.0;
    const CaptionResult s = f().run(c, o);
    o.length_penalty = 2.0;
    const CaptionResult l = f().run(c, o);
    short_total += s.token_ids.size();
    long_total += l.token_ids.size();
    shorter += s.token_ids.size() < l.token_ids.size();
  }
  EXPECT_GE(shorter, 1);
  EXPECT_LT(short_total, long_total);
}

TEST_P(Options, EarlyStoppingVariantsAllReturnValidSequences) {
  for (const Case& c : f().cases()) {
    SCOPED_TRACE(str_cat(c.image_file, " \"", c.prompt, "\""));
    GenerationOptions o = greedy();
    o.num_beams = 3;
    o.num_return_sequences = 3;
    std::vector<double> best;
    for (EarlyStopping es :
         {EarlyStopping::kTrue, EarlyStopping::kHeuristic, EarlyStopping::kNever}) {
      o.early_stopping = es;
      const CaptionResult r = f().run(c, o);
      ASSERT_EQ(r.sequences.size(), 3u);
      best.push_back(r.sequences[0].score);
    }
    // Searching longer can only find hypotheses at least as good: true <= false <= never.
    EXPECT_LE(best[0], best[1] + 1e-6);
    EXPECT_LE(best[1], best[2] + 1e-6);
  }
}

TEST_P(Options, BatchWithDifferentPromptsEqualsSingleRuns) {
  std::vector<CaptionRequest> reqs;
  for (size_t i = 0; i < f().cases().size(); i += 2) {  // every image with each prompt in turn
    const Case& c = f().cases()[i];
    reqs.push_back({&f().image(c.image_file), c.prompt});
  }
  ASSERT_GE(reqs.size(), 4u);
  std::vector<GenerationOptions> all;
  GenerationOptions g = greedy();
  g.repetition_penalty = 1.2;
  g.no_repeat_ngram_size = 3;
  g.min_new_tokens = 2;
  all.push_back(g);
  GenerationOptions b = g;
  b.num_beams = 3;
  b.num_return_sequences = 2;
  all.push_back(b);
  GenerationOptions s = g;
  s.do_sample = true;
  s.seed = 9;
  s.temperature = 50.0;
  s.top_k = 20;
  s.top_p = 0.95;
  s.num_return_sequences = 2;
  all.push_back(s);
  for (const GenerationOptions& o : all) {
    const auto batch = f().session().generate(reqs, o);
    ASSERT_EQ(batch.size(), reqs.size());
    for (size_t i = 0; i < reqs.size(); ++i) {
      SCOPED_TRACE(str_cat("beams ", o.num_beams, " sample ", o.do_sample, " item ", i));
      const CaptionResult single = f().session().caption(*reqs[i].image, reqs[i].prompt, o);
      ASSERT_EQ(batch[i].sequences.size(), single.sequences.size());
      for (size_t k = 0; k < single.sequences.size(); ++k) {
        EXPECT_EQ(batch[i].sequences[k].token_ids, single.sequences[k].token_ids)
            << "sequence " << k;
        EXPECT_NEAR(batch[i].sequences[k].score, single.sequences[k].score, 1e-4);
      }
    }
  }
}

TEST_P(Options, TextCallbackCanStopGeneration) {
  const Case& c = f().cases().front();
  const CaptionRequest req{&f().image(c.image_file), c.prompt};
  GenerationOptions o = greedy();
  o.no_repeat_ngram_size = 1;  // no repeats: the full output is long and never ends on EOS early
  const CaptionResult full = f().session().generate({&req, 1}, o).at(0);
  ASSERT_GT(full.token_ids.size(), 4u);
  std::string streamed;
  int pieces = 0;
  const CaptionResult stopped = f().session()
                                    .generate({&req, 1}, o,
                                              [&](int64_t, std::string_view piece) {
                                                streamed += piece;
                                                return ++pieces < 2;
                                              })
                                    .at(0);
  EXPECT_LT(stopped.token_ids.size(), full.token_ids.size());
  EXPECT_TRUE(
      std::equal(stopped.token_ids.begin(), stopped.token_ids.end(), full.token_ids.begin()));
  EXPECT_EQ(pieces, 2);
  EXPECT_EQ(full.text.substr(0, streamed.size()), streamed);
}

INSTANTIATE_TEST_SUITE_P(Fixtures, Options, ::testing::Values("opt-tiny", "t5-tiny"));

// The demo model's distribution is non-degenerate at temperature 1: sampling varies with the
// seed and repeats with it.
TEST(DemoSampling, SeedsReproduceAndDiffer) {
  auto engine = Engine::load(test::repo_path("models/shapes-demo"), test::two_threads());
  Session session(engine);
  const RgbImage im =
      decode_image_file(test::repo_path("models/shapes-demo/examples/textured.png"));
  GenerationOptions o = engine->default_options(Task::kCaption);
  o.do_sample = true;
  o.temperature = 1.5;
  o.top_k = 0;
  std::set<std::string> distinct;
  for (uint64_t seed = 1; seed <= 6; ++seed) {
    o.seed = seed;
    const CaptionResult a = session.caption(im, "", o), b = session.caption(im, "", o);
    EXPECT_EQ(a.token_ids, b.token_ids);
    distinct.insert(a.text);
  }
  EXPECT_GE(distinct.size(), 3u);
}

// Requests that share an image (questions about one picture) encode it once; the answers are
// those of requests with separate copies of the image.
TEST(SharedImages, OneEncodingPerImageGivesTheSameAnswers) {
  auto engine = Engine::load(test::repo_path("models/shapes-demo"), test::two_threads());
  Session session(engine);
  const RgbImage a = decode_image_file(test::repo_path("models/shapes-demo/examples/left_of.png"));
  const RgbImage b =
      decode_image_file(test::repo_path("models/shapes-demo/examples/one_shape.png"));
  const RgbImage a2 = a, b2 = b;
  const std::vector<std::string> questions = {
      "what color is the background?", "what shape is on the left?", "how many shapes are there?"};
  std::vector<CaptionRequest> shared, separate;
  const RgbImage* copies[] = {&a2, &b2};
  for (size_t i = 0; i < questions.size(); ++i) {
    for (int k = 0; k < 2; ++k) {
      shared.push_back({k ? &b : &a, engine->vqa_prompt(questions[i])});
      separate.push_back({i == 0 ? (k ? &b : &a) : copies[k], engine->vqa_prompt(questions[i])});
    }
  }
  shared.push_back({&a, ""});  // and a caption of the same image
  separate.push_back({&a2, ""});
  GenerationOptions o = engine->default_options(Task::kVqa);
  for (int64_t beams : {1, 3}) {
    o.num_beams = beams;
    const auto x = session.generate(shared, o), y = session.generate(separate, o);
    ASSERT_EQ(x.size(), y.size());
    for (size_t i = 0; i < x.size(); ++i) {
      EXPECT_EQ(x[i].token_ids, y[i].token_ids) << i;
      EXPECT_NEAR(x[i].sequences[0].score, y[i].sequences[0].score, 1e-5) << i;
    }
    if (beams == 1) {  // the reference's answers (expected/generation.json)
      EXPECT_EQ(x[0].text, " light blue");
      EXPECT_EQ(x[1].text, " white");
      EXPECT_EQ(x[2].text, " diamond");
    }
  }
}

// Every generation flag of the CLI reaches the options: the CLI's --json output equals the API's
// result for the same options, every sequence with its score.
TEST(CliGenerationFlags, EveryFlagReachesTheOptions) {
  const std::string dir = test::data_path("opt-tiny");
  const std::string image = dir + "/expected/images/img1_rgb_300x500.png";
  auto engine = Engine::load(dir, test::two_threads());
  Session session(engine);
  const RgbImage im = decode_image_file(image);
  struct Run {
    std::vector<std::string> flags;
    GenerationOptions options;
  };
  std::vector<Run> runs(2);
  runs[0].flags = {"--max-new-tokens",     "12",  "--min-new-tokens",       "3",
                   "--num-beams",          "4",   "--num-return-sequences", "3",
                   "--length-penalty",     "0.5", "--early-stopping",       "never",
                   "--repetition-penalty", "1.3", "--no-repeat-ngram-size", "2"};
  GenerationOptions& b = runs[0].options;
  b.max_new_tokens = 12;
  b.min_new_tokens = 3;
  b.num_beams = 4;
  b.num_return_sequences = 3;
  b.length_penalty = 0.5;
  b.early_stopping = EarlyStopping::kNever;
  b.repetition_penalty = 1.3;
  b.no_repeat_ngram_size = 2;
  runs[1].flags = {
      "--do-sample", "--seed",           "7",   "--temperature",          "40", "--top-k",
      "30",          "--top-p",          "0.9", "--num-return-sequences", "2",  "--max-new-tokens",
      "9",           "--min-new-tokens", "0"};
  GenerationOptions& s = runs[1].options;
  s.do_sample = true;
  s.num_beams = 1;
  s.seed = 7;
  s.temperature = 40;
  s.top_k = 30;
  s.top_p = 0.9;
  s.num_return_sequences = 2;
  s.max_new_tokens = 9;
  s.min_new_tokens = 0;
  for (const Run& run : runs) {
    std::vector<std::string> args = {"caption", "-m", dir, "--threads", "2", "--json"};
    args.insert(args.end(), run.flags.begin(), run.flags.end());
    args.push_back(image);
    const auto res = test::run_cli(args);
    ASSERT_EQ(res.exit_code, 0) << res.err;
    const auto lines = test::json_lines(res.out);
    ASSERT_EQ(lines.size(), 1u);
    const CaptionResult want = session.caption(im, "", run.options);
    const auto& seqs = lines[0]["sequences"];
    ASSERT_EQ(seqs.size(), want.sequences.size());
    for (size_t k = 0; k < want.sequences.size(); ++k) {
      EXPECT_EQ(seqs[k]["token_ids"].get<std::vector<int32_t>>(), want.sequences[k].token_ids) << k;
      EXPECT_EQ(seqs[k]["text"], want.sequences[k].text);
      EXPECT_NEAR(seqs[k]["score"].get<double>(), want.sequences[k].score, 1e-9);
    }
    EXPECT_EQ(lines[0]["token_ids"], seqs[0]["token_ids"]);
  }
}

}  // namespace
}  // namespace blip2
