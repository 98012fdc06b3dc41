// Reads a model folder's tokenizer settings the way transformers 4.40.2's
// PreTrainedTokenizerBase._from_pretrained does:
// - tokenizer_config.json gives the init kwargs (tokenizer_class, special tokens, flags).
// - If it has "added_tokens_decoder", that is the whole truth about added tokens and
//   special_tokens_map.json / added_tokens.json are not read.
// - Otherwise (older folders) special_tokens_map.json overrides the config's special tokens,
//   added_tokens.json adds tokens (no whitespace stripping; special when named as a special token)
//   and tokenizer.json's "added_tokens" are added too.
// - Each named special token whose text is an added token then takes that added token's flags.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace blip2 {

// transformers' AddedToken (tokenizers.AddedToken): text matched before the model tokenizer runs.
// `normalized` only matters for lower-casing tokenizers, which BLIP-2 does not use; it is kept for
// completeness.
struct AddedToken {
  std::string content;
  bool single_word = false;
  bool lstrip = false;  // eats the whitespace on its left
  bool rstrip = false;  // eats the whitespace on its right
  bool normalized = true;
  bool special = false;
};

// A special-token attribute value (bos_token, ..., one entry of additional_special_tokens).
// transformers treats plain strings and AddedToken objects differently when registering special
// tokens: an object replaces the added token of the same text (its flags win), a string that is
// already an added token is left alone.
struct SpecialTokenValue {
  AddedToken token;
  bool is_object = false;
};

// The special-token attributes in transformers' SPECIAL_TOKENS_ATTRIBUTES order.
enum class SpecialAttr { kBos, kEos, kUnk, kSep, kPad, kCls, kMask };
inline constexpr int kNumSpecialAttrs = 7;
const char* special_attr_key(SpecialAttr attr);  // "bos_token", ...

struct TokenizerConfig {
  std::string dir;
  bool has_config_file = false;  // tokenizer_config.json exists
  nlohmann::json init_kwargs;    // tokenizer_config.json (an object; {} when absent)
  std::string tokenizer_class;   // "" when absent
  std::map<int32_t, AddedToken> added_tokens_decoder;

  // A special-token attribute: nullopt when the key is absent (the class default applies),
  // an empty inner optional when it is present but null.
  std::optional<std::optional<SpecialTokenValue>> special(SpecialAttr attr) const;
  // additional_special_tokens; nullopt when absent or null.
  std::optional<std::vector<SpecialTokenValue>> additional_special_tokens() const;

  bool get_bool(const std::string& key, bool fallback) const;
  int64_t get_int(const std::string& key, int64_t fallback) const;
  std::string get_string(const std::string& key, const std::string& fallback) const;
};

// Parses the files of `dir`. `tokenizer_json` is the path of a tokenizer.json whose added_tokens
// take part in the legacy rules ("" for none). Throws Error(kFormat) naming the file and key.
TokenizerConfig read_tokenizer_config(const std::string& dir, const std::string& tokenizer_json);

// Parses a JSON file; Error(kNotFound) if it cannot be read, Error(kFormat) naming it if it is not
// JSON.
nlohmann::json read_json_file(const std::string& path);

// An AddedToken from a config value: a string, or an object with "content" and optional flags.
// `where` names the file and key for errors.
AddedToken parse_added_token(const nlohmann::json& value, const std::string& where);

}  // namespace blip2
