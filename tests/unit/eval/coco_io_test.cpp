#include <gtest/gtest.h>

#include <fstream>

#include "core/error.h"
#include "eval/coco_io.h"
#include "eval_test_util.h"

namespace blip2::eval {
namespace {

using nlohmann::json;
using testing::eval_data;

// Runs `fn`, expects a blip2::Error of `kind` whose message contains every needle.
template <typename Fn>
void expect_error(Fn fn, ErrorKind kind, const std::vector<std::string>& needles) {
  try {
    fn();
    ADD_FAILURE() << "expected an error";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), kind) << e.what();
    for (const std::string& n : needles) {
      EXPECT_NE(std::string(e.what()).find(n), std::string::npos)
          << "message lacks '" << n << "': " << e.what();
    }
  }
}

TEST(CocoIo, LoadsTheFixtureFormats) {
  const CaptionAnnotations ann =
      load_caption_annotations(eval_data("caption/small/annotations.json"));
  ASSERT_EQ(ann.images.size(), 5u);
  EXPECT_EQ(ann.images[0].id, 101);
  EXPECT_EQ(ann.images[0].captions.size(), 5u);
  EXPECT_EQ(load_caption_results(eval_data("caption/small/results.json")).size(), 5u);
  EXPECT_EQ(load_vqa_questions(eval_data("vqa/questions.json")).size(), 40u);
  const auto vqa = load_vqa_annotations(eval_data("vqa/annotations.json"));
  ASSERT_EQ(vqa.size(), 40u);
  EXPECT_EQ(vqa[0].answers.size(), 10u);
  EXPECT_EQ(vqa[0].answers[3].answer_id, 4);
  EXPECT_EQ(load_vqa_results(eval_data("vqa/results.json")).size(), 40u);
}

TEST(CocoIo, MissingFileAndMalformedJson) {
  expect_error([] { load_caption_results("/nonexistent/results.json"); }, ErrorKind::kNotFound,
               {"caption results", "/nonexistent/results.json"});
  blip2::test::TempDir dir;
  const std::string truncated = dir.file("truncated.json");
  std::ofstream(truncated) << R"([{"image_id": 1, "caption": "a dog")";
  expect_error([&] { load_caption_results(truncated); }, ErrorKind::kFormat,
               {"not valid JSON", truncated});
}

TEST(CocoIo, CaptionAnnotationErrorsNameTheEntry) {
  expect_error([] { parse_caption_annotations(json::array(), "ann.json"); }, ErrorKind::kFormat,
               {"ann.json", "expected a JSON object"});
  expect_error(
      [] {
        parse_caption_annotations(json{{"images", json::array()}}, "ann.json");
      },
      ErrorKind::kFormat, {"\"annotations\" is missing"});
  const json dup_images = {{"images", {{{"id", 1}}, {{"id", 1}}}}, {"annotations", json::array()}};
  expect_error([&] { parse_caption_annotations(dup_images, "ann.json"); }, ErrorKind::kFormat,
               {"images[1] (id 1)", "already appears at images[0]"});
  const json unknown_image = {{"images", {{{"id", 1}}}},
                              {"annotations", {{{"image_id", 2}, {"id", 9}, {"caption", "x"}}}}};
  expect_error([&] { parse_caption_annotations(unknown_image, "ann.json"); }, ErrorKind::kFormat,
               {"annotations[0] (id 9)", "image_id 2", "not listed"});
  const json bad_caption = {{"images", {{{"id", 1}}}},
                            {"annotations", {{{"image_id", 1}, {"id", 3}, {"caption", 5}}}}};
  expect_error([&] { parse_caption_annotations(bad_caption, "ann.json"); }, ErrorKind::kFormat,
               {"annotations[0] (id 3)", "\"caption\" must be a string"});
  const json string_id = {{"images", {{{"id", "a.jpg"}}}}, {"annotations", json::array()}};
  expect_error([&] { parse_caption_annotations(string_id, "ann.json"); }, ErrorKind::kFormat,
               {"images[0]", "\"id\" must be an integer"});
}

