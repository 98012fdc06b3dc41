// What every transformers slow tokenizer shares (PreTrainedTokenizer in tokenization_utils.py,
// 4.40.2), on top of which BpeTokenizer and SentencePieceTokenizer add their model:
// - added tokens: the config's added_tokens_decoder plus the special tokens, registered the way
//   PreTrainedTokenizer.__init__ / _add_tokens do (a special token not yet in the vocabulary gets
//   the next free id);
// - encode: prepare_for_tokenization, split around added tokens (Trie.split), the AddedToken
//   lstrip / rstrip / single_word rules, the model on the text in between, then
//   build_inputs_with_special_tokens;
// - decode: convert_ids_to_tokens (skipping all_special_ids), added tokens outside the model
//   vocabulary kept apart from the model's text and joined with spaces (_decode), then
//   clean_up_tokenization.
#pragma once

#include <functional>
#include <map>
#include <set>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "tokenizer/added_token_trie.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/tokenizer_config.h"

namespace blip2 {

class SlowTokenizer : public Tokenizer {
 public:
  using Tokenizer::decode;

  std::vector<int32_t> encode(std::string_view text, bool add_special_tokens) const override;
  std::string decode(std::span<const int32_t> ids, const DecodeOptions& options) const override;
  std::string id_to_token(int32_t id) const override;
  std::optional<int32_t> token_to_id(std::string_view token) const override;
  int32_t size() const override { return size_; }
  bool is_special(int32_t id) const override { return all_special_ids_.contains(id); }
  bool clean_up_tokenization_spaces() const override { return clean_up_; }

  // tokenizer.tokenize(text) without the model step: the text split around added tokens after the
  // strip rules. added_id is the added token's id, or -1 for text the model tokenizes.
  struct Part {
    std::string text;
    int32_t added_id = -1;
  };
  std::vector<Part> split_on_added_tokens(std::string_view text) const;

  const std::map<int32_t, AddedToken>& added_tokens() const { return added_decoder_; }

 protected:
  // The special-token values after the class's own defaults, in SPECIAL_TOKENS_ATTRIBUTES order.
  struct SpecialTokens {
    std::optional<SpecialTokenValue> named[kNumSpecialAttrs];
    std::vector<SpecialTokenValue> additional;
  };

  // Called by a subclass constructor once its model is loaded: registers `class_added` (the
  // tokens the class itself adds, e.g. T5's <extra_id_N>), then the config's added tokens, then the
  // special tokens, and derives everything encode/decode need.
  void init_tokens(const TokenizerConfig& config, const SpecialTokens& specials,
                   const std::map<int32_t, AddedToken>& class_added);

  // --- the model, implemented by the subclass ---
  // prepare_for_tokenization (GPT-2's add_prefix_space).
  virtual std::string prepare_for_tokenization(std::string_view text) const {
    return std::string(text);
  }
  // _tokenize + convert_tokens_to_ids for text between added tokens; appends ids.
  virtual void tokenize_text(std::string_view text, std::vector<int32_t>& ids) const = 0;
  virtual std::vector<int32_t> build_inputs_with_special_tokens(std::vector<int32_t> ids) const = 0;
  // _convert_id_to_token; nullopt for ids outside the model vocabulary.
  virtual std::optional<std::string> model_id_to_token(int32_t id) const = 0;
  // The model vocabulary's id of a token, nullopt if it has none.
  virtual std::optional<int32_t> model_token_to_id(std::string_view token) const = 0;
  // _convert_token_to_id: as above, falling back as the model does (its unk id) or nullopt.
  virtual std::optional<int32_t> model_token_to_id_or_unk(std::string_view token) const = 0;
  // transformers' vocab_size (the model vocabulary without added tokens).
  virtual int32_t model_vocab_size() const = 0;
  // get_vocab() before the added tokens are merged in: calls `visit(token, id)` for each entry.
  virtual void visit_model_vocab(
      const std::function<void(const std::string&, int32_t)>& visit) const = 0;
  // convert_tokens_to_string on a run of tokens between added tokens.
  virtual std::string tokens_to_string(std::vector<std::string> tokens) const = 0;

  // --- helpers for subclasses ---
  // convert_tokens_to_ids(token): added tokens first, then the model.
  std::optional<int32_t> convert_token_to_id(std::string_view token) const;
  bool is_special_token_text(std::string_view token) const {
    return all_special_tokens_.contains(std::string(token));
  }
  const std::unordered_map<std::string, int32_t>& added_encoder() const { return added_encoder_; }
  std::string dir_;  // the model folder, for messages

 private:
  // get_vocab(): the model vocabulary updated with the added tokens.
  std::unordered_map<std::string, int32_t> vocab_with_added() const;
  void register_special(const SpecialTokenValue& value);

  std::map<int32_t, AddedToken> added_decoder_;             // id -> token
  std::unordered_map<std::string, int32_t> added_encoder_;  // text -> id
  AddedTokenTrie trie_;
  std::unordered_set<std::string> all_special_tokens_;
  std::unordered_set<int32_t> all_special_ids_;
  std::unordered_set<std::string> legacy_added_tokens_;  // kept apart when decoding
  bool clean_up_ = true;
  int32_t size_ = 0;
};

}  // namespace blip2
