#include <gtest/gtest.h>

#include <filesystem>
#include <set>

#include "eval/ptb_tokenizer.h"
#include "eval_test_util.h"

namespace blip2::eval {
namespace {

using testing::caption_sets;
using testing::eval_data;
using testing::load_json;

std::string join(const std::vector<std::string>& tokens) {
  std::string out;
  for (size_t i = 0; i < tokens.size(); ++i) out += (i ? " " : "") + tokens[i];
  return out;
}

// Every worked case of caption/tokenization.json: the raw PTBTokenizer line and the final string.
TEST(PtbTokenizer, ReproducesEveryFixtureCase) {
  const nlohmann::json doc = load_json(eval_data("caption/tokenization.json"));
  ASSERT_GE(doc["cases"].size(), 30u);
  for (const auto& c : doc["cases"]) {
    const std::string input = c["input"];
    EXPECT_EQ(join(ptb_tokenize(input)), c["ptb_output"].get<std::string>()) << "input: " << input;
    EXPECT_EQ(coco_tokenize(input), c["final"].get<std::string>()) << "input: " << input;
  }
}

TEST(PtbTokenizer, PunctuationListIsTheFixtureOne) {
  const nlohmann::json doc = load_json(eval_data("caption/tokenization.json"));
  for (const auto& p : doc["punctuations_removed"])
    EXPECT_TRUE(is_coco_punctuation(p.get<std::string>()));
  EXPECT_FALSE(is_coco_punctuation("-lrb-"));
  EXPECT_FALSE(is_coco_punctuation("-LSB-"));
  EXPECT_FALSE(is_coco_punctuation("!!"));
  EXPECT_FALSE(is_coco_punctuation("mr."));
}

// Every caption of every caption set, references and candidates, against the tokenized strings
// pycocoevalcap passed to its scorers.
TEST(PtbTokenizer, ReproducesEveryCaptionOfEverySet) {
  size_t checked = 0;
  for (const std::string& set : caption_sets()) {
    const nlohmann::json ann = load_json(eval_data(set + "/annotations.json"));
    const nlohmann::json res = load_json(eval_data(set + "/results.json"));
    const nlohmann::json tok = load_json(eval_data(set + "/expected.json"))["tokenized"];
    std::map<int64_t, std::vector<std::string>> raw_refs;
    for (const auto& a : ann["annotations"]) {
      raw_refs[a["image_id"].get<int64_t>()].push_back(a["caption"].get<std::string>());
    }
    for (const auto& g : tok["gts"]) {
      const auto& raw = raw_refs.at(g["image_id"].get<int64_t>());
      ASSERT_EQ(raw.size(), g["captions"].size()) << set;
      for (size_t i = 0; i < raw.size(); ++i, ++checked) {
        EXPECT_EQ(coco_tokenize(raw[i]), g["captions"][i].get<std::string>())
            << set << " image " << g["image_id"] << " ref " << i << ": " << raw[i];
      }
    }
    std::map<int64_t, std::string> raw_res;
    for (const auto& r : res) raw_res[r["image_id"].get<int64_t>()] = r["caption"];
    for (const auto& r : tok["res"]) {
      ++checked;
      const std::string& raw = raw_res.at(r["image_id"].get<int64_t>());
      EXPECT_EQ(coco_tokenize(raw), r["caption"].get<std::string>())
          << set << " image " << r["image_id"] << ": " << raw;
    }
  }
  EXPECT_GT(checked, 400u);
}

// Guards the list above: a set added to the fixtures must be added to the tests.
TEST(PtbTokenizer, TestsCoverEveryFixtureSet) {
  std::set<std::string> on_disk;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(eval_data("caption"))) {
    if (entry.path().filename() == "expected.json") {
      on_disk.insert(std::filesystem::relative(entry.path().parent_path(), eval_data("")).string());
    }
  }
  const std::set<std::string> listed(caption_sets().begin(), caption_sets().end());
  EXPECT_EQ(on_disk, listed);
}

TEST(PtbTokenizer, QuirksBeyondTheFixtureCases) {
  // Sentence-final abbreviation of the ABBREV1 kind keeps its period as part of the token.
  EXPECT_EQ(coco_tokenize("Books, pens etc."), "books pens etc.");
  // A period inside a word list followed by a comma stays on the word (WORD\./INSENTP).
  EXPECT_EQ(join(ptb_tokenize("big., small")), "big. , small");
  // Bracket escapes are lower-cased and so survive the filter, including <>.
  EXPECT_EQ(coco_tokenize("a (red) car"), "a -lrb- red -rrb- car");
  EXPECT_EQ(join(ptb_tokenize("a < b > c")), "a < b > c");
  // Curly apostrophes split clitics like straight ones.
  EXPECT_EQ(coco_tokenize("the dog\u2019s bone"), "the dog 's bone");
  // Fractions with a whole part stay one token, with a no-break space inside.
  EXPECT_EQ(join(ptb_tokenize("a 2 1/2 inch nail")), "a 2\u00a01/2 inch nail");
  // Untokenizable characters (here an emoji, two UTF-16 units for Java) are deleted.
  EXPECT_EQ(coco_tokenize("a cat \U0001F600 sleeping"), "a cat sleeping");
  // Invalid UTF-8 does not throw.
  EXPECT_NO_THROW(coco_tokenize(std::string("bad \xff\xfe bytes")));
  EXPECT_EQ(coco_tokenize(""), "");
  EXPECT_EQ(coco_tokenize(" \t\n "), "");
}

}  // namespace
}  // namespace blip2::eval
