// T5 / FlanT5, the encoder-decoder language model of the blip2-flan-t5-* checkpoints.
// Reference: transformers T5ForConditionalGeneration (modeling_t5.py, v4.40.2).
// Keys (under language_model.): shared.weight [V, d_model] (encoder/decoder embed_tokens are tied
//   to it and not stored), {encoder,decoder}.block.N.layer.M.{SelfAttention,EncDecAttention}.
//   {q,k,v,o}.weight, ...layer.0.SelfAttention.relative_attention_bias.weight [buckets, heads]
//   (block 0 of each stack only), DenseReluDense.{wi_0,wi_1,wo} (gated) or {wi,wo},
//   layer.M.layer_norm.weight, {encoder,decoder}.final_layer_norm.weight, lm_head.weight (untied
//   unless tie_word_embeddings).
// Config: text_config.{vocab_size, d_model, d_kv, d_ff, num_layers, num_decoder_layers, num_heads,
//   relative_attention_num_buckets, relative_attention_max_distance, layer_norm_epsilon,
//   dense_act_fn, is_gated_act, tie_word_embeddings} and decoder_start_token_id.
//
//   encoder: x = [prefix_embeds; shared[tokens]]   (no embedding scaling)
//     per block: x += o(attn(rms(x), bias_enc))                  no 1/sqrt(d) scaling, key mask
//                x += wo(act(wi_0 rms(x)) * wi_1 rms(x))         (ungated: wo(act(wi rms(x))))
//     enc = rms_final(x)
//   decoder: y = shared[decoder tokens]
//     per block: y += o(causal_attn(rms(y), bias_dec))
//                y += o(cross_attn(rms(y), K/V = k(enc), v(enc)))   no bias, encoder key mask
//                y += ffn(rms(y))
//     logits = lm_head(rms_final(y) [* d_model^-0.5 when tied])
// The relative position bias is computed once per stack from block 0's table and shared by every
// block of that stack.
//
//   auto t5 = T5Model::load(WeightLoader(Checkpoint::open(dir)).scope("language_model"),
//                           config.t5, *config.special.decoder_start_token_id);
//   auto state = t5->new_state(pool);
//   state->start(prompts, /*rows_per_item=*/3, /*max_new_tokens=*/20);  // encoder + first step
#pragma once

#include <memory>
#include <vector>

#include "generate/language_model.h"
#include "io/config.h"
#include "nn/layers.h"

namespace blip2 {

// T5Attention's projections (no biases). inner = num_heads * d_kv.
struct T5Attention {
  Linear q, k, v;  // [inner, d_model]
  Linear o;        // [d_model, inner]
};

// T5DenseGatedActDense (wi_0, wi_1, wo) or T5DenseActDense (wi, wo).
struct T5FeedForward {
  Linear wi_0;  // [d_ff, d_model]; "wi" when not gated
  Linear wi_1;  // [d_ff, d_model]; only when gated
  Linear wo;    // [d_model, d_ff]
  bool gated = false;
};

struct T5EncoderBlock {
  RmsNorm self_attention_norm;  // layer.0.layer_norm
  T5Attention self_attention;   // layer.0.SelfAttention
  RmsNorm ffn_norm;             // layer.1.layer_norm
  T5FeedForward ffn;            // layer.1.DenseReluDense
};

struct T5DecoderBlock {
  RmsNorm self_attention_norm;   // layer.0.layer_norm
  T5Attention self_attention;    // layer.0.SelfAttention
  RmsNorm cross_attention_norm;  // layer.1.layer_norm
  T5Attention cross_attention;   // layer.1.EncDecAttention
  RmsNorm ffn_norm;              // layer.2.layer_norm
  T5FeedForward ffn;             // layer.2.DenseReluDense
};

// T5Attention._relative_position_bucket for relative_position = key position - query position.
// Bidirectional (encoder): half the buckets for keys after the query. Causal (decoder): only keys
// at or before the query get distinct buckets. The logarithmic buckets are computed in float32 as
// the reference does (its torch.log runs on a float tensor), so boundaries such as a distance of
// 16 with 8 exact buckets land exactly where they do there.
int64_t t5_relative_position_bucket(int64_t relative_position, bool bidirectional,
                                    int64_t num_buckets, int64_t max_distance);

class T5Model : public LanguageModel {
 public:
  // T5 has no learned absolute positions: relative distances beyond
  // relative_attention_max_distance share the last bucket, so any length can be positioned. This
  // bound only keeps request sizes sane (the bias and score matrices grow with length^2).
  static constexpr int64_t kMaxPositions = int64_t{1} << 16;

  // `w` is scoped at "language_model". decoder_start_token_id comes from text_config (it lives
  // in Blip2Config.special, not in T5Config).
  // `policy.language_model` is the format of the block projections, `policy.lm_head` the head's.
  static std::unique_ptr<T5Model> load(const WeightLoader& w, const T5Config& config,
                                       int64_t decoder_start_token_id,
                                       const WeightPolicy& policy = {});

  int64_t vocab_size() const override { return config.vocab_size; }
  int64_t hidden_size() const override { return config.d_model; }
  int64_t max_positions() const override { return kMaxPositions; }
  std::unique_ptr<LanguageModelState> new_state(ThreadPool& pool) const override;
  // Decoder logits f32 [T, V] for `decoder_tokens` (teacher forcing; the caller includes the
  // decoder start token), over the encoding of `prompt`.
  Tensor forward_logits(ThreadPool& pool, const LmPrompt& prompt,
                        std::span<const int32_t> decoder_tokens) const override;
  // The encoder's last hidden state (after the final RMS norm) f32 [L, d_model] for
  // L = prefix_len + tokens.size().
  Tensor encode(ThreadPool& pool, const LmPrompt& prompt) const;

  int64_t inner_dim() const { return config.num_heads * config.d_kv; }

  T5Config config;
  int32_t decoder_start_token_id = 0;
  Tensor shared;                           // [V, d_model]
  Linear lm_head;                          // [V, d_model]; views `shared` when tied and f32
  float lm_head_scale = 1.0f;              // d_model^-0.5 when tied, else 1
  Tensor encoder_relative_attention_bias;  // [buckets, heads]
  Tensor decoder_relative_attention_bias;  // [buckets, heads]
  std::vector<T5EncoderBlock> encoder;
  std::vector<T5DecoderBlock> decoder;
  RmsNorm encoder_final_layer_norm, decoder_final_layer_norm;
  Activation activation = Activation::kRelu;
};

}  // namespace blip2
