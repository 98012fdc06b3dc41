#include <gtest/gtest.h>

#include <cmath>

#include "core/error.h"
#include "core/thread_pool.h"
#include "eval/caption_eval.h"
#include "eval/caption_metrics.h"
#include "eval/coco_io.h"
#include "eval_test_util.h"

namespace blip2::eval {
namespace {

using testing::caption_sets;
using testing::eval_data;
using testing::kMetricTolerance;
using testing::load_json;
using testing::metric_names;

// The scorers' input exactly as pycocoevalcap had it (expected.json "tokenized").
std::vector<TokenizedImage> stored_tokenized(const nlohmann::json& expected) {
  std::vector<TokenizedImage> out;
  const auto& gts = expected["tokenized"]["gts"];
  const auto& res = expected["tokenized"]["res"];
  EXPECT_EQ(gts.size(), res.size());
  for (size_t i = 0; i < gts.size(); ++i) {
    TokenizedImage t;
    t.image_id = gts[i]["image_id"];
    EXPECT_EQ(res[i]["image_id"].get<int64_t>(), t.image_id);
    for (const auto& c : gts[i]["captions"]) t.refs.push_back(c);
    t.candidate = res[i]["caption"];
    out.push_back(std::move(t));
  }
  return out;
}

double metric(const CaptionScores& s, const std::string& name) {
  if (name == "ROUGE_L") return s.rouge_l;
  if (name == "CIDEr") return s.cider;
  return s.bleu.at(name.back() - '1');
}

double metric(const ImageScores& s, const std::string& name) {
  if (name == "ROUGE_L") return s.rouge_l;
  if (name == "CIDEr") return s.cider;
  return s.bleu.at(name.back() - '1');
}

// Corpus values, every per-image value and BleuScorer's printed totals.
void expect_matches(const CaptionScores& got, const nlohmann::json& expected,
                    const std::string& set) {
  for (const std::string& name : metric_names()) {
    EXPECT_NEAR(metric(got, name), expected["corpus"][name].get<double>(), kMetricTolerance)
        << set << " corpus " << name;
  }
  const auto& per_image = expected["per_image"];
  ASSERT_EQ(got.per_image.size(), per_image.size()) << set;
  for (size_t i = 0; i < per_image.size(); ++i) {
    EXPECT_EQ(got.per_image[i].image_id, per_image[i]["image_id"].get<int64_t>()) << set;
    for (const std::string& name : metric_names()) {
      EXPECT_NEAR(metric(got.per_image[i], name), per_image[i][name].get<double>(),
                  kMetricTolerance)
          << set << " image " << per_image[i]["image_id"] << " " << name;
    }
  }
  const BleuTotals& t = got.bleu_totals;
  const std::string printed =
      str_cat("{'testlen': ", t.testlen, ", 'reflen': ", t.reflen, ", 'guess': [", t.guess[0], ", ",
              t.guess[1], ", ", t.guess[2], ", ", t.guess[3], "], 'correct': [", t.correct[0], ", ",
              t.correct[1], ", ", t.correct[2], ", ", t.correct[3], "]}");
  EXPECT_EQ(printed, expected["bleu_printed"][0].get<std::string>()) << set;
  const std::string ratio_line = expected["bleu_printed"][1];
  const double want_ratio = std::stod(ratio_line.substr(ratio_line.find(':') + 1));
  EXPECT_DOUBLE_EQ(t.ratio, want_ratio) << set;
}

TEST(CaptionMetrics, StoredTokenizedInputGivesEveryNumber) {
  for (const std::string& set : caption_sets()) {
    const nlohmann::json expected = load_json(eval_data(set + "/expected.json"));
    expect_matches(score_tokenized(stored_tokenized(expected)), expected, set);
  }
}

TEST(CaptionMetrics, FullPipelineFromFilesGivesEveryNumber) {
  for (const std::string& set : caption_sets()) {
    const nlohmann::json expected = load_json(eval_data(set + "/expected.json"));
    const CaptionAnnotations ann = load_caption_annotations(eval_data(set + "/annotations.json"));
    const std::vector<CaptionResult> res = load_caption_results(eval_data(set + "/results.json"));
    expect_matches(evaluate_captions(ann, res), expected, set);
  }
}

TEST(CaptionMetrics, ParallelTokenizationGivesIdenticalResults) {
  const std::string set = "caption/medium";
  const CaptionAnnotations ann = load_caption_annotations(eval_data(set + "/annotations.json"));
  const std::vector<CaptionResult> res = load_caption_results(eval_data(set + "/results.json"));
  ThreadPool pool(3);
  CaptionEvalOptions options;
  options.pool = &pool;
  const auto serial = tokenize_caption_set(ann, res);
  const auto parallel = tokenize_caption_set(ann, res, options);
  ASSERT_EQ(serial.size(), parallel.size());
  for (size_t i = 0; i < serial.size(); ++i) {
    EXPECT_EQ(serial[i].image_id, parallel[i].image_id);
    EXPECT_EQ(serial[i].refs, parallel[i].refs);
    EXPECT_EQ(serial[i].candidate, parallel[i].candidate);
  }
}

TEST(CaptionMetrics, EdgeValuesAreTheDocumentedOnes) {
  // Candidate equal to every reference: CIDEr-D exactly 10, ROUGE-L 1, BLEU just below 1.
  const nlohmann::json same = load_json(eval_data("caption/edge/identical_all_refs/expected.json"));
  const CaptionScores s = score_tokenized(stored_tokenized(same));
  EXPECT_NEAR(s.cider, 10.0, 1e-12);
  EXPECT_DOUBLE_EQ(s.rouge_l, 1.0);
  EXPECT_LT(s.bleu[3], 1.0);
  EXPECT_GT(s.bleu[3], 1.0 - 1e-8);
  // One image: log(N) = 0, every weight is 0, CIDEr-D 0.
  const nlohmann::json one = load_json(eval_data("caption/edge/single_image/expected.json"));
  EXPECT_EQ(score_tokenized(stored_tokenized(one)).cider, 0.0);
}

TEST(CaptionMetrics, BleuClosestLengthTiesGoToTheShorterReference) {
  // Candidate of 4 tokens, references of 3 and 5 tokens: both at distance 1, the 3 is used.
  std::vector<TokenizedImage> images = {{1, {"a b c", "a b c d e"}, "a b c d"}};
  EXPECT_EQ(compute_bleu(images).totals.reflen, 3);
  images[0].refs = {"a b c d e", "a b c"};
  EXPECT_EQ(compute_bleu(images).totals.reflen, 3);
}

TEST(CaptionMetrics, EmptyCandidateScoresZero) {
  std::vector<TokenizedImage> images = {{1, {"a dog"}, ""}, {2, {"a cat"}, "a cat"}};
  const BleuScores b = compute_bleu(images);
  for (double v : b.per_image[0]) EXPECT_EQ(v, 0.0);
  EXPECT_EQ(compute_rouge_l(images).per_image[0], 0.0);
  EXPECT_EQ(compute_cider_d(images).per_image[0], 0.0);
}

TEST(CaptionMetrics, RejectsImagesWithoutReferencesAndEmptySets) {
  std::vector<TokenizedImage> images = {{7, {}, "a dog"}};
  try {
    score_tokenized(images);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kInvalidArgument);
    EXPECT_NE(std::string(e.what()).find("image 7"), std::string::npos) << e.what();
  }
  EXPECT_THROW(score_tokenized({}), Error);
}

TEST(CaptionMetrics, NumpyMeanUsesPairwiseSummation) {
  std::vector<double> v(200);
  for (size_t i = 0; i < v.size(); ++i) v[i] = 0.1 * static_cast<double>(i % 7) + 1e-3;
  double naive = 0;
  for (double x : v) naive += x;
  EXPECT_NEAR(numpy_mean(v), naive / 200, 1e-14);
  EXPECT_EQ(numpy_mean({2.0}), 2.0);
  EXPECT_EQ(numpy_mean({1.0, 2.0, 3.0, 4.0}), 2.5);
}

}  // namespace
}  // namespace blip2::eval
