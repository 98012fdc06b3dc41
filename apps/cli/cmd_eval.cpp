// blip2 eval captions|vqa: COCO caption metrics and VQA accuracy of a results file, computed
// natively and equal to the official toolkits' numbers (see docs/eval.md).
//
//   blip2 eval captions --annotations ANN.json --results RES.json [--json] [--per-image OUT.jsonl]
//   blip2 eval vqa --questions Q.json --annotations A.json --results R.json [--json]
#include <cstdio>
#include <fstream>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "commands.h"
#include "core/error.h"
#include "core/thread_pool.h"
#include "eval/caption_eval.h"
#include "eval/coco_io.h"
#include "eval/vqa.h"

namespace blip2::cli {

namespace {

constexpr const char* kJavaOnlyNote = "needs the official Java jar; not computed";

struct CaptionEvalArgs {
  std::string annotations;
  std::string results;
  bool json = false;
  std::string per_image;
  bool only_result_images = false;
  size_t threads = 0;
};

struct VqaEvalArgs {
  std::string questions;
  std::string annotations;
  std::string results;
  bool json = false;
  std::string per_question;
};

std::ofstream open_output(const std::string& path, const char* what) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out) {
    fail(ErrorKind::kNotFound, "cannot write ", what, " file '", path,
         "'; check that the folder exists and is writable");
  }
  return out;
}

void close_output(std::ofstream& out, const std::string& path, const char* what) {
  out.close();
  if (!out) fail(ErrorKind::kResource, "writing ", what, " file '", path, "' failed (disk full?)");
}

std::string fixed(double v, int digits) {
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%.*f", digits, v);
  return buf;
}

int run_caption_eval(const CaptionEvalArgs& args) {
  const eval::CaptionAnnotations ann = eval::load_caption_annotations(args.annotations);
  const std::vector<eval::CaptionResult> res = eval::load_caption_results(args.results);
  ThreadPool pool(args.threads);
  eval::CaptionEvalOptions options;
  options.pool = &pool;
  if (args.only_result_images) options.images = eval::ImageSelection::kResultImages;
  const eval::CaptionScores s = eval::evaluate_captions(ann, res, options);

  if (!args.per_image.empty()) {
    std::ofstream out = open_output(args.per_image, "per-image scores");
    for (const eval::ImageScores& img : s.per_image) {
      nlohmann::ordered_json j;
      j["image_id"] = img.image_id;
      for (int k = 0; k < eval::kBleuOrder; ++k) j["Bleu_" + std::to_string(k + 1)] = img.bleu[k];
      j["ROUGE_L"] = img.rouge_l;
      j["CIDEr"] = img.cider;
      out << j.dump() << "\n";
    }
    close_output(out, args.per_image, "per-image scores");
  }

  if (args.json) {
    nlohmann::ordered_json j;
    for (int k = 0; k < eval::kBleuOrder; ++k) j["Bleu_" + std::to_string(k + 1)] = s.bleu[k];
    j["ROUGE_L"] = s.rouge_l;
    j["CIDEr"] = s.cider;
    j["num_images"] = s.per_image.size();
    j["not_computed"] = {{"METEOR", kJavaOnlyNote}, {"SPICE", kJavaOnlyNote}};
    std::cout << j.dump() << "\n";
    return 0;
  }
  std::cout << "COCO caption metrics (pycocoevalcap-compatible) over " << s.per_image.size()
            << " images\n";
  for (int k = 0; k < eval::kBleuOrder; ++k) {
    std::cout << "  Bleu_" << k + 1 << "   " << fixed(s.bleu[k], 6) << "\n";
  }
  std::cout << "  ROUGE_L  " << fixed(s.rouge_l, 6) << "\n"
            << "  CIDEr    " << fixed(s.cider, 6) << "\n"
            << "  METEOR   not computed (needs the official Java jar)\n"
            << "  SPICE    not computed (needs the official Java jar)\n";
  return 0;
}

