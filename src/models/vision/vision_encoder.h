// BLIP-2's image encoder: EVA ViT-g/14 as in the Hugging Face checkpoints.
// Reference: transformers Blip2VisionModel (modeling_blip_2.py, v4.40.2).
// Keys: vision_model.{embeddings, encoder.layers.N, post_layernorm}.
// Config: vision_config.{hidden_size, intermediate_size, num_hidden_layers, num_attention_heads,
//         image_size, patch_size, layer_norm_eps, qkv_bias, hidden_act}.
//
//   x = [class_embedding; patch_embedding(pixels)] + position_embedding
//   per layer (pre-LN):  x += projection(attn(layer_norm1(x)));  x += fc2(gelu(fc1(layer_norm2(x))))
//   last_hidden_state = post_layernorm(x);  pooler_output = post_layernorm(last_hidden_state[:, 0])
#pragma once

#include <vector>

#include "io/config.h"
#include "nn/layers.h"

namespace blip2 {

struct VisionLayer {
  LayerNorm layer_norm1, layer_norm2;
  Linear qkv;         // [3C, C]; bias = (q_bias, 0, v_bias)
  Linear projection;  // [C, C]
  Linear fc1, fc2;    // [F, C], [C, F]
};

struct VisionEncoder {
  VisionConfig config;
  Tensor class_embedding;     // [C]
  Tensor position_embedding;  // [N, C], N = patches + 1
  Linear patch_embedding;     // conv weight [C, 3, P, P] viewed as [C, 3*P*P], with bias
  std::vector<VisionLayer> layers;
  LayerNorm post_layernorm;

  // `w` is scoped at "vision_model". `format` is that of the encoder layers' four projections
  // (the patch embedding stays f32).
  static VisionEncoder load(const WeightLoader& w, const VisionConfig& config,
                            WeightFormat format = WeightFormat::kF32);
};

struct VisionOutput {
  Tensor last_hidden_state;  // f32 [B, N, C]
  Tensor pooler_output;      // f32 [B, C]
};

// pixel_values f32 [B, 3, S, S] -> embeddings f32 [B, N, C] (patches + [CLS] + positions).
Tensor vision_embeddings(ThreadPool& pool, const VisionEncoder& m, const Tensor& pixel_values);
VisionOutput vision_forward(ThreadPool& pool, const VisionEncoder& m, const Tensor& pixel_values);

}  // namespace blip2
