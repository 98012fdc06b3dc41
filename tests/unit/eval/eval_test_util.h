// Helpers of the evaluation tests: the reference sets and the metric tolerance.
#pragma once

#include <string>
#include <vector>

#include "common/test_util.h"

namespace blip2::eval::testing {

using blip2::test::load_json;

inline std::string eval_data(const std::string& rel) {
  return blip2::test::data_path("eval/" + rel);
}

// Every caption set of the reference fixtures (directories with annotations/results/expected).
// PtbTokenizer.TestsCoverEveryFixtureSet checks this list against the folder.
inline const std::vector<std::string>& caption_sets() {
  static const std::vector<std::string> sets = {
      "caption/small",
      "caption/medium",
      "caption/edge/identical_all_refs",
      "caption/edge/identical_everywhere",
      "caption/edge/single_image",
      "caption/edge/variable_ref_counts",
      "caption/edge/brevity_penalty",
      "caption/edge/degenerate_candidates",
  };
  return sets;
}

// The metric names pycocoevalcap uses, in its order.
inline const std::vector<std::string>& metric_names() {
  static const std::vector<std::string> names = {"Bleu_1", "Bleu_2",  "Bleu_3",
                                                 "Bleu_4", "ROUGE_L", "CIDEr"};
  return names;
}

// |got - want| allowed for caption metrics: the fixture README's tolerance (values range 0..10,
// several legitimately are ~1e-11). Measured max error over every corpus and per-image value of
// every set: 8.9e-16 (most values are bit-identical).
constexpr double kMetricTolerance = 1e-9;

}  // namespace blip2::eval::testing