int run_vqa_eval(const VqaEvalArgs& args) {
  const auto questions = eval::load_vqa_questions(args.questions);
  const auto annotations = eval::load_vqa_annotations(args.annotations);
  const auto results = eval::load_vqa_results(args.results);
  const eval::VqaScores s = eval::evaluate_vqa(questions, annotations, results);

  if (!args.per_question.empty()) {
    std::ofstream out = open_output(args.per_question, "per-question scores");
    for (const eval::VqaQuestionScore& q : s.per_question) {
      nlohmann::ordered_json j;
      j["question_id"] = q.question_id;
      j["question_type"] = q.question_type;
      j["answer_type"] = q.answer_type;
      j["accuracy"] = q.accuracy;
      j["accuracy_raw"] = q.accuracy_raw;
      j["normalized"] = q.normalized;
      j["prediction"] = q.prediction;
      j["gt_answers"] = q.gt_answers;
      out << j.dump() << "\n";
    }
    close_output(out, args.per_question, "per-question scores");
  }

  if (args.json) {
    nlohmann::ordered_json j;
    j["overall"] = s.overall;
    j["perQuestionType"] = s.per_question_type;
    j["perAnswerType"] = s.per_answer_type;
    std::cout << j.dump() << "\n";
    return 0;
  }
  // The official tool's report layout.
  std::cout << "Overall Accuracy is: " << fixed(s.overall, 2) << "\n\n"
            << "Per Question Type Accuracy is the following:\n";
  for (const auto& [type, acc] : s.per_question_type) {
    std::cout << type << " : " << fixed(acc, 2) << "\n";
  }
  std::cout << "\nPer Answer Type Accuracy is the following:\n";
  for (const auto& [type, acc] : s.per_answer_type) {
    std::cout << type << " : " << fixed(acc, 2) << "\n";
  }
  return 0;
}

}  // namespace

void register_eval_command(CLI::App& app, Action& action) {
  CLI::App* eval_cmd =
      app.add_subcommand("eval", "Score results: COCO caption metrics or VQA accuracy");
  eval_cmd->require_subcommand(1);

  auto cap = std::make_shared<CaptionEvalArgs>();
  CLI::App* captions = eval_cmd->add_subcommand(
      "captions",
      "BLEU-1..4, ROUGE-L and CIDEr-D of a COCO caption results file, equal to "
      "pycocoevalcap (METEOR and SPICE need Java and are not computed)");
  captions->add_option("--annotations", cap->annotations, "COCO caption annotations (JSON)")
      ->required();
  captions->add_option("--results", cap->results, "results: [{\"image_id\", \"caption\"}]")
      ->required();
  captions->add_flag("--json", cap->json,
                     "Print one JSON object (pycocoevalcap metric names, unrounded)");
  captions->add_option("--per-image", cap->per_image,
                       "Write each image's scores to this file, one JSON object per line");
  captions->add_flag("--only-result-images", cap->only_result_images,
                     "Score only the annotated images that have a result (default: every "
                     "annotated image must have one)");
  captions->add_option("--threads", cap->threads,
                       "Threads for tokenizing the captions (default: one per physical core)");
  captions->callback([&action, cap] { action = [cap] { return run_caption_eval(*cap); }; });

  auto vqa = std::make_shared<VqaEvalArgs>();
  CLI::App* vqa_cmd = eval_cmd->add_subcommand(
      "vqa", "VQA accuracy of a results file, equal to the official VQA evaluation");
  vqa_cmd->add_option("--questions", vqa->questions, "VQA questions (JSON)")->required();
  vqa_cmd->add_option("--annotations", vqa->annotations, "VQA annotations (JSON)")->required();
  vqa_cmd->add_option("--results", vqa->results, "results: [{\"question_id\", \"answer\"}]")
      ->required();
  vqa_cmd->add_flag("--json", vqa->json,
                    "Print {\"overall\", \"perQuestionType\", \"perAnswerType\"} (percent, "
                    "rounded to 2 decimals like the official tool)");
  vqa_cmd->add_option("--per-question", vqa->per_question,
                      "Write each question's accuracy to this file, one JSON object per line");
  vqa_cmd->callback([&action, vqa] { action = [vqa] { return run_vqa_eval(*vqa); }; });
}

}  // namespace blip2::cli
