#include "bench/arch_configs.h"

#include "core/error.h"

namespace blip2::bench {

namespace {

using nlohmann::json;

// config.json of Salesforce/blip2-opt-2.7b as transformers 4.40.2 saves it
// (tests/data/real-configs).
constexpr const char* kOpt27Config = R"json({
  "architectures": [
    "Blip2ForConditionalGeneration"
  ],
  "initializer_factor": 1.0,
  "initializer_range": 0.02,
  "model_type": "blip-2",
  "num_query_tokens": 32,
  "qformer_config": {
    "model_type": "blip_2_qformer"
  },
  "text_config": {
    "_name_or_path": "facebook/opt-2.7b",
    "activation_dropout": 0.0,
    "architectures": [
      "OPTForCausalLM"
    ],
    "eos_token_id": 50118,
    "ffn_dim": 10240,
    "hidden_size": 2560,
    "model_type": "opt",
    "num_attention_heads": 32,
    "num_hidden_layers": 32,
    "prefix": "</s>",
    "torch_dtype": "float16",
    "word_embed_proj_dim": 2560
  },
  "transformers_version": "4.40.2",
  "use_decoder_only_language_model": true,
  "vision_config": {
    "model_type": "blip_2_vision_model"
  }
})json";

// Salesforce/blip2-opt-6.7b: the same with OPT-6.7b's text_config (hidden 4096, FFN 16384).
constexpr const char* kOpt67Config = R"json({
  "architectures": [
    "Blip2ForConditionalGeneration"
  ],
  "initializer_factor": 1.0,
  "initializer_range": 0.02,
  "model_type": "blip-2",
  "num_query_tokens": 32,
  "qformer_config": {
    "model_type": "blip_2_qformer"
  },
  "text_config": {
    "_name_or_path": "facebook/opt-6.7b",
    "activation_dropout": 0.0,
    "architectures": [
      "OPTForCausalLM"
    ],
    "eos_token_id": 50118,
    "ffn_dim": 16384,
    "hidden_size": 4096,
    "model_type": "opt",
    "num_attention_heads": 32,
    "num_hidden_layers": 32,
    "prefix": "</s>",
    "torch_dtype": "float16",
    "word_embed_proj_dim": 4096
  },
  "transformers_version": "4.40.2",
  "use_decoder_only_language_model": true,
  "vision_config": {
    "model_type": "blip_2_vision_model"
  }
})json";

// config.json of Salesforce/blip2-flan-t5-xl as transformers 4.40.2 saves it.
constexpr const char* kFlanT5XlConfig = R"json({
  "architectures": [
    "Blip2ForConditionalGeneration"
  ],
  "initializer_factor": 1.0,
  "initializer_range": 0.02,
  "is_encoder_decoder": true,
  "model_type": "blip-2",
  "num_query_tokens": 32,
  "qformer_config": {
    "model_type": "blip_2_qformer"
  },
  "text_config": {
    "architectures": [
      "T5ForConditionalGeneration"
    ],
    "bos_token_id": 1,
    "classifier_dropout": 0.0,
    "d_ff": 5120,
    "d_kv": 64,
    "d_model": 2048,
    "decoder_start_token_id": 0,
    "dense_act_fn": "gelu",
    "dropout_rate": 0.1,
    "eos_token_id": 1,
    "feed_forward_proj": "gated-gelu",
    "initializer_factor": 1.0,
    "is_encoder_decoder": true,
    "is_gated_act": true,
    "layer_norm_epsilon": 1e-06,
    "model_type": "t5",
    "n_positions": 512,
    "num_decoder_layers": 24,
    "num_heads": 32,
    "num_layers": 24,
    "output_past": true,
    "pad_token_id": 0,
    "relative_attention_max_distance": 128,
    "relative_attention_num_buckets": 32,
    "task_specific_params": {
      "summarization": {
        "early_stopping": true,
        "length_penalty": 2.0,
        "max_length": 200,
        "min_length": 30,
        "no_repeat_ngram_size": 3,
        "num_beams": 4,
        "prefix": "summarize: "
      },
      "translation_en_to_de": {
        "early_stopping": true,
        "max_length": 300,
        "num_beams": 4,
        "prefix": "translate English to German: "
      },
      "translation_en_to_fr": {
        "early_stopping": true,
        "max_length": 300,
        "num_beams": 4,
        "prefix": "translate English to French: "
      },
      "translation_en_to_ro": {
        "early_stopping": true,
        "max_length": 300,
        "num_beams": 4,
        "prefix": "translate English to Romanian: "
      }
    },
    "tie_word_embeddings": false,
    "torch_dtype": "float32",
    "vocab_size": 32128
  },
  "tie_word_embeddings": false,
  "transformers_version": "4.40.2",
  "use_decoder_only_language_model": false,
  "vision_config": {
    "model_type": "blip_2_vision_model"
  }
})json";

// The shapes of the test fixture tests/data/opt-tiny (ViT 64x2, Q-Former 64x4, OPT 64x2, vocab
// 1504).
constexpr const char* kTinyOptConfig = R"json({
  "architectures": [
    "Blip2ForConditionalGeneration"
  ],
  "initializer_factor": 1.0,
  "initializer_range": 0.02,
  "model_type": "blip-2",
  "num_query_tokens": 32,
  "qformer_config": {
    "encoder_hidden_size": 64,
    "hidden_size": 64,
    "intermediate_size": 128,
    "model_type": "blip_2_qformer",
    "num_attention_heads": 4,
    "num_hidden_layers": 4
  },
  "text_config": {
    "architectures": [
      "OPTForCausalLM"
    ],
    "eos_token_id": 202,
    "ffn_dim": 256,
    "hidden_size": 64,
    "max_position_embeddings": 512,
    "model_type": "opt",
    "num_attention_heads": 4,
    "num_hidden_layers": 2,
    "prefix": "</s>",
    "vocab_size": 1504,
    "word_embed_proj_dim": 64
  },
  "torch_dtype": "float32",
  "transformers_version": "4.40.2",
  "use_decoder_only_language_model": true,
  "vision_config": {
    "hidden_size": 64,
    "intermediate_size": 256,
    "model_type": "blip_2_vision_model",
    "num_attention_heads": 4,
    "num_hidden_layers": 2
  }
})json";

