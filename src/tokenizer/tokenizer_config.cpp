#include "tokenizer/tokenizer_config.h"

#include <charconv>
#include <filesystem>

#include "core/error.h"
#include "core/mapped_file.h"

namespace blip2 {
namespace {

using nlohmann::json;

// transformers' SPECIAL_TOKENS_ATTRIBUTES order, which is also the order special tokens get ids in.
constexpr const char* kAttrKeys[kNumSpecialAttrs] = {
    "bos_token", "eos_token", "unk_token", "sep_token", "pad_token", "cls_token", "mask_token"};

std::string join_path(const std::string& dir, const std::string& name) {
  return (std::filesystem::path(dir) / name).string();
}

// str(value) of a special-token value: the string itself or an AddedToken's content.
std::string token_text(const json& value) {
  if (value.is_string()) return value.get<std::string>();
  if (value.is_object() && value.contains("content") && value["content"].is_string()) {
    return value["content"].get<std::string>();
  }
  return {};
}

SpecialTokenValue parse_special_value(const json& value, const std::string& where) {
  SpecialTokenValue out;
  out.token = parse_added_token(value, where);
  out.is_object = value.is_object();
  return out;
}

}  // namespace

const char* special_attr_key(SpecialAttr attr) {
  switch (attr) {
    case SpecialAttr::kBos:
      return "bos_token";
    case SpecialAttr::kEos:
      return "eos_token";
    case SpecialAttr::kUnk:
      return "unk_token";
    case SpecialAttr::kSep:
      return "sep_token";
    case SpecialAttr::kPad:
      return "pad_token";
    case SpecialAttr::kCls:
      return "cls_token";
    case SpecialAttr::kMask:
      return "mask_token";
  }
  return "";
}

json read_json_file(const std::string& path) {
  const std::string text = read_text_file(path);
  try {
    return json::parse(text);
  } catch (const json::exception& e) {
    fail(ErrorKind::kFormat, path, " is not valid JSON (", e.what(),
         "); restore the file from the model's original files");
  }
}

AddedToken parse_added_token(const json& value, const std::string& where) {
  AddedToken token;
  if (value.is_string()) {
    token.content = value.get<std::string>();
    return token;
  }
  if (!value.is_object() || !value.contains("content") || !value["content"].is_string()) {
    fail(ErrorKind::kFormat, where, ": expected a token string or an object with a string ",
         "\"content\", got ", value.dump(), "; fix the tokenizer files");
  }
  token.content = value["content"].get<std::string>();
  const auto flag = [&](const char* key, bool& out) {
    if (!value.contains(key) || value[key].is_null()) return;
    if (!value[key].is_boolean()) {
      fail(ErrorKind::kFormat, where, ": \"", key, "\" must be true or false, got ",
           value[key].dump(), "; fix the tokenizer files");
    }
    out = value[key].get<bool>();
  };
  // tokenizers.AddedToken: normalized defaults to the opposite of special.
  flag("special", token.special);
  token.normalized = !token.special;
  flag("single_word", token.single_word);
  flag("lstrip", token.lstrip);
  flag("rstrip", token.rstrip);
  flag("normalized", token.normalized);
  return token;
}

std::optional<std::optional<SpecialTokenValue>> TokenizerConfig::special(SpecialAttr attr) const {
  const char* key = special_attr_key(attr);
  if (!init_kwargs.contains(key)) return std::nullopt;
  const json& value = init_kwargs[key];
  if (value.is_null()) return std::optional<SpecialTokenValue>();
  return std::optional<SpecialTokenValue>(
      parse_special_value(value, str_cat(dir, "/tokenizer_config.json: \"", key, "\"")));
}

std::optional<std::vector<SpecialTokenValue>> TokenizerConfig::additional_special_tokens() const {
  if (!init_kwargs.contains("additional_special_tokens")) return std::nullopt;
  const json& value = init_kwargs["additional_special_tokens"];
  if (value.is_null()) return std::nullopt;
  const std::string where = str_cat(dir, "/tokenizer_config.json: \"additional_special_tokens\"");
  if (!value.is_array()) {
    fail(ErrorKind::kFormat, where, " must be a list of tokens, got ", value.dump(),
         "; fix the tokenizer files");
  }
  std::vector<SpecialTokenValue> out;
  for (size_t i = 0; i < value.size(); ++i) {
    out.push_back(parse_special_value(value[i], str_cat(where, "[", i, "]")));
  }
  return out;
}

bool TokenizerConfig::get_bool(const std::string& key, bool fallback) const {
  if (!init_kwargs.contains(key) || init_kwargs[key].is_null()) return fallback;
  if (!init_kwargs[key].is_boolean()) {
    fail(ErrorKind::kFormat, dir, "/tokenizer_config.json: \"", key,
         "\" must be true or false, got ", init_kwargs[key].dump(), "; fix the file");
  }
  return init_kwargs[key].get<bool>();
}

int64_t TokenizerConfig::get_int(const std::string& key, int64_t fallback) const {
  if (!init_kwargs.contains(key) || init_kwargs[key].is_null()) return fallback;
  if (!init_kwargs[key].is_number_integer()) {
    fail(ErrorKind::kFormat, dir, "/tokenizer_config.json: \"", key, "\" must be an integer, got ",
         init_kwargs[key].dump(), "; fix the file");
  }
  return init_kwargs[key].get<int64_t>();
}

std::string TokenizerConfig::get_string(const std::string& key, const std::string& fallback) const {
  if (!init_kwargs.contains(key) || init_kwargs[key].is_null()) return fallback;
  if (!init_kwargs[key].is_string()) {
    fail(ErrorKind::kFormat, dir, "/tokenizer_config.json: \"", key, "\" must be a string, got ",
         init_kwargs[key].dump(), "; fix the file");
  }
  return init_kwargs[key].get<std::string>();
}

TokenizerConfig read_tokenizer_config(const std::string& dir, const std::string& tokenizer_json) {
  TokenizerConfig config;
  config.dir = dir;
  config.init_kwargs = json::object();
  const std::string config_path = join_path(dir, "tokenizer_config.json");
  if (file_exists(config_path)) {
    config.has_config_file = true;
    config.init_kwargs = read_json_file(config_path);
    if (!config.init_kwargs.is_object()) {
      fail(ErrorKind::kFormat, config_path, " must hold a JSON object; fix the file");
    }
  }
  json& init = config.init_kwargs;
  if (init.contains("tokenizer_class") && init["tokenizer_class"].is_string()) {
    config.tokenizer_class = init["tokenizer_class"].get<std::string>();
  }

  std::map<std::string, AddedToken> added_tokens_map;  // text -> token, for the special tokens
  if (init.contains("added_tokens_decoder")) {
    const json& decoder = init["added_tokens_decoder"];
    if (!decoder.is_object()) {
      fail(ErrorKind::kFormat, config_path,
           ": \"added_tokens_decoder\" must map ids to tokens; fix the file");
    }
    for (const auto& [key, value] : decoder.items()) {
      const std::string where = str_cat(config_path, ": added_tokens_decoder[\"", key, "\"]");
      int32_t id = -1;
      const auto [end, ec] = std::from_chars(key.data(), key.data() + key.size(), id);
      if (ec != std::errc() || end != key.data() + key.size() || id < 0) {
        fail(ErrorKind::kFormat, where, ": the key must be a non-negative token id; fix the file");
      }
      if (!value.is_object()) {
        fail(ErrorKind::kFormat, where, ": expected an AddedToken object; fix the file");
      }
      AddedToken token = parse_added_token(value, where);
      added_tokens_map[token.content] = token;
      config.added_tokens_decoder[id] = std::move(token);
    }
  } else {
    // Legacy folders: special_tokens_map.json overrides the config's special tokens.
    const std::string map_path = join_path(dir, "special_tokens_map.json");
    if (file_exists(map_path)) {
      json special_map = read_json_file(map_path);
      if (!special_map.is_object()) {
        fail(ErrorKind::kFormat, map_path, " must hold a JSON object; fix the file");
      }
      for (auto& [key, value] : special_map.items()) {
        if (value.is_object()) {
          value["special"] = true;
          init[key] = value;
        } else if (key == "additional_special_tokens" && value.is_array()) {
          json merged = init.contains(key) && init[key].is_array() ? init[key] : json::array();
          for (json token : value) {
            if (token.is_object()) token["special"] = true;
            // Python's `token not in list`: strings equal strings, AddedTokens equal AddedTokens
            // of the same text.
            bool present = false;
            for (const json& have : merged) {
              present = present || (have.is_string() == token.is_string() &&
                                    token_text(have) == token_text(token));
            }
            if (!present) merged.push_back(token);
          }
          init[key] = merged;
        } else {
          init[key] = value;
        }
      }
    }
    const std::string added_path = join_path(dir, "added_tokens.json");
    if (file_exists(added_path)) {
      std::vector<std::string> special_texts;
      for (const char* key : kAttrKeys) {
        if (init.contains(key) && !init[key].is_null())
          special_texts.push_back(token_text(init[key]));
      }
      if (init.contains("additional_special_tokens") &&
          init["additional_special_tokens"].is_array()) {
        for (const json& t : init["additional_special_tokens"])
          special_texts.push_back(token_text(t));
      }
      const json added = read_json_file(added_path);
      if (!added.is_object()) {
        fail(ErrorKind::kFormat, added_path, " must map token texts to ids; fix the file");
      }
      for (const auto& [text, index] : added.items()) {
        if (!index.is_number_integer() || index.get<int64_t>() < 0 ||
            index.get<int64_t>() > INT32_MAX) {
          fail(ErrorKind::kFormat, added_path, ": the id of \"", text,
               "\" must be a non-negative integer, got ", index.dump(), "; fix the file");
        }
        AddedToken token;
        token.content = text;
        token.special = false;
        for (const std::string& s : special_texts) token.special = token.special || s == text;
        token.normalized = !token.special;
        // transformers does not put these in its text -> token map (it files them under a stale
        // loop variable), so they never lend their flags to the special tokens.
        config.added_tokens_decoder[static_cast<int32_t>(index.get<int64_t>())] = token;
      }
    }
    if (!tokenizer_json.empty()) {
      const json file = read_json_file(tokenizer_json);
      if (file.is_object() && file.contains("added_tokens")) {
        const json& list = file["added_tokens"];
        if (!list.is_array()) {
          fail(ErrorKind::kFormat, tokenizer_json,
               ": \"added_tokens\" must be a list; fix the file");
        }
        for (size_t i = 0; i < list.size(); ++i) {
          const std::string where = str_cat(tokenizer_json, ": added_tokens[", i, "]");
          const json& entry = list[i];
          if (!entry.is_object() || !entry.contains("id") || !entry["id"].is_number_integer() ||
              entry["id"].get<int64_t>() < 0 || entry["id"].get<int64_t>() > INT32_MAX) {
            fail(ErrorKind::kFormat, where, ": expected an object with a non-negative \"id\"; ",
                 "fix the file");
          }
          AddedToken token = parse_added_token(entry, where);
          added_tokens_map[token.content] = token;
          config.added_tokens_decoder[static_cast<int32_t>(entry["id"].get<int64_t>())] = token;
        }
      }
    }
  }

  // A named special token whose text is an added token becomes that AddedToken object.
  if (!added_tokens_map.empty()) {
    for (const char* key : kAttrKeys) {
      if (!init.contains(key) || init[key].is_null()) continue;
      const auto it = added_tokens_map.find(token_text(init[key]));
      if (it == added_tokens_map.end()) continue;
      const AddedToken& t = it->second;
      init[key] =
          json{{"content", t.content},  {"single_word", t.single_word}, {"lstrip", t.lstrip},
               {"rstrip", t.rstrip},    {"normalized", t.normalized},   {"special", t.special},
               {"__type", "AddedToken"}};
    }
  }
  return config;
}

}  // namespace blip2
