#include "io/config.h"

#include <filesystem>

#include "core/error.h"
#include "core/mapped_file.h"

namespace blip2 {

namespace {

using json = nlohmann::json;

// Reads typed fields of one JSON object, naming "source: section.field" in errors.
class Fields {
 public:
  Fields(const json& j, std::string where) : j_(j), where_(std::move(where)) {}

  bool has(const char* key) const { return j_.contains(key) && !j_[key].is_null(); }

  void get(const char* key, int64_t& out) const {
    if (!has(key)) return;
    const json& v = j_[key];
    if (!v.is_number_integer()) bad(key, "an integer", v);
    out = v.get<int64_t>();
  }
  void get(const char* key, double& out) const {
    if (!has(key)) return;
    const json& v = j_[key];
    if (!v.is_number()) bad(key, "a number", v);
    out = v.get<double>();
  }
  void get(const char* key, bool& out) const {
    if (!has(key)) return;
    const json& v = j_[key];
    if (!v.is_boolean()) bad(key, "true or false", v);
    out = v.get<bool>();
  }
  void get(const char* key, std::string& out) const {
    if (!has(key)) return;
    const json& v = j_[key];
    if (!v.is_string()) bad(key, "a string", v);
    out = v.get<std::string>();
  }
  template <typename T>
  void get(const char* key, std::optional<T>& out) const {
    if (!has(key)) return;
    T v{};
    get(key, v);
    out = v;
  }
  // An id or a list of ids (eos_token_id may be either).
  void get_ids(const char* key, std::vector<int64_t>& out) const {
    if (!has(key)) return;
    const json& v = j_[key];
    out.clear();
    if (v.is_number_integer()) {
      out.push_back(v.get<int64_t>());
    } else if (v.is_array()) {
      for (const json& e : v) {
        if (!e.is_number_integer()) bad(key, "an integer or a list of integers", v);
        out.push_back(e.get<int64_t>());
      }
    } else {
      bad(key, "an integer or a list of integers", v);
    }
  }
  const std::string& where() const { return where_; }

