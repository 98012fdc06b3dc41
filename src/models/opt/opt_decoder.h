// OPT, the decoder-only language model of the blip2-opt-* checkpoints.
// Reference: transformers OPTForCausalLM (modeling_opt.py, v4.40.2).
// Keys: language_model.model.decoder.{embed_tokens, embed_positions, layers.N, final_layer_norm},
//       language_model.lm_head (tied to embed_tokens when absent / tie_word_embeddings).
// Config: text_config.{hidden_size, ffn_dim, num_hidden_layers, num_attention_heads, vocab_size,
//         max_position_embeddings, do_layer_norm_before, activation_function, enable_bias, ...}.
//
//   x = inputs_embeds + embed_positions[position + 2]   (positions count unmasked tokens from 0)
//   per layer (pre-LN when do_layer_norm_before):
//     x += out_proj(causal_attn(self_attn_layer_norm(x)))      q scaled by 1/sqrt(head_dim)
//     x += fc2(relu(fc1(final_layer_norm(x))))
//   logits = final_layer_norm(x) @ lm_head^T
#pragma once

#include <optional>
#include <vector>

#include "generate/language_model.h"
#include "io/config.h"
#include "nn/layers.h"

namespace blip2 {

struct OptLayer {
  LayerNorm self_attn_layer_norm, final_layer_norm;
  Linear q_proj, k_proj, v_proj, out_proj;
  Linear fc1, fc2;
};

class OptModel : public LanguageModel {
 public:
  // OPT's learned positions are stored with an offset of 2 (a fairseq legacy).
  static constexpr int64_t kPositionOffset = 2;

  // `w` is scoped at "language_model". `policy.language_model` is the format of the decoder
  // layers' projections, `policy.lm_head` the head's.
  static std::unique_ptr<OptModel> load(const WeightLoader& w, const OptConfig& config,
                                        const WeightPolicy& policy = {});

  int64_t vocab_size() const override { return config.vocab_size; }
  int64_t hidden_size() const override { return config.hidden_size; }
  int64_t max_positions() const override { return config.max_position_embeddings; }
  std::unique_ptr<LanguageModelState> new_state(ThreadPool& pool) const override;
  Tensor forward_logits(ThreadPool& pool, const LmPrompt& prompt,
                        std::span<const int32_t> decoder_tokens) const override;

  OptConfig config;
  Tensor embed_tokens;     // [V, D]
  Tensor embed_positions;  // [max_position_embeddings + 2, D]
  std::vector<OptLayer> layers;
  std::optional<LayerNorm> final_layer_norm;  // absent for post-LN variants
  Linear lm_head;  // [V, D]; a view of embed_tokens when tied and f32, else its own copy
  Activation activation = Activation::kRelu;
};

}  // namespace blip2
