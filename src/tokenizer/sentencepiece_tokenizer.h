// T5's SentencePiece tokenizer, id-exact with transformers 4.40.2's T5Tokenizer with legacy=true
// (the FlanT5 checkpoints, e.g. Salesforce/blip2-flan-t5-xl). Reference:
// transformers/models/t5/tokenization_t5.py. Config fields read: extra_ids, legacy,
// add_prefix_space, additional_special_tokens, eos/unk/pad tokens, clean_up_tokenization_spaces.
//
// - The model is Debian's libsentencepiece on spiece.model (unigram, nmt_nfkc, no byte fallback:
//   characters it does not know become <unk>).
// - <extra_id_N> are added tokens counted down from the end: id = pieces - 1 + extra_ids - N.
//   They strip the whitespace around them, and decode apart from the text, joined with spaces.
// - encode appends </s> unless the ids already end with it (_add_eos_if_not_present).
// - decode renders special tokens as text unless skipped and strips the result
//   (convert_tokens_to_string).
// legacy=false changes how text after a special token is encoded; it is refused (kUnsupported).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "tokenizer/slow_tokenizer.h"

namespace sentencepiece {
class SentencePieceProcessor;
}

namespace blip2 {

class SentencePieceTokenizer final : public SlowTokenizer {
 public:
  // Loads `model_path` (spiece.model); Error(kNotFound) if it cannot be read, Error(kFormat) if it
  // is not a SentencePiece model.
  SentencePieceTokenizer(const std::string& model_path, const TokenizerConfig& config);
  ~SentencePieceTokenizer() override;

 protected:
  void tokenize_text(std::string_view text, std::vector<int32_t>& ids) const override;
  std::vector<int32_t> build_inputs_with_special_tokens(std::vector<int32_t> ids) const override;
  std::optional<std::string> model_id_to_token(int32_t id) const override;
  std::optional<int32_t> model_token_to_id(std::string_view token) const override;
  std::optional<int32_t> model_token_to_id_or_unk(std::string_view token) const override;
  int32_t model_vocab_size() const override { return piece_size_; }
  void visit_model_vocab(
      const std::function<void(const std::string&, int32_t)>& visit) const override;
  std::string tokens_to_string(std::vector<std::string> tokens) const override;

 private:
  std::string decode_pieces(const std::vector<std::string>& pieces) const;

  std::unique_ptr<sentencepiece::SentencePieceProcessor> sp_;
  std::string model_path_;
  int32_t piece_size_ = 0;
  bool add_prefix_space_ = true;
};

}  // namespace blip2
