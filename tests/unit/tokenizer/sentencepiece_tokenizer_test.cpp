// T5's SentencePiece tokenizer beyond the golden strings: sentinel ids, the whitespace the
// sentinels eat, legacy folders, ids outside the vocabulary and loading errors.
#include <gtest/gtest.h>

#include "tokenizer/slow_tokenizer.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer_test_util.h"

namespace blip2 {
namespace {

using nlohmann::json;
using testing::expect_error;
using testing::load_json;
using testing::ScratchDir;
using testing::t5_tiny;
using testing::write_file;

TEST(SentencePieceTokenizer, ExtraIdsCountDownFromTheEnd) {
  const auto tok = Tokenizer::load(t5_tiny());
  EXPECT_EQ(tok->size(), 1100);
  for (int n = 0; n < 100; ++n) {
    const std::string token = "<extra_id_" + std::to_string(n) + ">";
    EXPECT_EQ(tok->token_to_id(token), 1099 - n) << token;
    EXPECT_EQ(tok->id_to_token(1099 - n), token);
    EXPECT_TRUE(tok->is_special(1099 - n));
  }
  EXPECT_TRUE(tok->is_special(0));
  EXPECT_TRUE(tok->is_special(1));
  EXPECT_TRUE(tok->is_special(2));
  EXPECT_FALSE(tok->is_special(3));
}

TEST(SentencePieceTokenizer, SentinelsEatTheWhitespaceAroundThem) {
  const auto tok = Tokenizer::load(t5_tiny());
  const auto* slow = dynamic_cast<const SlowTokenizer*>(tok.get());
  ASSERT_NE(slow, nullptr);
  const auto parts = slow->split_on_added_tokens("a  <extra_id_0>\t b</s> c");
  ASSERT_EQ(parts.size(), 5u);
  EXPECT_EQ(parts[0].text, "a");
  EXPECT_EQ(parts[1].added_id, 1099);
  EXPECT_EQ(parts[2].text, "b");  // eaten on both sides of the sentinel
  EXPECT_EQ(parts[3].added_id, 1);
  EXPECT_EQ(parts[4].text, " c");  // </s> strips nothing
  EXPECT_EQ(tok->encode("a  <extra_id_0>\t b"), (std::vector<int32_t>{3, 1099, 241, 1}));
  EXPECT_EQ(tok->decode(std::vector<int32_t>{3, 1099, 241, 1}, false), "a <extra_id_0> b</s>");
}

TEST(SentencePieceTokenizer, EosIsNotAddedTwice) {
  const auto tok = Tokenizer::load(t5_tiny());
  EXPECT_EQ(tok->encode("a</s>"), (std::vector<int32_t>{3, 1}));
  EXPECT_EQ(tok->encode("a</s>", false), (std::vector<int32_t>{3, 1}));
  EXPECT_EQ(tok->encode("a"), (std::vector<int32_t>{3, 1}));
}

TEST(SentencePieceTokenizer, IdsOutsideTheTokenizerDecodeToNothing) {
  const auto tok = Tokenizer::load(t5_tiny());
  // The model vocabulary has 1152 rows, the tokenizer 1100 tokens.
  EXPECT_EQ(tok->decode(std::vector<int32_t>{3, 1100, 216, 1151, 1}), "a cat");
  EXPECT_EQ(tok->decode(std::vector<int32_t>{3, 1151, 1}, false), "a</s>");
  EXPECT_EQ(expect_error([&] { tok->id_to_token(1100); }).kind(), ErrorKind::kInvalidArgument);
  EXPECT_EQ(expect_error([&] { tok->decode(std::vector<int32_t>{-1}); }).kind(),
            ErrorKind::kInvalidArgument);
}

TEST(SentencePieceTokenizer, TokenToId) {
  const auto tok = Tokenizer::load(t5_tiny());
  EXPECT_EQ(tok->token_to_id("<unk>"), 2);
  EXPECT_EQ(tok->token_to_id("\xE2\x96\x81"
                             "cat"),
            216);  // "▁cat"
  EXPECT_EQ(tok->token_to_id("no-such-piece"), std::nullopt);
}

// An older folder: no added_tokens_decoder, so the sentinels come from added_tokens.json (which
// transformers registers without whitespace stripping) and the special tokens from
// special_tokens_map.json.
TEST(SentencePieceTokenizer, LegacyFolderWithAddedTokensJson) {
  ScratchDir dir;
  dir.copy_from(t5_tiny(), {"spiece.model", "special_tokens_map.json", "added_tokens.json"});
  json config = load_json(std::filesystem::path(t5_tiny()) / "tokenizer_config.json");
  config.erase("added_tokens_decoder");
  write_file(dir.path() / "tokenizer_config.json", config.dump());
  const auto tok = Tokenizer::load(dir.str());
  EXPECT_EQ(tok->size(), 1100);
  EXPECT_EQ(tok->token_to_id("<extra_id_0>"), 1099);
  EXPECT_EQ(tok->eos_id, 1);
  EXPECT_EQ(tok->pad_id, 0);
  EXPECT_EQ(tok->unk_id, 2);
  const auto* slow = dynamic_cast<const SlowTokenizer*>(tok.get());
  ASSERT_NE(slow, nullptr);
  const auto parts = slow->split_on_added_tokens("a <extra_id_0> b");
  ASSERT_EQ(parts.size(), 3u);
  EXPECT_EQ(parts[0].text, "a ");
  EXPECT_EQ(parts[2].text, " b");
  // SentencePiece drops the kept spaces anyway, so the ids agree with the golden strings.
  const json cases =
      load_json(std::filesystem::path(t5_tiny()) / "expected/tokenizer_golden.json")["cases"];
  for (const json& c : cases) {
    EXPECT_EQ(tok->encode(c["text"].get<std::string>()), c["ids"].get<std::vector<int32_t>>())
        << c["text"];
  }
}

TEST(SentencePieceTokenizer, NoConfigUsesT5Defaults) {
  ScratchDir dir;
  dir.copy_from(t5_tiny(), {"spiece.model"});
  const auto tok = Tokenizer::load(dir.str());
  EXPECT_EQ(tok->size(), 1100);
  EXPECT_EQ(tok->token_to_id("<extra_id_0>"), 1099);
  EXPECT_EQ(tok->encode("a photo of"), (std::vector<int32_t>{3, 53, 44, 9, 1}));
}

TEST(SentencePieceTokenizerErrors, MissingSpieceModel) {
  ScratchDir dir;
  dir.copy_from(t5_tiny(), {"tokenizer_config.json", "special_tokens_map.json"});
  const Error e = expect_error([&] { Tokenizer::load(dir.str()); });
  EXPECT_EQ(e.kind(), ErrorKind::kNotFound);
  EXPECT_NE(std::string(e.what()).find("spiece.model"), std::string::npos) << e.what();
  EXPECT_NE(std::string(e.what()).find(dir.str()), std::string::npos) << e.what();
}

TEST(SentencePieceTokenizerErrors, CorruptSpieceModel) {
  ScratchDir dir;
  dir.copy_from(t5_tiny(), {"tokenizer_config.json"});
  write_file(dir.path() / "spiece.model", "this is not a protobuf");
  const Error e = expect_error([&] { Tokenizer::load(dir.str()); });
  EXPECT_EQ(e.kind(), ErrorKind::kFormat);
  EXPECT_NE(std::string(e.what()).find("spiece.model"), std::string::npos) << e.what();
}

TEST(SentencePieceTokenizerErrors, LegacyFalseIsRefused) {
  ScratchDir dir;
  dir.copy_from(t5_tiny(), {"spiece.model"});
  json config = load_json(std::filesystem::path(t5_tiny()) / "tokenizer_config.json");
  config["legacy"] = false;
  write_file(dir.path() / "tokenizer_config.json", config.dump());
  const Error e = expect_error([&] { Tokenizer::load(dir.str()); });
  EXPECT_EQ(e.kind(), ErrorKind::kUnsupported);
  EXPECT_NE(std::string(e.what()).find("legacy"), std::string::npos) << e.what();
}

TEST(SentencePieceTokenizerErrors, ExtraIdsDisagreeWithTheTokens) {
  ScratchDir dir;
  dir.copy_from(t5_tiny(), {"spiece.model"});
  json config = load_json(std::filesystem::path(t5_tiny()) / "tokenizer_config.json");
  config["extra_ids"] = 50;
  write_file(dir.path() / "tokenizer_config.json", config.dump());
  EXPECT_EQ(expect_error([&] { Tokenizer::load(dir.str()); }).kind(), ErrorKind::kFormat);
}

}  // namespace
}  // namespace blip2
