// GPT-2 byte-level BPE, id-exact with transformers 4.40.2's GPT2Tokenizer (the tokenizer of the
// OPT checkpoints, e.g. Salesforce/blip2-opt-2.7b and models/shapes-demo).
// Reference: transformers/models/gpt2/tokenization_gpt2.py. Config fields read: add_bos_token,
// add_prefix_space, errors (only "replace"), bos/eos/unk/pad tokens, clean_up_tokenization_spaces.
//
// encode: the text between added tokens is pre-tokenized with GPT-2's regex
//   's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
// (PCRE2, compiled once; \s spelled out as the Unicode White_Space set that Python's `regex` module
// uses), each piece's UTF-8 bytes become byte symbols (bytes_to_unicode) and are merged by rank.
// decode: byte symbols back to bytes, UTF-8 with errors="replace".
#pragma once

#include <array>
#include <memory>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "tokenizer/slow_tokenizer.h"

namespace blip2 {

// A BPE model as stored: token -> id and the merges in rank order.
struct BpeModel {
  std::string source;  // the file(s) it came from, for messages
  std::unordered_map<std::string, int32_t> vocab;
  std::vector<std::pair<std::string, std::string>> merges;
};

// vocab.json + merges.txt (GPT2Tokenizer's files). Error(kFormat) names the file and the entry or
// line that is wrong; Error(kNotFound) if a file cannot be read.
BpeModel read_bpe_files(const std::string& vocab_json, const std::string& merges_txt);
// tokenizer.json of a fast tokenizer: model.vocab and model.merges ("a b" strings or ["a", "b"]).
BpeModel read_bpe_tokenizer_json(const std::string& path);

class BpeTokenizer final : public SlowTokenizer {
 public:
  BpeTokenizer(BpeModel model, const TokenizerConfig& config);
  ~BpeTokenizer() override;

 protected:
  std::string prepare_for_tokenization(std::string_view text) const override;
  void tokenize_text(std::string_view text, std::vector<int32_t>& ids) const override;
  std::vector<int32_t> build_inputs_with_special_tokens(std::vector<int32_t> ids) const override;
  std::optional<std::string> model_id_to_token(int32_t id) const override;
  std::optional<int32_t> model_token_to_id(std::string_view token) const override;
  std::optional<int32_t> model_token_to_id_or_unk(std::string_view token) const override;
  int32_t model_vocab_size() const override { return static_cast<int32_t>(encoder_.size()); }
  void visit_model_vocab(
      const std::function<void(const std::string&, int32_t)>& visit) const override;
  std::string tokens_to_string(std::vector<std::string> tokens) const override;

 private:
  class PreTokenizer;  // the compiled regex (PCRE2 stays out of this header)
  struct Merge {
    int32_t rank;
    int32_t result;  // symbol
  };
  static uint64_t pair_key(int32_t left, int32_t right) {
    return (static_cast<uint64_t>(static_cast<uint32_t>(left)) << 32) |
           static_cast<uint32_t>(right);
  }
  int32_t intern(const std::string& symbol);
  // Merges the byte symbols of one pre-tokenized piece and appends the token ids.
  void bpe(std::string_view piece, std::vector<int32_t>& ids) const;

  std::unordered_map<std::string, int32_t> encoder_;  // vocab.json
  std::unordered_map<int32_t, std::string> decoder_;
  std::string unk_text_;  // the unk token's text: what pieces outside the vocabulary become

  // Symbols are the strings BPE works with: the 256 byte characters and every merge's parts and
  // result, interned so that the merge loop compares integers.
  std::unordered_map<std::string, int32_t> symbol_index_;
  std::vector<std::string> symbol_text_;
  std::vector<int32_t> symbol_id_;  // symbol -> token id (convert_tokens_to_ids), -1 if none
  std::array<int32_t, 256> byte_symbol_{};
  std::unordered_map<uint64_t, Merge> merges_;  // (left, right) -> rank and result

  std::array<uint32_t, 256> byte_to_char_{};  // bytes_to_unicode()
  std::vector<int16_t> char_to_byte_;         // its inverse, indexed by code point (-1: none)

  std::unique_ptr<PreTokenizer> pre_tokenizer_;
  bool add_bos_token_ = false;
  bool add_prefix_space_ = false;
};

}  // namespace blip2
