// VQA accuracy exactly as the official evaluation (GT-Vision-Lab/VQA,
// PythonEvaluationTools/vqaEvaluation/vqaEval.py, VQAEval.evaluate() with n = 2).
//
//   std::vector<blip2::eval::VqaAnnotation> ann = blip2::eval::load_vqa_annotations("a.json");
//   std::vector<blip2::eval::VqaResult> res = {{1000010, "yes"}, ...};
//   blip2::eval::VqaScores s = blip2::eval::evaluate_vqa(ann, res);
//   // s.overall == 77.0 (percent, rounded to 2 decimals like the official tool)
//
// Per question: answers and prediction get '\n'/'\t' -> ' ' and strip(); unless all human
// answers are the same string, all of them and the prediction are normalized (punctuation,
// number words, articles, contractions, with the official code's quirks); the accuracy is the
// mean over the human answers of min(1, matches among the *other* answers / 3).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace blip2::eval {

struct VqaQuestion {
  int64_t question_id = 0;
  int64_t image_id = 0;
  std::string question;
};

struct VqaAnswer {
  std::string answer;
  // The official code compares whole answer records to find "the other answers", so these take
  // part in the comparison when present.
  std::optional<std::string> answer_confidence;
  std::optional<int64_t> answer_id;
};

struct VqaAnnotation {
  int64_t question_id = 0;
  int64_t image_id = 0;
  std::string question_type;
  std::string answer_type;
  std::vector<VqaAnswer> answers;
};

struct VqaResult {
  int64_t question_id = 0;
  std::string answer;
};

struct VqaQuestionScore {
  int64_t question_id = 0;
  std::string question_type;
  std::string answer_type;
  double accuracy_raw = 0.0;  // in [0, 1], before rounding
  double accuracy = 0.0;      // official evalQA value: round(100 * raw, 2)
  bool normalized = false;    // false when all human answers were identical (no processing)
  std::string prediction;     // after processing
  std::vector<std::string> gt_answers;  // after processing
};

struct VqaScores {
  double overall = 0.0;                             // round(100 * mean, 2)
  double overall_unrounded = 0.0;                   // 100 * mean
  std::map<std::string, double> per_question_type;  // rounded like overall
  std::map<std::string, double> per_answer_type;
  std::vector<VqaQuestionScore> per_question;  // annotation order
};

// processPunctuation() of vqaEval.py.
std::string vqa_process_punctuation(std::string_view text);
// processDigitArticle() of vqaEval.py.
std::string vqa_process_digit_article(std::string_view text);

// Python's round(x, ndigits) for values that are not exactly on a tie (Python 2 and 3 agree).
double python_round(double x, int ndigits);

// Scores every annotated question (annotation order). Throws ErrorKind::kInvalidArgument naming
// the entry for: duplicate question ids in the annotations, a question without answers, results
// for unknown questions, two results for one question, an annotated question without a result.
VqaScores evaluate_vqa(const std::vector<VqaAnnotation>& annotations,
                       const std::vector<VqaResult>& results);

// As above, and first checks that every annotated question is in `questions` with the same
// image (the official loader needs the question of every result).
VqaScores evaluate_vqa(const std::vector<VqaQuestion>& questions,
                       const std::vector<VqaAnnotation>& annotations,
                       const std::vector<VqaResult>& results);

}  // namespace blip2::eval
