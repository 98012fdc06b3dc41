// The Querying Transformer: learned query tokens read the frozen image features through
// cross-attention and become the language model's soft prompt.
// Reference: transformers Blip2QFormerModel + Blip2ForConditionalGeneration.language_projection
// (modeling_blip_2.py, v4.40.2). Keys: query_tokens, qformer.{layernorm, encoder.layer.N},
// language_projection. Config: qformer_config.*, num_query_tokens, text hidden size.
//
//   h = layernorm(query_tokens)                      (queries get no position embedding)
//   per layer (BERT, post-LN):
//     h = self_attention(h)
//     if layer % cross_attention_frequency == 0:  h = cross_attention(h, image_embeds)
//     h = LayerNorm(h + output_query.dense(gelu(intermediate_query.dense(h))))
//   language_model_inputs = language_projection(h)
#pragma once

#include <optional>
#include <vector>

#include "io/config.h"
#include "models/qformer/cross_attention.h"

namespace blip2 {

struct QFormerLayer {
  QFormerAttention attention;
  std::optional<QFormerAttention> crossattention;  // only every cross_attention_frequency-th layer
  Linear intermediate_query;                       // intermediate_query.dense [F, C]
  Linear output_query;                             // output_query.dense [C, F]
  LayerNorm output_query_layer_norm;               // output_query.LayerNorm
};

struct QFormer {
  QFormerConfig config;
  Tensor query_tokens;  // [Q, C]
  LayerNorm layernorm;
  std::vector<QFormerLayer> layers;
  Linear language_projection;  // [text hidden, C]

  // `w` is the unscoped (root) loader: the Q-Former's tensors live under three prefixes.
  static QFormer load(const WeightLoader& w, const Blip2Config& config);
};

// image_embeds f32 [B, N, Cv] -> query outputs f32 [B, Q, C] (qformer last_hidden_state).
Tensor qformer_forward(ThreadPool& pool, const QFormer& m, const Tensor& image_embeds);
// f32 [B, Q, C] -> f32 [B, Q, text hidden].
Tensor project_to_language_model(ThreadPool& pool, const QFormer& m, const Tensor& query_output);

}  // namespace blip2
