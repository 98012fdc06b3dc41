// The reference tokenizers' own outputs (transformers 4.40.2 GPT2Tokenizer / T5Tokenizer, slow):
// tokenizer_golden.json (202 strings per fixture), the prompts and generated sequences of the
// fixtures' generation.json, and the shapes-demo model's prompts and captions.
#include <gtest/gtest.h>

#include "tokenizer/tokenizer.h"
#include "tokenizer_test_util.h"

namespace blip2 {
namespace {

using nlohmann::json;
using testing::load_json;

std::vector<int32_t> ids_of(const json& j) {
  return j.get<std::vector<int32_t>>();
}

class GoldenTest : public ::testing::TestWithParam<const char*> {
 protected:
  std::string dir() const { return (testing::test_data() / GetParam()).string(); }
};

TEST_P(GoldenTest, EveryCaseMatchesTheReference) {
  const auto tok = Tokenizer::load(dir());
  const json golden = load_json(std::filesystem::path(dir()) / "expected/tokenizer_golden.json");
  const json& cases = golden["cases"];
  ASSERT_EQ(cases.size(), 202u);
  int checked = 0;
  for (const json& c : cases) {
    const std::string text = c["text"];
    SCOPED_TRACE("text: \"" + text + "\"");
    const std::vector<int32_t> ids = ids_of(c["ids"]);
    EXPECT_EQ(tok->encode(text), ids);
    EXPECT_EQ(tok->encode(text, /*add_special_tokens=*/false), ids_of(c["ids_no_special"]));
    std::vector<std::string> tokens;
    for (const int32_t id : ids) tokens.push_back(tok->id_to_token(id));
    EXPECT_EQ(tokens, c["tokens"].get<std::vector<std::string>>());
    EXPECT_EQ(tok->decode(ids, /*skip_special_tokens=*/true), c["decoded"].get<std::string>());
    EXPECT_EQ(tok->decode(ids, /*skip_special_tokens=*/false),
              c["decoded_keep_special"].get<std::string>());
    ++checked;
  }
  EXPECT_EQ(checked, 202);
  RecordProperty("golden_cases", checked);
}

TEST_P(GoldenTest, SizeAndSpecialIds) {
  const auto tok = Tokenizer::load(dir());
  const json golden = load_json(std::filesystem::path(dir()) / "expected/tokenizer_golden.json");
  EXPECT_EQ(tok->size(), golden["vocab_size_with_added"].get<int32_t>());
  const json& special = golden["special_token_ids"];
  const auto expect_id = [](const std::optional<int32_t>& got, const json& want, const char* what) {
    if (want.is_null()) {
      EXPECT_FALSE(got.has_value()) << what;
    } else {
      ASSERT_TRUE(got.has_value()) << what;
      EXPECT_EQ(*got, want.get<int32_t>()) << what;
    }
  };
  expect_id(tok->bos_id, special["bos"], "bos");
  expect_id(tok->eos_id, special["eos"], "eos");
  expect_id(tok->pad_id, special["pad"], "pad");
  expect_id(tok->unk_id, special["unk"], "unk");
  EXPECT_TRUE(tok->clean_up_tokenization_spaces());
}

// generation.json: the processor's input_ids for every prompt and decode() of every greedy and beam
// sequence (random weights: the texts hold U+FFFD from byte tokens that do not form characters).
TEST_P(GoldenTest, GenerationPromptsAndTexts) {
  const auto tok = Tokenizer::load(dir());
  const json gen = load_json(std::filesystem::path(dir()) / "expected/generation.json");
  int checked = 0;
  for (const json& r : gen["results"]) {
    SCOPED_TRACE("prompt: \"" + r["prompt"].get<std::string>() + "\"");
    EXPECT_EQ(tok->encode(r["prompt"].get<std::string>()), ids_of(r["input_ids"]));
    for (const char* kind : {"greedy", "beam"}) {
      EXPECT_EQ(tok->decode(ids_of(r[kind]["sequence"])), r[kind]["text"].get<std::string>())
          << kind;
      ++checked;
    }
  }
  const json& batch = gen["batch"];
  for (const json& row : batch["input_ids"]) {
    EXPECT_EQ(tok->encode(batch["prompt"].get<std::string>()), ids_of(row));
  }
  for (const json& row : batch["rows"]) {
    for (const char* kind : {"greedy", "beam"}) {
      EXPECT_EQ(tok->decode(ids_of(row[kind]["sequence"])), row[kind]["text"].get<std::string>());
      ++checked;
    }
  }
  EXPECT_GE(checked, 20);
}

INSTANTIATE_TEST_SUITE_P(Fixtures, GoldenTest, ::testing::Values("opt-tiny", "t5-tiny"),
                         [](const auto& info) {
                           return std::string(info.param) == "opt-tiny" ? "OptTiny" : "T5Tiny";
                         });

// The demo model: its prompts' input_ids and the texts of its greedy and beam outputs.
TEST(ShapesDemo, PromptsAndCaptions) {
  const auto tok = Tokenizer::load(testing::shapes_demo());
  EXPECT_EQ(tok->size(), 452);
  const json gen =
      load_json(std::filesystem::path(testing::shapes_demo()) / "expected/generation.json");
  int prompts = 0;
  for (const json& e : gen["examples"]) {
    EXPECT_EQ(tok->encode(""), ids_of(e["caption_greedy"]["input_ids"]));
    EXPECT_EQ(tok->decode(ids_of(e["caption_greedy"]["sequence"])),
              e["caption_greedy"]["text"].get<std::string>());
    EXPECT_EQ(tok->decode(ids_of(e["caption_beam3"]["sequence"])),
              e["caption_beam3"]["text"].get<std::string>());
    for (const json& q : e["vqa"]) {
      SCOPED_TRACE(q["prompt"].get<std::string>());
      EXPECT_EQ(tok->encode(q["prompt"].get<std::string>()), ids_of(q["input_ids"]));
      EXPECT_EQ(tok->decode(ids_of(q["greedy"]["sequence"])),
                q["greedy"]["text"].get<std::string>());
      ++prompts;
    }
  }
  EXPECT_GE(prompts, 5);
}

}  // namespace
}  // namespace blip2
