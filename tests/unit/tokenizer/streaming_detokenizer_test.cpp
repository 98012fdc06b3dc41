// The streaming detokenizer: on every golden case and generated sequence, on random sequences
// built to hit the clean-up rules and split multi-byte characters, the pieces concatenate to
// decode() and never cut a character.
#include <gtest/gtest.h>

#include <random>

#include "tokenizer/streaming_detokenizer.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/utf8.h"
#include "tokenizer_test_util.h"

namespace blip2 {
namespace {

using nlohmann::json;
using testing::load_json;

// Streams `ids`; checks every piece and every intermediate prefix; returns the pieces.
std::vector<std::string> stream_and_check(const Tokenizer& tok, const std::vector<int32_t>& ids) {
  const std::string want = tok.decode(ids, true);
  StreamingDetokenizer stream(tok);
  std::vector<std::string> pieces;
  std::string got;
  for (const int32_t id : ids) {
    pieces.push_back(stream.put(id));
    EXPECT_FALSE(utf8::find_invalid(pieces.back()).has_value()) << "piece cuts a character";
    got += pieces.back();
    EXPECT_EQ(got, stream.emitted());
    // What was released is final: a prefix of the decode of every longer sequence.
    EXPECT_EQ(want.compare(0, got.size(), got), 0)
        << "released \"" << got << "\" of \"" << want << "\"";
  }
  pieces.push_back(stream.flush());
  EXPECT_FALSE(utf8::find_invalid(pieces.back()).has_value());
  got += pieces.back();
  EXPECT_EQ(got, want);
  EXPECT_TRUE(stream.ids().empty());  // flush starts a new sequence
  return pieces;
}

class StreamingGoldenTest : public ::testing::TestWithParam<const char*> {
 protected:
  std::filesystem::path dir() const { return testing::test_data() / GetParam(); }
};

TEST_P(StreamingGoldenTest, GoldenCasesAndGenerations) {
  const auto tok = Tokenizer::load(dir().string());
  int sequences = 0;
  const json golden = load_json(dir() / "expected/tokenizer_golden.json");
  for (const json& c : golden["cases"]) {
    SCOPED_TRACE(c["text"].get<std::string>());
    stream_and_check(*tok, c["ids"].get<std::vector<int32_t>>());
    ++sequences;
  }
  const json generation = load_json(dir() / "expected/generation.json");
  for (const json& r : generation["results"]) {
    for (const char* kind : {"greedy", "beam"}) {
      stream_and_check(*tok, r[kind]["sequence"].get<std::vector<int32_t>>());
      ++sequences;
    }
  }
  EXPECT_GE(sequences, 202 + 20);
}

INSTANTIATE_TEST_SUITE_P(Fixtures, StreamingGoldenTest, ::testing::Values("opt-tiny", "t5-tiny"),
                         [](const auto& info) {
                           return std::string(info.param) == "opt-tiny" ? "OptTiny" : "T5Tiny";
                         });

TEST(StreamingDetokenizer, EmojiSplitAcrossByteTokensComesOutWhole) {
  const auto tok = Tokenizer::load(testing::opt_tiny());
  // "a😀b": 😀 is the four byte tokens ð Ł ĺ Ģ.
  const std::vector<int32_t> ids = {2, 68, 176, 257, 250, 226, 69};
  const auto pieces = stream_and_check(*tok, ids);
  ASSERT_EQ(pieces.size(), ids.size() + 1);
  EXPECT_EQ(pieces[0], "");  // </s>
  EXPECT_EQ(pieces[1], "a");
  EXPECT_EQ(pieces[2], "");  // 1/4 of the emoji
  EXPECT_EQ(pieces[3], "");
  EXPECT_EQ(pieces[4], "");
  EXPECT_EQ(pieces[5], "\xF0\x9F\x98\x80");
  EXPECT_EQ(pieces[6], "b");
  EXPECT_EQ(pieces[7], "");
}

TEST(StreamingDetokenizer, SpaceIsHeldUntilTheCleanUpCanDecide) {
  const auto tok = Tokenizer::load(testing::opt_tiny());
  // "Hello , world ." decodes (with clean-up) to "Hello, world."
  const std::vector<int32_t> ids = {43, 72, 329, 82, 224, 15, 280, 290, 313, 224, 17};
  const auto pieces = stream_and_check(*tok, ids);
  std::string all;
  for (const auto& p : pieces) all += p;
  EXPECT_EQ(all, "Hello, world.");
  EXPECT_EQ(pieces[3], "o");
  EXPECT_EQ(pieces[4], "");   // "Ġ": trailing, and " ," would delete it
  EXPECT_EQ(pieces[5], "");   // ",": waits behind the space, whose fate needs 3 more bytes
  EXPECT_EQ(pieces[6], ",");  // "Ġw": now the clean-up of the space before the comma is settled
  EXPECT_EQ(pieces[7], " wor");
}

TEST(StreamingDetokenizer, ResetAndReuse) {
  const auto tok = Tokenizer::load(testing::shapes_demo());
  StreamingDetokenizer stream(*tok);
  stream.put(68);
  stream.reset();
  EXPECT_TRUE(stream.ids().empty());
  std::string text;
  for (const int32_t id : {2, 68, 322, 382, 318, 2}) text += stream.put(id);
  text += stream.flush();
  EXPECT_EQ(text, "a small red square");
  EXPECT_EQ(testing::expect_error([&] { stream.put(-1); }).kind(), ErrorKind::kInvalidArgument);
}

// Random sequences over tokens that exercise the clean-up (spaces, quotes, n't, punctuation),
// whitespace, special tokens, ids outside the tokenizer and the bytes of multi-byte characters.
void random_sequences(const Tokenizer& tok, const std::vector<int32_t>& alphabet, int trials,
                      uint32_t seed) {
  std::mt19937 rng(seed);
  for (int t = 0; t < trials; ++t) {
    const size_t len = 1 + rng() % 24;
    std::vector<int32_t> ids;
    for (size_t i = 0; i < len; ++i) ids.push_back(alphabet[rng() % alphabet.size()]);
    SCOPED_TRACE(::testing::PrintToString(ids));
    stream_and_check(tok, ids);
    if (::testing::Test::HasFailure()) return;
  }
}

std::vector<int32_t> ids_of_tokens(const Tokenizer& tok,
                                   std::initializer_list<const char*> tokens) {
  std::vector<int32_t> ids;
  for (const char* t : tokens) {
    const auto id = tok.token_to_id(t);
    EXPECT_TRUE(id.has_value()) << t;
    if (id) ids.push_back(*id);
  }
  return ids;
}

TEST(StreamingDetokenizer, RandomSequencesGpt2) {
  const auto tok = Tokenizer::load(testing::opt_tiny());
  // Ġ ' n 't Ġn . ? ! , s m ve re Ġ' a Ċ ĉ and the byte tokens of é, € and 😀.
  std::vector<int32_t> alphabet = ids_of_tokens(
      *tok, {"\xC4\xA0", "'",        "n",        "'t",       "\xC4\xA0n", ".",        "?",
             "!",        ",",        "s",        "m",        "ve",        "re",       "\xC4\xA0'",
             "a",        "\xC4\x8A", "\xC4\x89", "\xC3\x83", "\xC2\xA9",  "\xC3\xA2", "\xC4\xA2",
             "\xC2\xAC", "\xC3\xB0", "\xC5\x81", "\xC4\xBA"});
  for (const int32_t special : {1, 2, 1503}) alphabet.push_back(special);
  random_sequences(*tok, alphabet, 4000, 7);
}

TEST(StreamingDetokenizer, RandomSequencesT5) {
  const auto tok = Tokenizer::load(testing::t5_tiny());
  std::vector<int32_t> alphabet =
      ids_of_tokens(*tok, {"\xE2\x96\x81", "'", "n", "t", ".", "?", "!", ",", "s", "m", "ve", "re",
                           "\xE2\x96\x81"
                           "a",
                           "\xE2\x96\x81"
                           "n",
                           "\xC3\xA9"});
  for (const int32_t special : {0, 1, 2, 1099, 1050, 1120}) alphabet.push_back(special);
  random_sequences(*tok, alphabet, 4000, 11);
}

}  // namespace
}  // namespace blip2
