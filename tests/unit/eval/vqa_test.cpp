#include <gtest/gtest.h>

#include "core/error.h"
#include "eval/coco_io.h"
#include "eval/vqa.h"
#include "eval_test_util.h"

namespace blip2::eval {
namespace {

using testing::eval_data;
using testing::load_json;

VqaScores score_fixture() {
  return evaluate_vqa(load_vqa_questions(eval_data("vqa/questions.json")),
                      load_vqa_annotations(eval_data("vqa/annotations.json")),
                      load_vqa_results(eval_data("vqa/results.json")));
}

TEST(Vqa, EveryQuestionMatchesTheOfficialEvaluation) {
  const nlohmann::json expected = load_json(eval_data("vqa/expected.json"));
  const VqaScores got = score_fixture();
  const auto& want = expected["per_question"];
  ASSERT_EQ(got.per_question.size(), want.size());
  for (size_t i = 0; i < want.size(); ++i) {
    const VqaQuestionScore& q = got.per_question[i];
    const auto& w = want[i];
    const std::string where = "question " + std::to_string(q.question_id);
    EXPECT_EQ(q.question_id, w["question_id"].get<int64_t>());
    EXPECT_NEAR(q.accuracy_raw, w["accuracy_raw"].get<double>(), 1e-12) << where;
    EXPECT_EQ(q.accuracy, w["accuracy"].get<double>()) << where;
    EXPECT_EQ(q.normalized, w["normalized"].get<bool>()) << where;
    EXPECT_EQ(q.prediction, w["pred_after_processing"].get<std::string>()) << where;
    EXPECT_EQ(q.gt_answers, w["gt_answers_after_processing"].get<std::vector<std::string>>())
        << where;
  }
}

TEST(Vqa, OverallAndPerTypeMatchTheOfficialRounding) {
  const nlohmann::json expected = load_json(eval_data("vqa/expected.json"));
  const VqaScores got = score_fixture();
  EXPECT_EQ(got.overall, expected["overall"].get<double>());
  EXPECT_NEAR(got.overall_unrounded, expected["overall_unrounded"].get<double>(), 1e-9);
  EXPECT_EQ(got.per_question_type,
            (expected["perQuestionType"].get<std::map<std::string, double>>()));
  EXPECT_EQ(got.per_answer_type, (expected["perAnswerType"].get<std::map<std::string, double>>()));
}

TEST(Vqa, NormalisationQuirks) {
  // Punctuation next to a space is deleted, elsewhere replaced by a space.
  EXPECT_EQ(vqa_process_punctuation("black - white"), "black  white");
  EXPECT_EQ(vqa_process_punctuation("hot-dog"), "hot dog");
  // A digit,comma,digit anywhere deletes every listed punctuation mark.
  EXPECT_EQ(vqa_process_punctuation("1,000-2"), "10002");
  // Periods not followed by a digit go, at most 32 of them.
  EXPECT_EQ(vqa_process_punctuation("3.5."), "3.5");
  EXPECT_EQ(vqa_process_punctuation("yes" + std::string(33, '.')), "yes.");
  EXPECT_EQ(vqa_process_punctuation("yes" + std::string(32, '.')), "yes");
  // Apostrophes, colons and % are untouched.
  EXPECT_EQ(vqa_process_punctuation("it's 10:30 100%"), "it's 10:30 100%");
  // Number words up to ten, articles dropped, contractions restored; capital keys never match.
  EXPECT_EQ(vqa_process_digit_article("The Two dogs"), "2 dogs");
  EXPECT_EQ(vqa_process_digit_article("eleven"), "eleven");
  EXPECT_EQ(vqa_process_digit_article("dont know whats"), "don't know what's");
  EXPECT_EQ(vqa_process_digit_article("Im here"), "im here");
}

TEST(Vqa, IdenticalHumanAnswersDisableNormalisation) {
  std::vector<VqaAnnotation> ann(1);
  ann[0].question_id = 1;
  ann[0].question_type = "how many";
  ann[0].answer_type = "number";
  for (int i = 0; i < 10; ++i) ann[0].answers.push_back({"2", "yes", i + 1});
  EXPECT_EQ(evaluate_vqa(ann, {{1, "two"}}).per_question[0].accuracy_raw, 0.0);
  EXPECT_EQ(evaluate_vqa(ann, {{1, "2"}}).per_question[0].accuracy_raw, 1.0);
  ann[0].answers[0].answer = "two";  // now they differ: everything is normalized
  EXPECT_EQ(evaluate_vqa(ann, {{1, "two"}}).per_question[0].accuracy_raw, 1.0);
}

TEST(Vqa, LeaveOneOutAverageOverTenAnswers) {
  std::vector<VqaAnnotation> ann(1);
  ann[0].question_id = 5;
  for (int i = 0; i < 10; ++i) ann[0].answers.push_back({i < 2 ? "red" : "blue", "yes", i + 1});
  // "red" is given by 2 humans: for those 2, 1 other matches (1/3); for the 8 others, 2 (2/3).
  const double want = (2 * (1.0 / 3) + 8 * (2.0 / 3)) / 10;
  const VqaScores s = evaluate_vqa(ann, {{5, "red"}});
  EXPECT_NEAR(s.per_question[0].accuracy_raw, want, 1e-12);
  EXPECT_EQ(s.per_question[0].accuracy, 60.0);
}

TEST(Vqa, PythonRound) {
  EXPECT_EQ(python_round(86.66666666666667, 2), 86.67);
  EXPECT_EQ(python_round(69.0909090909091, 2), 69.09);
  EXPECT_EQ(python_round(62.5, 2), 62.5);
  EXPECT_EQ(python_round(0.0, 2), 0.0);
}

TEST(Vqa, ResultErrorsNameTheEntry) {
  const auto ann = load_vqa_annotations(eval_data("vqa/annotations.json"));
  auto res = load_vqa_results(eval_data("vqa/results.json"));
  const auto expect_error = [&](const std::vector<VqaResult>& r, const std::string& needle) {
    try {
      evaluate_vqa(ann, r);
      ADD_FAILURE() << "expected an error mentioning " << needle;
    } catch (const Error& e) {
      EXPECT_EQ(e.kind(), ErrorKind::kInvalidArgument);
      EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
    }
  };
  auto unknown = res;
  unknown[3].question_id = 999;
  expect_error(unknown, "entry 3 (question_id 999)");
  auto duplicate = res;
  duplicate.push_back(res[5]);
  expect_error(duplicate, "first at entry 5");
  auto missing = res;
  missing.erase(missing.begin() + 2);
  expect_error(missing, std::to_string(res[2].question_id));
}

}  // namespace
}  // namespace blip2::eval