TEST(CocoIo, CaptionResultErrorsNameTheEntry) {
  expect_error([] { parse_caption_results(json::object(), "res.json"); }, ErrorKind::kFormat,
               {"res.json", "expected a JSON array"});
  const json no_caption = {{{"image_id", 1}, {"caption", "a"}}, {{"image_id", 2}}};
  expect_error([&] { parse_caption_results(no_caption, "res.json"); }, ErrorKind::kFormat,
               {"entry 1 (image_id 2)", "\"caption\" is missing"});
}

TEST(CocoIo, CaptionSetErrorsNameTheEntry) {
  CaptionAnnotations ann;
  ann.images = {{1, {"a dog"}}, {2, {"a cat"}}, {3, {}}};
  expect_error(
      [&] {
        tokenize_caption_set(ann, {{1, "x"}, {2, "y"}, {9, "z"}});
      },
      ErrorKind::kInvalidArgument, {"entry 2 (image_id 9)", "not in the annotations"});
  expect_error(
      [&] {
        tokenize_caption_set(ann, {{1, "x"}, {2, "y"}, {1, "z"}});
      },
      ErrorKind::kInvalidArgument, {"entry 2 (image_id 1)", "first at entry 0"});
  expect_error(
      [&] {
        tokenize_caption_set(ann, {{1, "x"}});
      },
      ErrorKind::kInvalidArgument,
      {"2 of 3 annotated images have no result", "image_id 2", "--only-result-images"});
  expect_error(
      [&] {
        tokenize_caption_set(ann, {{1, "x"}, {2, "y"}, {3, "z"}});
      },
      ErrorKind::kInvalidArgument, {"image 3", "no reference captions"});
  // Scoring only the images that have results is allowed on request, in annotation order.
  const auto set =
      tokenize_caption_set(ann, {{2, "Y!"}, {1, "x"}}, {ImageSelection::kResultImages});
  ASSERT_EQ(set.size(), 2u);
  EXPECT_EQ(set[0].image_id, 1);
  EXPECT_EQ(set[1].candidate, "y");
  expect_error([&] { tokenize_caption_set(ann, {}, {ImageSelection::kResultImages}); },
               ErrorKind::kInvalidArgument, {"nothing to score"});
}

TEST(CocoIo, VqaErrorsNameTheEntry) {
  const json ann = {{"annotations",
                     {{{"question_id", 7},
                       {"image_id", 1},
                       {"question_type", "what"},
                       {"answer_type", "other"},
                       {"answers", {{{"answer", 3}}}}}}}};
  expect_error([&] { parse_vqa_annotations(ann, "a.json"); }, ErrorKind::kFormat,
               {"annotations[0] (question_id 7): answers[0]", "\"answer\" must be a string"});
  const json res = {{{"question_id", 7}, {"answer", "x"}}, {{"answer", "y"}}};
  expect_error([&] { parse_vqa_results(res, "r.json"); }, ErrorKind::kFormat,
               {"r.json: entry 1", "\"question_id\" is missing"});
  const json ques = {{"questions", {{{"question_id", 7}, {"image_id", 1}}}}};
  expect_error([&] { parse_vqa_questions(ques, "q.json"); }, ErrorKind::kFormat,
               {"questions[0] (question_id 7)", "\"question\" is missing"});
  // Questions that do not belong to the annotations.
  std::vector<VqaAnnotation> annotations(1);
  annotations[0].question_id = 7;
  annotations[0].image_id = 1;
  annotations[0].answers = {{"x", std::nullopt, std::nullopt}};
  expect_error(
      [&] {
        evaluate_vqa({{8, 1, "q"}}, annotations, {{7, "x"}});
      },
      ErrorKind::kInvalidArgument, {"question_id 7", "no entry in the questions file"});
  expect_error(
      [&] {
        evaluate_vqa({{7, 2, "q"}}, annotations, {{7, "x"}});
      },
      ErrorKind::kInvalidArgument, {"image 1", "says image 2"});
}

}  // namespace
}  // namespace blip2::eval