// The shapes of the test fixture tests/data/t5-tiny (ViT 96x2 patch 16, Q-Former 64x2, T5 64x2+2).
constexpr const char* kTinyT5Config = R"json({
  "architectures": [
    "Blip2ForConditionalGeneration"
  ],
  "initializer_factor": 1.0,
  "initializer_range": 0.02,
  "is_encoder_decoder": true,
  "model_type": "blip-2",
  "num_query_tokens": 16,
  "qformer_config": {
    "encoder_hidden_size": 96,
    "hidden_size": 64,
    "intermediate_size": 256,
    "model_type": "blip_2_qformer",
    "num_attention_heads": 4,
    "num_hidden_layers": 2
  },
  "text_config": {
    "architectures": [
      "T5ForConditionalGeneration"
    ],
    "bos_token_id": 1,
    "classifier_dropout": 0.0,
    "d_ff": 128,
    "d_kv": 16,
    "d_model": 64,
    "decoder_start_token_id": 0,
    "dense_act_fn": "gelu",
    "dropout_rate": 0.1,
    "eos_token_id": 1,
    "feed_forward_proj": "gated-gelu",
    "initializer_factor": 1.0,
    "is_encoder_decoder": true,
    "is_gated_act": true,
    "layer_norm_epsilon": 1e-06,
    "model_type": "t5",
    "num_decoder_layers": 2,
    "num_heads": 4,
    "num_layers": 2,
    "pad_token_id": 0,
    "relative_attention_max_distance": 128,
    "relative_attention_num_buckets": 32,
    "tie_word_embeddings": false,
    "vocab_size": 1152
  },
  "tie_word_embeddings": false,
  "torch_dtype": "float32",
  "transformers_version": "4.40.2",
  "use_decoder_only_language_model": false,
  "vision_config": {
    "hidden_size": 96,
    "intermediate_size": 384,
    "model_type": "blip_2_vision_model",
    "num_attention_heads": 6,
    "num_hidden_layers": 2,
    "patch_size": 16
  }
})json";

json opt_generation_config(int64_t eos) {
  return json{{"_from_model_config", true},
              {"bos_token_id", 2},
              {"eos_token_id", eos},
              {"pad_token_id", 1},
              {"transformers_version", "4.40.2"}};
}

json t5_generation_config() {
  return json{{"_from_model_config", true},  {"bos_token_id", 1},
              {"decoder_start_token_id", 0}, {"eos_token_id", 1},
              {"pad_token_id", 0},           {"transformers_version", "4.40.2"}};
}

std::vector<ArchInfo> make_archs() {
  std::vector<ArchInfo> a;
  a.push_back({"opt-2.7b",
               "BLIP-2 OPT-2.7b (Salesforce/blip2-opt-2.7b): ViT-g, Q-Former, OPT 2560x32", false,
               json::parse(kOpt27Config), opt_generation_config(50118)});
  a.push_back({"opt-6.7b",
               "BLIP-2 OPT-6.7b (Salesforce/blip2-opt-6.7b): ViT-g, Q-Former, OPT 4096x32", false,
               json::parse(kOpt67Config), opt_generation_config(50118)});
  a.push_back({"flan-t5-xl",
               "BLIP-2 FlanT5-XL (Salesforce/blip2-flan-t5-xl): ViT-g, Q-Former, T5 2048x(24+24)",
               false, json::parse(kFlanT5XlConfig), t5_generation_config()});
  a.push_back({"tiny-opt", "test architecture with the shapes of tests/data/opt-tiny", true,
               json::parse(kTinyOptConfig), opt_generation_config(202)});
  a.push_back({"tiny-t5", "test architecture with the shapes of tests/data/t5-tiny", true,
               json::parse(kTinyT5Config), t5_generation_config()});
  return a;
}

}  // namespace

const std::vector<ArchInfo>& all_archs() {
  static const std::vector<ArchInfo> archs = make_archs();
  return archs;
}

const ArchInfo& find_arch(std::string_view name) {
  for (const ArchInfo& a : all_archs())
    if (a.name == name) return a;
  fail(ErrorKind::kInvalidArgument, "unknown architecture \"", name, "\"; choose one of ",
       listed_arch_names());
}

std::string listed_arch_names() {
  std::string s;
  for (const ArchInfo& a : all_archs()) {
    if (a.hidden) continue;
    if (!s.empty()) s += ", ";
    s += a.name;
  }
  return s;
}

json blip_preprocessor_config(int image_size) {
  return json{{"do_convert_rgb", true},
              {"do_normalize", true},
              {"do_rescale", true},
              {"do_resize", true},
              {"image_mean", {0.48145466, 0.4578275, 0.40821073}},
              {"image_processor_type", "BlipImageProcessor"},
              {"image_std", {0.26862954, 0.26130258, 0.27577711}},
              {"processor_class", "Blip2Processor"},
              {"resample", 3},
              {"rescale_factor", 0.00392156862745098},
              {"size", {{"height", image_size}, {"width", image_size}}}};
}

}  // namespace blip2::bench
