// config.json -> typed configs, with the defaults of the transformers 4.40.2 config classes for
// every absent field (save_pretrained writes only non-default values). Field names are those of
// config.json. generation_config.json -> GenerationDefaults (only the fields it sets).
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <variant>
#include <vector>

namespace blip2 {

// Blip2VisionConfig (EVA ViT-g by default).
struct VisionConfig {
  int64_t hidden_size = 1408;
  int64_t intermediate_size = 6144;
  int64_t num_hidden_layers = 39;
  int64_t num_attention_heads = 16;
  int64_t image_size = 224;
  int64_t patch_size = 14;
  std::string hidden_act = "gelu";
  double layer_norm_eps = 1e-6;
  bool qkv_bias = true;

  int64_t num_patches() const { return (image_size / patch_size) * (image_size / patch_size); }
  int64_t num_positions() const { return num_patches() + 1; }  // + [CLS]
  int64_t head_dim() const { return hidden_size / num_attention_heads; }
};

// Blip2QFormerConfig (BERT-base shaped).
struct QFormerConfig {
  int64_t vocab_size = 30522;
  int64_t hidden_size = 768;
  int64_t num_hidden_layers = 12;
  int64_t num_attention_heads = 12;
  int64_t intermediate_size = 3072;
  std::string hidden_act = "gelu";
  double layer_norm_eps = 1e-12;
  int64_t max_position_embeddings = 512;
  int64_t cross_attention_frequency = 2;
  int64_t encoder_hidden_size = 1408;  // always set to vision_config.hidden_size by Blip2Config

  int64_t head_dim() const { return hidden_size / num_attention_heads; }
  bool has_cross_attention(int64_t layer) const { return layer % cross_attention_frequency == 0; }
};

// OPTConfig.
struct OptConfig {
  int64_t vocab_size = 50272;
  int64_t hidden_size = 768;
  int64_t num_hidden_layers = 12;
  int64_t ffn_dim = 3072;
  int64_t num_attention_heads = 12;
  int64_t max_position_embeddings = 2048;
  bool do_layer_norm_before = true;
  bool remove_final_layer_norm = false;  // "_remove_final_layer_norm"
  int64_t word_embed_proj_dim = 768;     // defaults to hidden_size
  std::string activation_function = "relu";
  bool enable_bias = true;
  bool layer_norm_elementwise_affine = true;
  bool tie_word_embeddings = true;
  int64_t head_dim() const { return hidden_size / num_attention_heads; }
};

// T5Config.
struct T5Config {
  int64_t vocab_size = 32128;
  int64_t d_model = 512;
  int64_t d_kv = 64;
  int64_t d_ff = 2048;
  int64_t num_layers = 6;
  int64_t num_decoder_layers = 6;  // defaults to num_layers
  int64_t num_heads = 8;
  int64_t relative_attention_num_buckets = 32;
  int64_t relative_attention_max_distance = 128;
  double layer_norm_epsilon = 1e-6;
  std::string feed_forward_proj = "relu";
  std::string dense_act_fn = "relu";  // derived from feed_forward_proj unless given explicitly
  bool is_gated_act = false;          // likewise
  bool tie_word_embeddings = true;
};

// Special ids of the language model (text_config), used by generation.
struct SpecialTokens {
  std::optional<int64_t> bos_token_id;
  std::vector<int64_t> eos_token_id;  // a config may list several
  std::optional<int64_t> pad_token_id;
  std::optional<int64_t> decoder_start_token_id;
};

enum class LanguageModelType { kOpt, kT5 };

struct Blip2Config {
  VisionConfig vision;
  QFormerConfig qformer;
  LanguageModelType lm_type = LanguageModelType::kOpt;
  OptConfig opt;  // valid when lm_type == kOpt
  T5Config t5;    // valid when lm_type == kT5
  SpecialTokens special;
  int64_t num_query_tokens = 32;
  std::optional<int64_t> image_token_index;  // newer hub revisions
  std::string torch_dtype;                   // informational ("float32", "float16", ...)

  int64_t lm_hidden_size() const {
    return lm_type == LanguageModelType::kOpt ? opt.hidden_size : t5.d_model;
  }
  int64_t lm_vocab_size() const {
    return lm_type == LanguageModelType::kOpt ? opt.vocab_size : t5.vocab_size;
  }
  std::string_view lm_type_name() const {
    return lm_type == LanguageModelType::kOpt ? "opt" : "t5";
  }
};

// Parses a Blip2Config dict. `source` names the file in error messages. Validates the values
// (positive sizes, hidden sizes divisible by heads, image size divisible by patch size, supported
// activations and model types) and throws Error(kFormat / kUnsupported) naming the field.
Blip2Config blip2_config_from_json(const nlohmann::json& j, const std::string& source);
Blip2Config load_blip2_config(const std::string& model_dir);

// transformers' early_stopping: false (a heuristic: stop when the best running beam cannot beat
// the worst finished one at the current length), true (stop once num_beams hypotheses are
// finished), "never" (the exact bound, using the maximum length).
enum class EarlyStopping { kHeuristic, kTrue, kNever };

// The generation settings a checkpoint's generation_config.json sets (absent fields stay empty).
struct GenerationDefaults {
  std::optional<int64_t> max_new_tokens, max_length, min_new_tokens, min_length, num_beams,
      num_return_sequences, top_k, no_repeat_ngram_size;
  std::optional<double> length_penalty, temperature, top_p, repetition_penalty;
  std::optional<bool> do_sample;
  std::optional<EarlyStopping> early_stopping;
  std::vector<int64_t> eos_token_id;
  std::optional<int64_t> bos_token_id, pad_token_id, decoder_start_token_id;
};
GenerationDefaults generation_defaults_from_json(const nlohmann::json& j,
                                                 const std::string& source);
// Reads MODEL_DIR/generation_config.json if present; empty defaults otherwise.
GenerationDefaults load_generation_defaults(const std::string& model_dir);

}  // namespace blip2
