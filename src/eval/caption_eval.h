// COCO caption evaluation end to end: references + results -> tokenized set -> metrics, as
// pycocoevalcap's COCOEvalCap.evaluate() does it (without METEOR and SPICE, which need Java).
//
//   blip2::eval::CaptionAnnotations ann = blip2::eval::load_caption_annotations("ann.json");
//   std::vector<blip2::eval::CaptionResult> res = {{391895, "a man riding a bike"}, ...};
//   blip2::eval::CaptionScores s = blip2::eval::evaluate_captions(ann, res);
//
// The in-memory structures are what a caller that generates captions itself passes directly;
// coco_io.h reads them from the COCO JSON files.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "eval/caption_metrics.h"

namespace blip2 {
class ThreadPool;
}

namespace blip2::eval {

// COCO caption annotations: the images in file order ("images"), each with its reference
// captions in the order of "annotations".
struct CaptionAnnotations {
  struct Image {
    int64_t id = 0;
    std::vector<std::string> captions;
  };
  std::vector<Image> images;
};

// One entry of a COCO caption results file.
struct CaptionResult {
  int64_t image_id = 0;
  std::string caption;
};

enum class ImageSelection {
  kAllAnnotated,  // every annotated image must have a result (COCOEvalCap with coco.getImgIds())
  kResultImages,  // only images with a result are scored (params['image_id'] = res.getImgIds())
};

struct CaptionEvalOptions {
  ImageSelection images = ImageSelection::kAllAnnotated;
  // Tokenizes captions on this pool when set (tokenization is most of the time on large sets).
  ThreadPool* pool = nullptr;
};

// Pairs every scored image with its references and single result, in annotation order, and
// tokenizes both sides with coco_tokenize(). Throws ErrorKind::kInvalidArgument naming the entry
// for: duplicate image ids, results for unknown images, two results for one image, a scored
// image without a result or without references, nothing to score.
std::vector<TokenizedImage> tokenize_caption_set(const CaptionAnnotations& annotations,
                                                 const std::vector<CaptionResult>& results,
                                                 const CaptionEvalOptions& options = {});

// tokenize_caption_set() then score_tokenized().
CaptionScores evaluate_captions(const CaptionAnnotations& annotations,
                                const std::vector<CaptionResult>& results,
                                const CaptionEvalOptions& options = {});

}  // namespace blip2::eval
