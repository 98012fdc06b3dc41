#include "tokenizer/tokenizer.h"

#include <array>
#include <filesystem>

#include "core/error.h"
#include "core/mapped_file.h"
#include "tokenizer/bpe_tokenizer.h"
#include "tokenizer/sentencepiece_tokenizer.h"
#include "tokenizer/tokenizer_config.h"

namespace blip2 {
namespace {

std::string join_path(const std::string& dir, const char* name) {
  return (std::filesystem::path(dir) / name).string();
}

enum class Kind { kBpe, kSentencePiece };

}  // namespace

std::string Tokenizer::decode(std::span<const int32_t> ids, bool skip_special_tokens) const {
  DecodeOptions options;
  options.skip_special_tokens = skip_special_tokens;
  return decode(ids, options);
}

std::unique_ptr<Tokenizer> Tokenizer::load(const std::string& model_dir) {
  std::error_code ec;
  if (!std::filesystem::is_directory(model_dir, ec)) {
    fail(ErrorKind::kNotFound, "tokenizer folder ", model_dir,
         " does not exist or is not a folder; pass a Hugging Face model folder");
  }
  const std::string vocab = join_path(model_dir, "vocab.json");
  const std::string merges = join_path(model_dir, "merges.txt");
  const std::string tokenizer_json = join_path(model_dir, "tokenizer.json");
  const std::string spiece = join_path(model_dir, "spiece.model");
  const bool has_vocab = file_exists(vocab), has_merges = file_exists(merges);
  const bool has_tokenizer_json = file_exists(tokenizer_json), has_spiece = file_exists(spiece);

  // transformers hands tokenizer.json's added tokens to slow tokenizers too (legacy folders only).
  const TokenizerConfig config =
      read_tokenizer_config(model_dir, has_tokenizer_json ? tokenizer_json : std::string());

  std::string cls = config.tokenizer_class;
  if (cls.ends_with("Fast")) cls.resize(cls.size() - 4);
  Kind kind;
  if (cls == "T5Tokenizer") {
    kind = Kind::kSentencePiece;
  } else if (cls == "GPT2Tokenizer") {
    kind = Kind::kBpe;
  } else if (cls.empty()) {
    if (has_spiece) {
      kind = Kind::kSentencePiece;
    } else if (has_vocab || has_merges || has_tokenizer_json) {
      kind = Kind::kBpe;
    } else {
      fail(ErrorKind::kNotFound, "no tokenizer in ", model_dir,
           ": looked for vocab.json + merges.txt or tokenizer.json (GPT-2 byte-level BPE, OPT) "
           "and spiece.model (T5); copy the tokenizer files of the checkpoint into the folder");
    }
  } else {
    fail(ErrorKind::kUnsupported, model_dir, "/tokenizer_config.json names tokenizer_class \"",
         config.tokenizer_class,
         "\"; blip2cpp reads GPT2Tokenizer (OPT) and T5Tokenizer (FlanT5) checkpoints");
  }

  if (kind == Kind::kSentencePiece) {
    if (!has_spiece) {
      fail(ErrorKind::kNotFound, model_dir, " has no spiece.model, which T5Tokenizer needs",
           has_tokenizer_json ? " (tokenizer.json alone is not enough)" : "",
           "; copy spiece.model of the checkpoint into the folder");
    }
    return std::make_unique<SentencePieceTokenizer>(spiece, config);
  }
  if (has_vocab && has_merges) {
    return std::make_unique<BpeTokenizer>(read_bpe_files(vocab, merges), config);
  }
  if (has_tokenizer_json) {
    return std::make_unique<BpeTokenizer>(read_bpe_tokenizer_json(tokenizer_json), config);
  }
  if (has_vocab != has_merges) {
    fail(ErrorKind::kNotFound, model_dir, " has ", has_vocab ? "vocab.json" : "merges.txt",
         " but no ", has_vocab ? "merges.txt" : "vocab.json",
         " (and no tokenizer.json); GPT-2 BPE needs both, copy the missing file from the "
         "checkpoint");
  }
  fail(ErrorKind::kNotFound, "no GPT-2 tokenizer in ", model_dir,
       ": looked for vocab.json + merges.txt and tokenizer.json; copy the tokenizer files of the "
       "checkpoint into the folder");
}

std::string clean_up_tokenization(std::string_view text, std::vector<uint32_t>* origins) {
  struct Rule {
    std::string_view from, to;
  };
  static constexpr std::array<Rule, 10> kRules = {{{" .", "."},
                                                   {" ?", "?"},
                                                   {" !", "!"},
                                                   {" ,", ","},
                                                   {" ' ", "'"},
                                                   {" n't", "n't"},
                                                   {" 'm", "'m"},
                                                   {" 's", "'s"},
                                                   {" 've", "'ve"},
                                                   {" 're", "'re"}}};
  std::string current(text);
  std::vector<uint32_t> current_origin;
  if (origins) {
    current_origin.resize(current.size());
    for (size_t i = 0; i < current.size(); ++i) current_origin[i] = static_cast<uint32_t>(i);
  }
  std::string next;
  std::vector<uint32_t> next_origin;
  for (const Rule& rule : kRules) {
    if (current.find(rule.from) == std::string::npos) continue;
    next.clear();
    next_origin.clear();
    size_t pos = 0;
    while (pos < current.size()) {
      if (current.compare(pos, rule.from.size(), rule.from) == 0) {
        next += rule.to;
        if (origins) {
          // Each rule drops spaces only: the kept bytes are the non-space ones, in order.
          for (size_t k = 0; k < rule.from.size(); ++k) {
            if (rule.from[k] != ' ') next_origin.push_back(current_origin[pos + k]);
          }
        }
        pos += rule.from.size();
      } else {
        next += current[pos];
        if (origins) next_origin.push_back(current_origin[pos]);
        ++pos;
      }
    }
    std::swap(current, next);
    std::swap(current_origin, next_origin);
  }
  if (origins) *origins = std::move(current_origin);
  return current;
}

}  // namespace blip2
