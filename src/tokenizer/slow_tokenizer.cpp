#include "tokenizer/slow_tokenizer.h"

#include "core/error.h"
#include "tokenizer/utf8.h"

namespace blip2 {

void SlowTokenizer::init_tokens(const TokenizerConfig& config, const SpecialTokens& specials,
                                const std::map<int32_t, AddedToken>& class_added) {
  dir_ = config.dir;
  clean_up_ = config.get_bool("clean_up_tokenization_spaces", true);

  // PreTrainedTokenizer.__init__: the class's own added tokens, overridden by the config's.
  added_decoder_ = class_added;
  for (const auto& [id, token] : config.added_tokens_decoder) added_decoder_[id] = token;
  added_encoder_.clear();
  for (const auto& [id, token] : added_decoder_) added_encoder_[token.content] = id;

  // all_special_tokens_extended: the special-token values, unique by text, attribute order first.
  std::vector<SpecialTokenValue> extended;
  std::set<std::string> seen;
  const auto collect = [&](const SpecialTokenValue& v) {
    if (seen.insert(v.token.content).second) extended.push_back(v);
  };
  for (const auto& named : specials.named) {
    if (named) collect(*named);
  }
  for (const auto& v : specials.additional) collect(v);

  // _add_tokens(special_tokens=True) of those not yet registered. A string already in the added
  // vocabulary is skipped; an AddedToken object is (re-)registered under its existing id.
  std::unordered_map<std::string, int32_t> current_vocab = vocab_with_added();
  const auto new_index = static_cast<int32_t>(current_vocab.size());
  int32_t added_count = 0;
  for (const SpecialTokenValue& value : extended) {
    if (value.token.content.empty()) continue;
    if (!value.is_object && added_encoder_.contains(value.token.content)) continue;
    AddedToken token = value.token;
    if (!value.is_object) {
      token.lstrip = token.rstrip = token.single_word = false;
      token.normalized = false;
    }
    token.special = true;
    int32_t index;
    if (const auto it = current_vocab.find(token.content); it != current_vocab.end()) {
      index = it->second;
    } else {
      index = new_index + added_count++;
      current_vocab[token.content] = index;
    }
    added_decoder_[index] = token;
    added_encoder_[token.content] = index;
  }

  trie_ = AddedTokenTrie();
  for (const auto& [id, token] : added_decoder_) trie_.add(token.content);

  all_special_tokens_.clear();
  all_special_ids_.clear();
  for (const SpecialTokenValue& value : extended) {
    all_special_tokens_.insert(value.token.content);
    if (const auto id = convert_token_to_id(value.token.content)) all_special_ids_.insert(*id);
  }

  // _decode keeps these apart from the model's text: added tokens that are not special, and
  // additional special tokens outside the model vocabulary (T5's <extra_id_N>).
  legacy_added_tokens_.clear();
  for (const auto& [text, id] : added_encoder_) {
    if (!all_special_tokens_.contains(text)) legacy_added_tokens_.insert(text);
  }
  for (const SpecialTokenValue& value : specials.additional) {
    const auto id = convert_token_to_id(value.token.content);
    if (id && *id >= model_vocab_size()) legacy_added_tokens_.insert(value.token.content);
  }

  size_ = static_cast<int32_t>(vocab_with_added().size());

  const auto special_id = [&](SpecialAttr attr) -> std::optional<int32_t> {
    const auto& value = specials.named[static_cast<int>(attr)];
    if (!value) return std::nullopt;
    return convert_token_to_id(value->token.content);
  };
  bos_id = special_id(SpecialAttr::kBos);
  eos_id = special_id(SpecialAttr::kEos);
  pad_id = special_id(SpecialAttr::kPad);
  unk_id = special_id(SpecialAttr::kUnk);
}

std::unordered_map<std::string, int32_t> SlowTokenizer::vocab_with_added() const {
  std::unordered_map<std::string, int32_t> vocab;
  visit_model_vocab([&](const std::string& token, int32_t id) { vocab[token] = id; });
  for (const auto& [text, id] : added_encoder_) vocab[text] = id;
  return vocab;
}

std::optional<int32_t> SlowTokenizer::convert_token_to_id(std::string_view token) const {
  if (const auto it = added_encoder_.find(std::string(token)); it != added_encoder_.end()) {
    return it->second;
  }
  return model_token_to_id_or_unk(token);
}

std::optional<int32_t> SlowTokenizer::token_to_id(std::string_view token) const {
  if (const auto it = added_encoder_.find(std::string(token)); it != added_encoder_.end()) {
    return it->second;
  }
  return model_token_to_id(token);
}

std::string SlowTokenizer::id_to_token(int32_t id) const {
  if (id < 0) {
    fail(ErrorKind::kInvalidArgument, "token id ", id, " is negative; token ids are >= 0");
  }
  if (const auto it = added_decoder_.find(id); it != added_decoder_.end()) {
    return it->second.content;
  }
  if (auto token = model_id_to_token(id)) return *token;
  fail(ErrorKind::kInvalidArgument, "token id ", id, " is not in the tokenizer of ", dir_,
       " (it has ", size_, " tokens); use an id the tokenizer produced");
}

std::vector<SlowTokenizer::Part> SlowTokenizer::split_on_added_tokens(std::string_view text) const {
  std::vector<std::string> tokens;
  for (const std::string_view part : trie_.split(text)) tokens.emplace_back(part);
  const size_t n = tokens.size();
  for (size_t i = 0; i < n; ++i) {
    const auto enc = added_encoder_.find(tokens[i]);
    if (enc == added_encoder_.end()) continue;
    const AddedToken& added = added_decoder_.at(enc->second);
    const std::string token = tokens[i];
    // The neighbours as they are before this token's rules run (the reference reads them first).
    const std::string left = i > 0 ? tokens[i - 1] : std::string();
    const std::string right = i + 1 < n ? tokens[i + 1] : std::string();
    if (added.rstrip && !right.empty()) tokens[i + 1] = std::string(utf8::lstrip(right));
    if (added.lstrip && !left.empty()) tokens[i - 1] = std::string(utf8::rstrip(left));
    if (added.single_word && !left.empty() && left.back() != ' ') {
      tokens[i - 1] += token;
      tokens[i].clear();
    } else if (added.single_word && !right.empty() && right.front() != ' ') {
      tokens[i + 1] = token + tokens[i + 1];
      tokens[i].clear();
    }
  }
  std::vector<Part> parts;
  for (std::string& token : tokens) {
    if (token.empty()) continue;  // fully stripped
    const auto enc = added_encoder_.find(token);
    parts.push_back({std::move(token), enc == added_encoder_.end() ? -1 : enc->second});
  }
  return parts;
}

std::vector<int32_t> SlowTokenizer::encode(std::string_view text, bool add_special_tokens) const {
  if (const auto bad = utf8::find_invalid(text)) {
    fail(ErrorKind::kInvalidArgument, "text to tokenize is not valid UTF-8 (byte ", *bad, " of ",
         text.size(), "); pass UTF-8 text");
  }
  const std::string prepared = prepare_for_tokenization(text);
  std::vector<int32_t> ids;
  for (const Part& part : split_on_added_tokens(prepared)) {
    if (part.added_id >= 0) {
      ids.push_back(part.added_id);
    } else {
      tokenize_text(part.text, ids);
    }
  }
  if (!add_special_tokens) return ids;
  return build_inputs_with_special_tokens(std::move(ids));
}

std::string SlowTokenizer::decode(std::span<const int32_t> ids,
                                  const DecodeOptions& options) const {
  // convert_ids_to_tokens(ids, skip_special_tokens)
  std::vector<std::string> tokens;
  tokens.reserve(ids.size());
  for (const int32_t id : ids) {
    if (id < 0) {
      fail(ErrorKind::kInvalidArgument, "cannot decode token id ", id,
           ": ids are >= 0; pass the ids the model produced");
    }
    if (options.skip_special_tokens && all_special_ids_.contains(id)) continue;
    if (const auto it = added_decoder_.find(id); it != added_decoder_.end()) {
      tokens.push_back(it->second.content);
    } else if (auto token = model_id_to_token(id)) {
      tokens.push_back(std::move(*token));
    }
    // else: outside the tokenizer (padded model vocabulary): contributes nothing, see tokenizer.h
  }

  // _decode: runs of model tokens become text; legacy added tokens stand on their own.
  std::vector<std::string> sub_texts;
  std::vector<std::string> current;
  for (std::string& token : tokens) {
    if (legacy_added_tokens_.contains(token)) {
      if (!current.empty()) {
        std::string text = tokens_to_string(std::move(current));
        if (!text.empty()) sub_texts.push_back(std::move(text));
        current.clear();
      }
      sub_texts.push_back(std::move(token));
    } else {
      current.push_back(std::move(token));
    }
  }
  if (!current.empty()) sub_texts.push_back(tokens_to_string(std::move(current)));

  std::string text;
  for (size_t i = 0; i < sub_texts.size(); ++i) {
    if (i > 0 && options.spaces_between_special_tokens) text += ' ';
    text += sub_texts[i];
  }
  if (options.clean_up_tokenization_spaces.value_or(clean_up_)) {
    return clean_up_tokenization(text);
  }
  return text;
}

}  // namespace blip2
