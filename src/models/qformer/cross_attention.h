// The Q-Former's attention block (BERT: BertAttention + BertSelfOutput), used twice per layer:
// as self-attention among the learned queries, and - in every cross_attention_frequency-th layer -
// as cross-attention from the queries to the image features (keys/values projected from the
// vision encoder's width, qformer_config.encoder_hidden_size).
// Reference: transformers Blip2QFormerMultiHeadAttention / Blip2QFormerAttention (v4.40.2).
// Keys: qformer.encoder.layer.N.{attention,crossattention}.{attention.{query,key,value},
//       output.{dense,LayerNorm}}.
//
//   out = LayerNorm(h + dense(softmax(q k^T / sqrt(d)) v)),  q = query(h), k/v = key/value(context)
#pragma once

#include "nn/layers.h"

namespace blip2 {

struct QFormerAttention {
  Linear query, key, value;  // query [C, C]; key/value [C, context width]
  Linear dense;              // output.dense [C, C]
  LayerNorm layer_norm;      // output.LayerNorm
  int64_t num_heads = 0;

  // `w` is scoped at "...attention" or "...crossattention".
  static QFormerAttention load(const WeightLoader& w, int64_t hidden, int64_t context_width,
                               int64_t num_heads, double eps);

  // h f32 [B, Q, C] is updated in place. context f32 [B, T, context width] (h itself for
  // self-attention). Every key is visible (the image attention mask is all ones).
  void forward(ThreadPool& pool, float* h, int64_t B, int64_t Q, const float* context,
               int64_t T) const;
};

}  // namespace blip2