 private:
  [[noreturn]] void bad(const char* key, const char* want, const json& v) const {
    fail(ErrorKind::kFormat, where_, key, " must be ", want, ", not ", v.dump());
  }
  const json& j_;
  std::string where_;
};

void require_positive(const std::string& where, const char* name, int64_t v) {
  if (v <= 0) fail(ErrorKind::kFormat, where, name, " must be positive, not ", v);
}

void require_divisible(const std::string& where, const char* a, int64_t av, const char* b,
                       int64_t bv) {
  if (bv <= 0 || av % bv != 0)
    fail(ErrorKind::kFormat, where, a, " (", av, ") must be divisible by ", b, " (", bv, ")");
}

void require_gelu(const std::string& where, const std::string& act) {
  if (act != "gelu")
    fail(ErrorKind::kUnsupported, where, "hidden_act \"", act,
         "\" is not supported; BLIP-2 uses the exact \"gelu\"");
}

const json& section(const json& j, const char* key, const std::string& source) {
  static const json kEmpty = json::object();
  if (!j.contains(key) || j[key].is_null()) return kEmpty;
  if (!j[key].is_object()) fail(ErrorKind::kFormat, source, ": ", key, " must be an object");
  return j[key];
}

VisionConfig parse_vision(const json& j, const std::string& source) {
  VisionConfig c;
  Fields f(j, source + ": vision_config.");
  f.get("hidden_size", c.hidden_size);
  f.get("intermediate_size", c.intermediate_size);
  f.get("num_hidden_layers", c.num_hidden_layers);
  f.get("num_attention_heads", c.num_attention_heads);
  f.get("image_size", c.image_size);
  f.get("patch_size", c.patch_size);
  f.get("hidden_act", c.hidden_act);
  f.get("layer_norm_eps", c.layer_norm_eps);
  f.get("qkv_bias", c.qkv_bias);
  const std::string& w = f.where();
  for (auto [name, v] : {std::pair{"hidden_size", c.hidden_size},
                         {"intermediate_size", c.intermediate_size},
                         {"num_hidden_layers", c.num_hidden_layers},
                         {"num_attention_heads", c.num_attention_heads},
                         {"image_size", c.image_size},
                         {"patch_size", c.patch_size}})
    require_positive(w, name, v);
  require_divisible(w, "hidden_size", c.hidden_size, "num_attention_heads", c.num_attention_heads);
  require_divisible(w, "image_size", c.image_size, "patch_size", c.patch_size);
  if (c.image_size > 4096)
    fail(ErrorKind::kFormat, w, "image_size ", c.image_size, " is implausibly large");
  require_gelu(w, c.hidden_act);
  return c;
}

QFormerConfig parse_qformer(const json& j, const std::string& source) {
  QFormerConfig c;
  Fields f(j, source + ": qformer_config.");
  f.get("vocab_size", c.vocab_size);
  f.get("hidden_size", c.hidden_size);
  f.get("num_hidden_layers", c.num_hidden_layers);
  f.get("num_attention_heads", c.num_attention_heads);
  f.get("intermediate_size", c.intermediate_size);
  f.get("hidden_act", c.hidden_act);
  f.get("layer_norm_eps", c.layer_norm_eps);
  f.get("max_position_embeddings", c.max_position_embeddings);
  f.get("cross_attention_frequency", c.cross_attention_frequency);
  f.get("encoder_hidden_size", c.encoder_hidden_size);
  const std::string& w = f.where();
  for (auto [name, v] : {std::pair{"hidden_size", c.hidden_size},
                         {"intermediate_size", c.intermediate_size},
                         {"num_hidden_layers", c.num_hidden_layers},
                         {"num_attention_heads", c.num_attention_heads},
                         {"cross_attention_frequency", c.cross_attention_frequency}})
    require_positive(w, name, v);
  require_divisible(w, "hidden_size", c.hidden_size, "num_attention_heads", c.num_attention_heads);
  require_gelu(w, c.hidden_act);
  return c;
}

OptConfig parse_opt(const json& j, const std::string& source) {
  OptConfig c;
  Fields f(j, source + ": text_config.");
  f.get("vocab_size", c.vocab_size);
  f.get("hidden_size", c.hidden_size);
  c.word_embed_proj_dim = c.hidden_size;
  f.get("num_hidden_layers", c.num_hidden_layers);
  f.get("ffn_dim", c.ffn_dim);
  f.get("num_attention_heads", c.num_attention_heads);
  f.get("max_position_embeddings", c.max_position_embeddings);
  f.get("do_layer_norm_before", c.do_layer_norm_before);
  f.get("_remove_final_layer_norm", c.remove_final_layer_norm);
  f.get("word_embed_proj_dim", c.word_embed_proj_dim);
  f.get("activation_function", c.activation_function);
  f.get("enable_bias", c.enable_bias);
  f.get("layer_norm_elementwise_affine", c.layer_norm_elementwise_affine);
  f.get("tie_word_embeddings", c.tie_word_embeddings);
  const std::string& w = f.where();
  for (auto [name, v] : {std::pair{"vocab_size", c.vocab_size},
                         {"hidden_size", c.hidden_size},
                         {"num_hidden_layers", c.num_hidden_layers},
                         {"ffn_dim", c.ffn_dim},
                         {"num_attention_heads", c.num_attention_heads},
                         {"max_position_embeddings", c.max_position_embeddings}})
    require_positive(w, name, v);
  require_divisible(w, "hidden_size", c.hidden_size, "num_attention_heads", c.num_attention_heads);
  if (c.word_embed_proj_dim != c.hidden_size)
    fail(ErrorKind::kUnsupported, w, "word_embed_proj_dim (", c.word_embed_proj_dim,
         ") != hidden_size (", c.hidden_size,
         "): OPT variants with project_in/project_out (opt-350m) ",
         "are not used by BLIP-2 and not supported");
  if (c.activation_function != "relu" && c.activation_function != "gelu")
    fail(ErrorKind::kUnsupported, w, "activation_function \"", c.activation_function,
         "\" is not supported (relu or gelu)");
  return c;
}

T5Config parse_t5(const json& j, const std::string& source) {
  T5Config c;
  Fields f(j, source + ": text_config.");
  f.get("vocab_size", c.vocab_size);
  f.get("d_model", c.d_model);
  f.get("d_kv", c.d_kv);
  f.get("d_ff", c.d_ff);
  f.get("num_layers", c.num_layers);
  c.num_decoder_layers = c.num_layers;
  f.get("num_decoder_layers", c.num_decoder_layers);
  f.get("num_heads", c.num_heads);
  f.get("relative_attention_num_buckets", c.relative_attention_num_buckets);
  f.get("relative_attention_max_distance", c.relative_attention_max_distance);
  f.get("layer_norm_epsilon", c.layer_norm_epsilon);
  f.get("feed_forward_proj", c.feed_forward_proj);
  f.get("tie_word_embeddings", c.tie_word_embeddings);
  // T5Config.__init__: act = feed_forward_proj.split("-"); dense_act_fn = act[-1];
  // is_gated_act = act[0] == "gated"; "gated-gelu" means gelu_new for backwards compatibility.
  // Explicit dense_act_fn / is_gated_act in config.json are set afterwards and win.
  const std::string& ffp = c.feed_forward_proj;
  const size_t dash = ffp.rfind('-');
  c.dense_act_fn = dash == std::string::npos ? ffp : ffp.substr(dash + 1);
  c.is_gated_act = ffp.rfind("gated-", 0) == 0;
  if (ffp.find('-') != std::string::npos && !c.is_gated_act)
    fail(ErrorKind::kFormat, f.where(), "feed_forward_proj \"", ffp,
         "\" must be \"{ACT}\" or \"gated-{ACT}\"");
  if (ffp == "gated-gelu") c.dense_act_fn = "gelu_new";
  f.get("dense_act_fn", c.dense_act_fn);
  f.get("is_gated_act", c.is_gated_act);
  const std::string& w = f.where();
  for (auto [name, v] : {std::pair{"vocab_size", c.vocab_size},
                         {"d_model", c.d_model},
                         {"d_kv", c.d_kv},
                         {"d_ff", c.d_ff},
                         {"num_layers", c.num_layers},
                         {"num_decoder_layers", c.num_decoder_layers},
                         {"num_heads", c.num_heads},
                         {"relative_attention_num_buckets", c.relative_attention_num_buckets},
                         {"relative_attention_max_distance", c.relative_attention_max_distance}})
    require_positive(w, name, v);
  const std::string& a = c.dense_act_fn;
  if (a != "gelu" && a != "gelu_new" && a != "gelu_pytorch_tanh" && a != "relu")
    fail(ErrorKind::kUnsupported, w, "dense_act_fn \"", a,
         "\" is not supported (gelu, gelu_new, relu)");
  return c;
}

}  // namespace

Blip2Config blip2_config_from_json(const json& j, const std::string& source) {
  if (!j.is_object()) fail(ErrorKind::kFormat, source, ": not a JSON object");
  Blip2Config c;
  Fields top(j, source + ": ");
  std::string model_type;
  top.get("model_type", model_type);
  if (!model_type.empty() && model_type != "blip-2")
    fail(ErrorKind::kUnsupported, source, ": model_type is \"", model_type,
         "\"; this is not a BLIP-2 (Blip2ForConditionalGeneration) checkpoint");
  top.get("num_query_tokens", c.num_query_tokens);
  top.get("image_token_index", c.image_token_index);
  top.get("torch_dtype", c.torch_dtype);
  require_positive(source + ": ", "num_query_tokens", c.num_query_tokens);
  if (c.num_query_tokens > 4096)
    fail(ErrorKind::kFormat, source, ": num_query_tokens ", c.num_query_tokens,
         " is implausibly large");

  c.vision = parse_vision(section(j, "vision_config", source), source);
  c.qformer = parse_qformer(section(j, "qformer_config", source), source);
  c.qformer.encoder_hidden_size = c.vision.hidden_size;  // as Blip2Config.__init__ does

  const json& text = section(j, "text_config", source);
  std::string text_type = "opt";
  Fields tf(text, source + ": text_config.");
  tf.get("model_type", text_type);
  if (text_type == "opt") {
    c.lm_type = LanguageModelType::kOpt;
    c.opt = parse_opt(text, source);
    c.special.bos_token_id = 2;
    c.special.eos_token_id = {2};
    c.special.pad_token_id = 1;
  } else if (text_type == "t5") {
    c.lm_type = LanguageModelType::kT5;
    c.t5 = parse_t5(text, source);
    c.special.eos_token_id = {1};
    c.special.pad_token_id = 0;
  } else {
    fail(ErrorKind::kUnsupported, source, ": text_config.model_type \"", text_type,
         "\" is not supported (opt or t5)");
  }
  tf.get("bos_token_id", c.special.bos_token_id);
  tf.get_ids("eos_token_id", c.special.eos_token_id);
  tf.get("pad_token_id", c.special.pad_token_id);
  tf.get("decoder_start_token_id", c.special.decoder_start_token_id);
  const int64_t vocab = c.lm_vocab_size();
  auto check_id = [&](const char* name, std::optional<int64_t> id) {
    if (id && (*id < 0 || *id >= vocab))
      fail(ErrorKind::kFormat, source, ": text_config.", name, " ", *id,
           " is outside the vocabulary (", vocab, ")");
  };
  check_id("bos_token_id", c.special.bos_token_id);
  check_id("pad_token_id", c.special.pad_token_id);
  check_id("decoder_start_token_id", c.special.decoder_start_token_id);
  for (int64_t e : c.special.eos_token_id) check_id("eos_token_id", e);
  if (c.image_token_index) check_id("image_token_index", c.image_token_index);
  return c;
}

Blip2Config load_blip2_config(const std::string& model_dir) {
  const std::string path = (std::filesystem::path(model_dir) / "config.json").string();
  if (!std::filesystem::exists(path))
    fail(ErrorKind::kNotFound, "no config.json in ", model_dir,
         "; point -m at a Hugging Face BLIP-2 model folder");
  json j;
  try {
    j = json::parse(read_text_file(path));
  } catch (const json::exception& e) {
    fail(ErrorKind::kFormat, path, ": not valid JSON (", e.what(), ")");
  }
  return blip2_config_from_json(j, path);
}

GenerationDefaults generation_defaults_from_json(const json& j, const std::string& source) {
  if (!j.is_object()) fail(ErrorKind::kFormat, source, ": not a JSON object");
  GenerationDefaults g;
  Fields f(j, source + ": ");
  f.get("max_new_tokens", g.max_new_tokens);
  f.get("max_length", g.max_length);
  f.get("min_new_tokens", g.min_new_tokens);
  f.get("min_length", g.min_length);
  f.get("num_beams", g.num_beams);
  f.get("num_return_sequences", g.num_return_sequences);
  f.get("top_k", g.top_k);
  f.get("no_repeat_ngram_size", g.no_repeat_ngram_size);
  f.get("length_penalty", g.length_penalty);
  f.get("temperature", g.temperature);
  f.get("top_p", g.top_p);
  f.get("repetition_penalty", g.repetition_penalty);
  f.get("do_sample", g.do_sample);
  if (f.has("early_stopping")) {
    const json& v = j["early_stopping"];
    if (v.is_boolean()) {
      g.early_stopping = v.get<bool>() ? EarlyStopping::kTrue : EarlyStopping::kHeuristic;
    } else if (v.is_string() && v.get<std::string>() == "never") {
      g.early_stopping = EarlyStopping::kNever;
    } else {
      fail(ErrorKind::kFormat, source, ": early_stopping must be true, false or \"never\", not ",
           v.dump());
    }
  }
  f.get_ids("eos_token_id", g.eos_token_id);
  f.get("bos_token_id", g.bos_token_id);
  f.get("pad_token_id", g.pad_token_id);
  f.get("decoder_start_token_id", g.decoder_start_token_id);
  return g;
}

GenerationDefaults load_generation_defaults(const std::string& model_dir) {
  const std::string path = (std::filesystem::path(model_dir) / "generation_config.json").string();
  if (!std::filesystem::exists(path)) return {};
  json j;
  try {
    j = json::parse(read_text_file(path));
  } catch (const json::exception& e) {
    fail(ErrorKind::kFormat, path, ": not valid JSON (", e.what(), ")");
  }
  return generation_defaults_from_json(j, path);
}

}  // namespace blip2
