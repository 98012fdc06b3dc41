#include "models/qformer/qformer.h"

#include <cstring>

namespace blip2 {

QFormer QFormer::load(const WeightLoader& w, const Blip2Config& config) {
  const QFormerConfig& c = config.qformer;
  const int64_t C = c.hidden_size, F = c.intermediate_size, Q = config.num_query_tokens;
  QFormer m;
  m.config = c;
  m.query_tokens = w.get("query_tokens", {1, Q, C}).reshape({Q, C});
  const WeightLoader qf = w.scope("qformer");
  m.layernorm = LayerNorm::load(qf, "layernorm", C, c.layer_norm_eps);
  const WeightLoader layers = qf.scope("encoder.layer");
  for (int64_t i = 0; i < c.num_hidden_layers; ++i) {
    const WeightLoader lw = layers.scope(std::to_string(i));
    QFormerLayer l;
    l.attention = QFormerAttention::load(lw.scope("attention"), C, C, c.num_attention_heads,
                                         c.layer_norm_eps);
    if (c.has_cross_attention(i))
      l.crossattention =
          QFormerAttention::load(lw.scope("crossattention"), C, c.encoder_hidden_size,
                                 c.num_attention_heads, c.layer_norm_eps);
    l.intermediate_query = Linear::load(lw, "intermediate_query.dense", C, F);
    l.output_query = Linear::load(lw, "output_query.dense", F, C);
    l.output_query_layer_norm = LayerNorm::load(lw, "output_query.LayerNorm", C, c.layer_norm_eps);
    m.layers.push_back(std::move(l));
  }
  m.language_projection = Linear::load(w, "language_projection", C, config.lm_hidden_size());
  return m;
}

Tensor qformer_forward(ThreadPool& pool, const QFormer& m, const Tensor& image_embeds) {
  const QFormerConfig& c = m.config;
  const int64_t B = image_embeds.dim(0), N = image_embeds.dim(1);
  const int64_t Q = m.query_tokens.dim(0), C = c.hidden_size, F = c.intermediate_size;
  BLIP2_CHECK(image_embeds.dim(2) == c.encoder_hidden_size);
  Tensor h = Tensor::empty(DType::kF32, {B, Q, C});
  float* hd = h.mutable_data<float>();
  for (int64_t b = 0; b < B; ++b)
    m.layernorm.forward(pool, m.query_tokens.data<float>(), Q, hd + b * Q * C);

  Tensor ffn = Tensor::empty(DType::kF32, {B * Q, F});
  for (const QFormerLayer& l : m.layers) {
    l.attention.forward(pool, hd, B, Q, hd, Q);
    if (l.crossattention) l.crossattention->forward(pool, hd, B, Q, image_embeds.data<float>(), N);
    l.intermediate_query.forward_activation(pool, hd, B * Q, ffn.mutable_data<float>(),
                                            Activation::kGelu);
    l.output_query.forward_accumulate(pool, ffn.data<float>(), B * Q, hd);
    l.output_query_layer_norm.forward(pool, hd, B * Q, hd);
  }
  return h;
}

Tensor project_to_language_model(ThreadPool& pool, const QFormer& m, const Tensor& query_output) {
  return m.language_projection.forward(pool, query_output);
}

}  // namespace blip2
