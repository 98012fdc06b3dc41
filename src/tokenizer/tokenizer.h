// The tokenizers of BLIP-2's language models, id-exact with Hugging Face transformers 4.40.2's slow
// (pure-Python) tokenizers: GPT2Tokenizer (byte-level BPE, the OPT checkpoints) and T5Tokenizer
// (SentencePiece, the FlanT5 checkpoints).
//
//   std::unique_ptr<blip2::Tokenizer> tok = blip2::Tokenizer::load("models/shapes-demo");
//   std::vector<int32_t> ids = tok->encode("Question: what is in the image? Answer:");
//   // ids == {2, 287, 29, 293, ...}: </s> (bos) prepended, as the OPT config asks
//   std::string text = tok->decode(ids);  // "Question: ... Answer:", special tokens skipped
//
// A loaded Tokenizer is immutable: encode/decode may run on many threads at once.
//
// Ids that the tokenizer does not know (the model vocabulary is padded past the tokenizer: 50272 vs
// 50265 for OPT-2.7b) decode to nothing, whether or not special tokens are skipped; transformers
// would raise (GPT-2: TypeError on None, T5: IndexError from SentencePiece). A generator never
// produces them (their logits are exactly 0 by construction), so dropping them keeps decoding total
// without inventing text. id_to_token() throws for them. Negative ids are an Error everywhere.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace blip2 {

struct DecodeOptions {
  bool skip_special_tokens = true;
  // nullopt: the config's clean_up_tokenization_spaces (transformers' default when absent: true).
  std::optional<bool> clean_up_tokenization_spaces;
  // transformers joins added tokens (those outside the model vocabulary) and the text between them
  // with a space; this is its spaces_between_special_tokens, default true.
  bool spaces_between_special_tokens = true;
};

class Tokenizer {
 public:
  virtual ~Tokenizer() = default;

  // Loads the tokenizer of a Hugging Face model folder: GPT-2 byte-level BPE from vocab.json +
  // merges.txt, or from tokenizer.json (model.vocab / model.merges / added_tokens) when those are
  // absent; T5 SentencePiece from spiece.model. tokenizer_config.json (tokenizer_class,
  // added_tokens_decoder, add_bos_token, special tokens, extra_ids, legacy, ...),
  // special_tokens_map.json and added_tokens.json are read as transformers 4.40.2 reads them.
  // Throws Error(kNotFound) naming the folder and the files looked for, Error(kFormat) for a
  // malformed file (naming it and the entry), Error(kUnsupported) for other tokenizer classes.
  static std::unique_ptr<Tokenizer> load(const std::string& model_dir);

  // tokenizer(text).input_ids. `text` must be valid UTF-8 (Error(kInvalidArgument) otherwise).
  virtual std::vector<int32_t> encode(std::string_view text,
                                      bool add_special_tokens = true) const = 0;
  // tokenizer.decode(ids, skip_special_tokens=...), clean-up as the config says.
  virtual std::string decode(std::span<const int32_t> ids, bool skip_special_tokens = true) const;
  virtual std::string decode(std::span<const int32_t> ids, const DecodeOptions& options) const = 0;
  // convert_ids_to_tokens(id); Error(kInvalidArgument) for an id the tokenizer does not have.
  virtual std::string id_to_token(int32_t id) const = 0;
  // convert_tokens_to_ids(token), except that an unknown token gives nullopt instead of unk's id.
  virtual std::optional<int32_t> token_to_id(std::string_view token) const = 0;
  // len(tokenizer): the vocabulary including added tokens.
  virtual int32_t size() const = 0;
  // Whether decode(skip_special_tokens=true) drops the id (transformers' all_special_ids).
  virtual bool is_special(int32_t id) const = 0;
  // The config's clean_up_tokenization_spaces.
  virtual bool clean_up_tokenization_spaces() const = 0;

  // bos/eos/pad/unk ids as the tokenizer config defines them (nullopt if absent).
  std::optional<int32_t> bos_id, eos_id, pad_id, unk_id;
};

// transformers' clean_up_tokenization: " ." -> ".", " ?" -> "?", " !" -> "!", " ," -> ",",
// " ' " -> "'", " n't" -> "n't", " 'm" -> "'m", " 's" -> "'s", " 've" -> "'ve", " 're" -> "'re",
// applied one after the other, each left to right without overlaps (Python's str.replace).
// If `origins` is given it receives, for every output byte, the index of the input byte it came
// from (the streaming detokenizer needs to know which input spaces survived).
std::string clean_up_tokenization(std::string_view text, std::vector<uint32_t>* origins = nullptr);

}  // namespace blip2
