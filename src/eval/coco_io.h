// Reading the COCO caption and VQA file formats into the evaluation structures.
//
//   auto ann = blip2::eval::load_caption_annotations("captions_val2014.json");
//   auto res = blip2::eval::load_caption_results("results.json");
//   auto scores = blip2::eval::evaluate_captions(ann, res);
//
// Formats (only the fields the official tools read are required):
//   caption annotations  {"images": [{"id"}], "annotations": [{"image_id", "caption"}]}
//   caption results      [{"image_id", "caption"}]
//   VQA questions        {"questions": [{"question_id", "image_id", "question"}]}
//   VQA annotations      {"annotations": [{"question_id", "image_id", "question_type",
//                         "answer_type", "answers": [{"answer", "answer_confidence"?,
//                         "answer_id"?}]}]}
//   VQA results          [{"question_id", "answer"}]
// Ids are JSON integers. Every problem is an Error naming the file, the entry (index and id)
// and the field: ErrorKind::kNotFound for a missing file, kFormat for anything malformed.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "eval/caption_eval.h"
#include "eval/vqa.h"

namespace blip2::eval {

// Reads and parses a JSON file; `what` names it in messages ("caption results").
nlohmann::json read_json_file(const std::string& path, std::string_view what);

// The parse_* functions take an already parsed document; `source` names it in messages.
CaptionAnnotations parse_caption_annotations(const nlohmann::json& doc, std::string_view source);
std::vector<CaptionResult> parse_caption_results(const nlohmann::json& doc,
                                                 std::string_view source);
std::vector<VqaQuestion> parse_vqa_questions(const nlohmann::json& doc, std::string_view source);
std::vector<VqaAnnotation> parse_vqa_annotations(const nlohmann::json& doc,
                                                 std::string_view source);
std::vector<VqaResult> parse_vqa_results(const nlohmann::json& doc, std::string_view source);

CaptionAnnotations load_caption_annotations(const std::string& path);
std::vector<CaptionResult> load_caption_results(const std::string& path);
std::vector<VqaQuestion> load_vqa_questions(const std::string& path);
std::vector<VqaAnnotation> load_vqa_annotations(const std::string& path);
std::vector<VqaResult> load_vqa_results(const std::string& path);

}  // namespace blip2::eval
