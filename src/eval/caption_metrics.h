// COCO caption metrics on tokenized captions, computed as pycocoevalcap computes them.
//
//   std::vector<blip2::eval::TokenizedImage> set = ...;  // e.g. from tokenize_caption_set()
//   blip2::eval::CaptionScores s = blip2::eval::score_tokenized(set);
//   double cider = s.cider;  // corpus CIDEr-D, s.per_image[i].cider per image
//
// Reference code (salaniz/pycocoevalcap): bleu/bleu_scorer.py (BleuScorer, option "closest"),
// rouge/rouge.py (Rouge, beta 1.2), cider/cider_scorer.py (CiderScorer, n 4, sigma 6). The
// arithmetic follows those files step by step (same constants, same order of operations where it
// changes the last bits), so corpus and per-image values match them to ~1e-15.
//
// Tokens: BLEU and CIDEr-D split on Python's str.split() (any Unicode whitespace), ROUGE-L on
// str.split(" ") (an empty caption is one empty token), as the reference does.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

namespace blip2::eval {

// One image as the scorers see it: tokenized references (gts[id]) and candidate (res[id][0]).
struct TokenizedImage {
  int64_t image_id = 0;
  std::vector<std::string> refs;
  std::string candidate;
};

constexpr int kBleuOrder = 4;

// Corpus totals BleuScorer prints with verbose=1.
struct BleuTotals {
  int64_t testlen = 0;
  int64_t reflen = 0;  // sum of the per-image "closest" reference lengths
  std::array<int64_t, kBleuOrder> guess{};
  std::array<int64_t, kBleuOrder> correct{};
  double ratio = 0.0;  // (testlen + 1e-15) / (reflen + 1e-9)
};

struct BleuScores {
  std::array<double, kBleuOrder> corpus{};                // Bleu_1 .. Bleu_4
  std::vector<std::array<double, kBleuOrder>> per_image;  // same order as the input
  BleuTotals totals;
};

struct MetricScores {
  double corpus = 0.0;  // mean of per_image (numpy's summation order)
  std::vector<double> per_image;
};

// Each function validates its input: at least one image, at least one reference per image
// (ErrorKind::kInvalidArgument naming the image otherwise).
BleuScores compute_bleu(const std::vector<TokenizedImage>& images);
MetricScores compute_rouge_l(const std::vector<TokenizedImage>& images);
MetricScores compute_cider_d(const std::vector<TokenizedImage>& images);

struct ImageScores {
  int64_t image_id = 0;
  std::array<double, kBleuOrder> bleu{};
  double rouge_l = 0.0;
  double cider = 0.0;
};

// All metrics of COCOEvalCap.evaluate() except METEOR and SPICE (Java only).
struct CaptionScores {
  std::array<double, kBleuOrder> bleu{};
  double rouge_l = 0.0;
  double cider = 0.0;
  std::vector<ImageScores> per_image;  // input order
  BleuTotals bleu_totals;
};

CaptionScores score_tokenized(const std::vector<TokenizedImage>& images);

// numpy.mean's result for a 1-D float64 array (pairwise summation, then division).
double numpy_mean(const std::vector<double>& values);

}  // namespace blip2::eval
