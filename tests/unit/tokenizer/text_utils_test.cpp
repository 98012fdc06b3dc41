// The small pieces under the tokenizers: Python-compatible UTF-8 decoding and whitespace, the
// clean-up rules, and the added-token trie (cases from transformers' own Trie tests).
#include <gtest/gtest.h>

#include "tokenizer/added_token_trie.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/utf8.h"

namespace blip2 {
namespace {

const std::string kFffd = "\xEF\xBF\xBD";

TEST(Utf8, DecodeReplaceMatchesPython) {
  // Expected values are Python 3's bytes.decode("utf-8", errors="replace").
  EXPECT_EQ(utf8::decode_replace("abc"), "abc");
  EXPECT_EQ(utf8::decode_replace("\xE2\x82\xAC"), "\xE2\x82\xAC");  // €
  EXPECT_EQ(utf8::decode_replace("\xE2\x82"), kFffd);               // cut off: one U+FFFD
  EXPECT_EQ(utf8::decode_replace("\xE2\x82"
                                 "A"),
            kFffd + "A");
  EXPECT_EQ(utf8::decode_replace("\xF0\x9F\x98"), kFffd);
  EXPECT_EQ(utf8::decode_replace("\xF0\x9F\x98\x80"), "\xF0\x9F\x98\x80");
  EXPECT_EQ(utf8::decode_replace("\xF0\x80\x80"), kFffd + kFffd + kFffd);  // overlong lead
  EXPECT_EQ(utf8::decode_replace("\xED\xA0\x80"), kFffd + kFffd + kFffd);  // surrogate
  EXPECT_EQ(utf8::decode_replace("\xC0\xAF"), kFffd + kFffd);
  EXPECT_EQ(utf8::decode_replace("\xFF"), kFffd);
  EXPECT_EQ(utf8::decode_replace("a\x80"
                                 "b"),
            "a" + kFffd + "b");
  EXPECT_EQ(utf8::decode_replace("\xF4\x90\x80\x80"), kFffd + kFffd + kFffd + kFffd);
  EXPECT_EQ(utf8::decode_replace("\xE2\x82\xE2\x82\xAC"), kFffd + "\xE2\x82\xAC");
  EXPECT_EQ(utf8::decode_replace("\xF0\x9F\x98"
                                 "\xF0\x9F\x98\x80"),
            kFffd + "\xF0\x9F\x98\x80");
}

TEST(Utf8, FindInvalid) {
  EXPECT_EQ(utf8::find_invalid("h\xC3\xA9llo"), std::nullopt);
  EXPECT_EQ(utf8::find_invalid("ab\xC3"), 2u);
  EXPECT_EQ(utf8::find_invalid("\xED\xA0\x80"), 0u);
}

TEST(Utf8, PythonWhitespace) {
  for (uint32_t cp : {0x09u, 0x0Au, 0x0Bu, 0x0Cu, 0x0Du, 0x1Cu, 0x1Fu, 0x20u, 0x85u, 0xA0u, 0x1680u,
                      0x2000u, 0x200Au, 0x2028u, 0x2029u, 0x202Fu, 0x205Fu, 0x3000u}) {
    EXPECT_TRUE(utf8::is_python_space(cp)) << cp;
  }
  for (uint32_t cp : {0x08u, 0x21u, 0x200Bu, 0xFEFFu, 0x180Eu, 0x41u}) {
    EXPECT_FALSE(utf8::is_python_space(cp)) << cp;
  }
  EXPECT_EQ(utf8::strip(" \t\xE3\x80\x80"
                        "a b\xC2\xA0\n"),
            "a b");
  EXPECT_EQ(utf8::lstrip("  x "), "x ");
  EXPECT_EQ(utf8::rstrip("  x "), "  x");
  EXPECT_EQ(utf8::rstrip("\xC3\xA9 "), "\xC3\xA9");
  EXPECT_EQ(utf8::strip("   "), "");
}

TEST(CleanUp, TransformersRules) {
  EXPECT_EQ(clean_up_tokenization("Hello , world . Yes ! No ? ok"), "Hello, world. Yes! No? ok");
  EXPECT_EQ(clean_up_tokenization("do n't i 'm it 's we 've you 're"),
            "don't i'm it's we've you're");
  EXPECT_EQ(clean_up_tokenization("word ' s"), "word's");
  EXPECT_EQ(clean_up_tokenization("a  ."), "a .");  // one space per match, as str.replace
  EXPECT_EQ(clean_up_tokenization("x ' ' y"), "x'' y");
  EXPECT_EQ(clean_up_tokenization("no change"), "no change");
}

TEST(CleanUp, OriginsPointAtTheKeptBytes) {
  std::vector<uint32_t> origins;
  const std::string out = clean_up_tokenization("a , b ' c", &origins);
  EXPECT_EQ(out, "a, b'c");
  EXPECT_EQ(origins, (std::vector<uint32_t>{0, 2, 3, 4, 6, 8}));
}

std::vector<std::string> split(const AddedTokenTrie& trie, std::string_view text) {
  std::vector<std::string> out;
  for (const auto part : trie.split(text)) out.emplace_back(part);
  return out;
}
using Parts = std::vector<std::string>;

TEST(AddedTokenTrie, LongestMatchFirst) {
  AddedTokenTrie trie;
  EXPECT_EQ(split(trie, "[CLS] This is a extra_id_100"), Parts{"[CLS] This is a extra_id_100"});
  trie.add("[CLS]");
  trie.add("extra_id_1");
  trie.add("extra_id_100");
  EXPECT_EQ(split(trie, "[CLS] This is a extra_id_100"),
            (Parts{"[CLS]", " This is a ", "extra_id_100"}));
}

TEST(AddedTokenTrie, SingleToken) {
  AddedTokenTrie trie;
  trie.add("A");
  EXPECT_EQ(split(trie, "ABC"), (Parts{"A", "BC"}));
  EXPECT_EQ(split(trie, "BCA"), (Parts{"BC", "A"}));
}

TEST(AddedTokenTrie, FinalMatch) {
  AddedTokenTrie trie;
  trie.add("A");
  trie.add("P");
  trie.add("[SPECIAL]");
  EXPECT_EQ(split(trie, "This is something [SPECIAL]"), (Parts{"This is something ", "[SPECIAL]"}));
}

TEST(AddedTokenTrie, SubTokens) {
  AddedTokenTrie trie;
  trie.add("TOKEN]");
  trie.add("[SPECIAL_TOKEN]");
  EXPECT_EQ(split(trie, "This is something [SPECIAL_TOKEN]"),
            (Parts{"This is something ", "[SPECIAL_TOKEN]"}));
}

TEST(AddedTokenTrie, Skip) {
  AddedTokenTrie trie;
  trie.add("ABC");
  trie.add("B");
  trie.add("CD");
  EXPECT_EQ(split(trie, "ABCD"), (Parts{"ABC", "D"}));
}

TEST(AddedTokenTrie, OverlappingStarts) {
  AddedTokenTrie trie;
  trie.add("AB");
  trie.add("B");
  trie.add("C");
  EXPECT_EQ(split(trie, "ABC"), (Parts{"AB", "C"}));
  AddedTokenTrie t2;
  t2.add("blowing");
  t2.add("lower");
  EXPECT_EQ(split(t2, "blower"), (Parts{"b", "lower"}));
}

TEST(AddedTokenTrie, AdjacentAndMultibyte) {
  AddedTokenTrie trie;
  trie.add("</s>");
  trie.add("<pad>");
  trie.add("\xE2\x96\x81<x>");  // "▁<x>"
  EXPECT_EQ(split(trie, "</s></s>"), (Parts{"</s>", "</s>"}));
  EXPECT_EQ(split(trie, "a<pad>\xC3\xA9</s"), (Parts{"a", "<pad>", "\xC3\xA9</s"}));
  EXPECT_EQ(split(trie, "\xE2\x96\x81\xE2\x96\x81<x>"), (Parts{"\xE2\x96\x81", "\xE2\x96\x81<x>"}));
  EXPECT_EQ(split(trie, ""), Parts{});
}

}  // namespace
}  // namespace blip2
