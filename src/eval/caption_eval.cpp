#include "eval/caption_eval.h"

#include <unordered_map>

#include "core/error.h"
#include "core/thread_pool.h"
#include "eval/ptb_tokenizer.h"

namespace blip2::eval {

std::vector<TokenizedImage> tokenize_caption_set(const CaptionAnnotations& annotations,
                                                 const std::vector<CaptionResult>& results,
                                                 const CaptionEvalOptions& options) {
  std::unordered_map<int64_t, size_t> image_index;
  for (size_t i = 0; i < annotations.images.size(); ++i) {
    auto [it, inserted] = image_index.emplace(annotations.images[i].id, i);
    if (!inserted) {
      fail(ErrorKind::kInvalidArgument, "caption annotations: image id ", annotations.images[i].id,
           " appears twice (images[", it->second, "] and images[", i,
           "]); image ids must be unique");
    }
  }
  // result_of[image index] = index of its result in `results`.
  std::vector<int64_t> result_of(annotations.images.size(), -1);
  for (size_t r = 0; r < results.size(); ++r) {
    const int64_t id = results[r].image_id;
    auto it = image_index.find(id);
    if (it == image_index.end()) {
      fail(ErrorKind::kInvalidArgument, "caption results: entry ", r, " (image_id ", id,
           ") is for an image that is not in the annotations; results must only cover annotated "
           "images (check that the results and annotations files belong together)");
    }
    if (result_of[it->second] >= 0) {
      fail(ErrorKind::kInvalidArgument, "caption results: entry ", r, " (image_id ", id,
           ") is a second result for that image (first at entry ", result_of[it->second],
           "); keep exactly one caption per image");
    }
    result_of[it->second] = static_cast<int64_t>(r);
  }
  std::vector<size_t> scored;  // indexes into annotations.images
  size_t missing = 0;
  int64_t first_missing = 0;
  for (size_t i = 0; i < annotations.images.size(); ++i) {
    const CaptionAnnotations::Image& image = annotations.images[i];
    if (result_of[i] < 0) {
      if (options.images == ImageSelection::kAllAnnotated) {
        if (missing++ == 0) first_missing = image.id;
      }
      continue;
    }
    if (image.captions.empty()) {
      fail(ErrorKind::kInvalidArgument, "caption annotations: image ", image.id, " (images[", i,
           "]) has a result but no reference captions; every scored image needs at least one "
           "annotation");
    }
    scored.push_back(i);
  }
  if (missing > 0) {
    fail(ErrorKind::kInvalidArgument, "caption results: ", missing, " of ",
         annotations.images.size(), " annotated images have no result (first: image_id ",
         first_missing,
         "); add them, or score only the images that have results "
         "(CLI: --only-result-images)");
  }
  if (scored.empty()) {
    fail(ErrorKind::kInvalidArgument,
         "caption results: there is nothing to score (no result matches an annotated image)");
  }
  std::vector<TokenizedImage> out(scored.size());
  const auto tokenize_range = [&](size_t begin, size_t end) {
    for (size_t k = begin; k < end; ++k) {
      const CaptionAnnotations::Image& image = annotations.images[scored[k]];
      TokenizedImage& t = out[k];
      t.image_id = image.id;
      t.refs.reserve(image.captions.size());
      for (const std::string& c : image.captions) t.refs.push_back(coco_tokenize(c));
      t.candidate = coco_tokenize(results[result_of[scored[k]]].caption);
    }
  };
  if (options.pool != nullptr) {
    options.pool->parallel_for(scored.size(), /*grain=*/64, tokenize_range);
  } else {
    tokenize_range(0, scored.size());
  }
  return out;
}

CaptionScores evaluate_captions(const CaptionAnnotations& annotations,
                                const std::vector<CaptionResult>& results,
                                const CaptionEvalOptions& options) {
  return score_tokenized(tokenize_caption_set(annotations, results, options));
}

}  // namespace blip2::eval
