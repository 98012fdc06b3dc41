#include "tokenizer/sentencepiece_tokenizer.h"

#include <sentencepiece_processor.h>

#include "core/error.h"
#include "core/mapped_file.h"
#include "tokenizer/utf8.h"

namespace blip2 {
namespace {

constexpr std::string_view kSpieceUnderline = "\xE2\x96\x81";  // U+2581, SentencePiece's space

std::string extra_id_token(int64_t i) {
  return str_cat("<extra_id_", i, ">");
}

}  // namespace

SentencePieceTokenizer::~SentencePieceTokenizer() = default;

SentencePieceTokenizer::SentencePieceTokenizer(const std::string& model_path,
                                               const TokenizerConfig& config)
    : sp_(std::make_unique<sentencepiece::SentencePieceProcessor>()), model_path_(model_path) {
  if (!file_exists(model_path)) {
    fail(ErrorKind::kNotFound, "cannot read ", model_path,
         "; copy spiece.model of the checkpoint into the folder");
  }
  // Load from memory so that a malformed file is reported here rather than by the library's log.
  const std::string serialized = read_text_file(model_path);
  if (const auto status = sp_->LoadFromSerializedProto(serialized); !status.ok()) {
    fail(ErrorKind::kFormat, model_path, " is not a SentencePiece model (", status.ToString(),
         "); restore the file from the checkpoint");
  }
  piece_size_ = sp_->GetPieceSize();

  if (!config.get_bool("legacy", true)) {
    fail(ErrorKind::kUnsupported, config.dir,
         "/tokenizer_config.json sets legacy=false; only the legacy T5 tokenization (the default, "
         "used by the BLIP-2 FlanT5 checkpoints) is supported");
  }
  add_prefix_space_ = config.get_bool("add_prefix_space", true);
  const int64_t extra_ids = config.get_int("extra_ids", 100);
  if (extra_ids < 0 || extra_ids > piece_size_ + 1000000) {
    fail(ErrorKind::kFormat, config.dir, "/tokenizer_config.json: extra_ids=", extra_ids,
         " is out of range; fix the file");
  }

  // T5Tokenizer wraps eos/unk/pad strings in AddedToken objects; defaults </s>, <unk>, <pad>.
  SpecialTokens specials;
  for (int a = 0; a < kNumSpecialAttrs; ++a) {
    const auto attr = static_cast<SpecialAttr>(a);
    const char* fallback = attr == SpecialAttr::kEos   ? "</s>"
                           : attr == SpecialAttr::kUnk ? "<unk>"
                           : attr == SpecialAttr::kPad ? "<pad>"
                                                       : nullptr;
    const auto value = config.special(attr);
    if (value.has_value()) {
      specials.named[a] = *value;
    } else if (fallback != nullptr) {
      specials.named[a] = SpecialTokenValue{AddedToken{.content = fallback}, true};
    }
    if (fallback != nullptr && specials.named[a]) specials.named[a]->is_object = true;
  }

  // The sentinel tokens: given in additional_special_tokens, or made from extra_ids.
  size_t num_extra_tokens = 0;
  if (auto additional = config.additional_special_tokens()) {
    specials.additional = std::move(*additional);
    for (const auto& v : specials.additional) {
      if (v.token.content.find("<extra_id_") != std::string::npos) ++num_extra_tokens;
    }
    if (num_extra_tokens == 0) {
      for (int64_t i = 0; i < extra_ids; ++i) {
        specials.additional.push_back({AddedToken{.content = extra_id_token(i)}, false});
      }
    } else if (extra_ids > 0 && static_cast<int64_t>(num_extra_tokens) != extra_ids) {
      fail(ErrorKind::kFormat, config.dir, "/tokenizer_config.json: extra_ids=", extra_ids,
           " but additional_special_tokens has ", num_extra_tokens,
           " <extra_id_N> tokens; make them agree");
    }
  } else {
    num_extra_tokens = static_cast<size_t>(extra_ids);
    for (int64_t i = 0; i < extra_ids; ++i) {
      specials.additional.push_back({AddedToken{.content = extra_id_token(i)}, false});
    }
  }
  std::map<int32_t, AddedToken> class_added;
  for (size_t i = 0; i < num_extra_tokens; ++i) {
    const auto id = static_cast<int32_t>(piece_size_ - 1 + extra_ids - static_cast<int64_t>(i));
    class_added[id] = AddedToken{.content = extra_id_token(static_cast<int64_t>(i)),
                                 .single_word = false,
                                 .lstrip = true,
                                 .rstrip = true,
                                 .normalized = false,
                                 .special = true};
  }
  init_tokens(config, specials, class_added);
}

void SentencePieceTokenizer::tokenize_text(std::string_view text, std::vector<int32_t>& ids) const {
  std::vector<std::string> pieces;
  if (const auto status = sp_->Encode(text, &pieces); !status.ok()) {
    fail(ErrorKind::kInternal, "SentencePiece failed to encode text: ", status.ToString());
  }
  const auto& added = added_encoder();
  for (const std::string& piece : pieces) {
    // convert_tokens_to_ids: added tokens first; unknown pieces give the unk id.
    if (const auto it = added.find(piece); it != added.end()) {
      ids.push_back(it->second);
    } else {
      ids.push_back(sp_->PieceToId(piece));
    }
  }
}

std::vector<int32_t> SentencePieceTokenizer::build_inputs_with_special_tokens(
    std::vector<int32_t> ids) const {
  // _add_eos_if_not_present: a sequence that already ends with </s> gets no second one.
  if (!eos_id || (!ids.empty() && ids.back() == *eos_id)) return ids;
  ids.push_back(*eos_id);
  return ids;
}

std::optional<std::string> SentencePieceTokenizer::model_id_to_token(int32_t id) const {
  if (id < 0 || id >= piece_size_) return std::nullopt;
  return sp_->IdToPiece(id);
}

std::optional<int32_t> SentencePieceTokenizer::model_token_to_id(std::string_view token) const {
  const int id = sp_->PieceToId(token);
  if (sp_->IsUnknown(id) && sp_->IdToPiece(id) != token) return std::nullopt;
  return id;
}

std::optional<int32_t> SentencePieceTokenizer::model_token_to_id_or_unk(
    std::string_view token) const {
  return sp_->PieceToId(token);
}

void SentencePieceTokenizer::visit_model_vocab(
    const std::function<void(const std::string&, int32_t)>& visit) const {
  // get_vocab() builds {convert_ids_to_tokens(i): i}, which sees added tokens first.
  const auto& added = added_tokens();
  for (int32_t i = 0; i < piece_size_; ++i) {
    const auto it = added.find(i);
    visit(it != added.end() ? it->second.content : sp_->IdToPiece(i), i);
  }
}

std::string SentencePieceTokenizer::decode_pieces(const std::vector<std::string>& pieces) const {
  std::string text;
  if (const auto status = sp_->Decode(pieces, &text); !status.ok()) {
    fail(ErrorKind::kInternal, "SentencePiece failed to decode pieces: ", status.ToString());
  }
  return text;
}

std::string SentencePieceTokenizer::tokens_to_string(std::vector<std::string> tokens) const {
  // The prefix space the model adds is not part of the text.
  if (add_prefix_space_ && !tokens.empty() && tokens[0].starts_with(kSpieceUnderline)) {
    tokens[0].erase(0, kSpieceUnderline.size());
  }
  std::vector<std::string> current;
  std::string out;
  bool prev_is_special = false;
  for (std::string& token : tokens) {
    // Special tokens are rendered as written, not through the SentencePiece model.
    if (is_special_token_text(token)) {
      if (!prev_is_special) out += ' ';
      out += decode_pieces(current);
      out += token;
      prev_is_special = true;
      current.clear();
    } else {
      current.push_back(std::move(token));
      prev_is_special = false;
    }
  }
  out += decode_pieces(current);
  return std::string(utf8::strip(out));
}

}  // namespace blip2
