#include "bench/model_cost.h"

#include <string>

#include "bench/random_model.h"
#include "nn/weight_format.h"

namespace blip2::bench {

namespace {

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() &&
         s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// Whether the tensor is a matrix the engine multiplies by (held in the reduced format), and
// whether it belongs to the language model.
bool is_matmul_weight(const TensorSpec& s) {
  if (s.shape.size() < 2 || !ends_with(s.name, ".weight")) return false;
  // Looked up by row, not multiplied: position tables, T5's relative-position bias and T5's input
  // embedding (FlanT5's LM head is a separate matrix).
  return s.name.find("embed_positions") == std::string::npos &&
         s.name.find("relative_attention_bias") == std::string::npos &&
         s.name != "language_model.shared.weight";
}

}  // namespace

double matrix_bytes(int64_t rows, int64_t cols, WeightFormat format) {
  const double n = static_cast<double>(rows) * static_cast<double>(cols);
  switch (format) {
    case WeightFormat::kF32:
      return 4 * n;
    case WeightFormat::kBF16:
      return 2 * n;
    case WeightFormat::kInt8:
      return n + 4.0 * static_cast<double>(rows);
    case WeightFormat::kQ4:
      return n / 2 + n / 32 * 2;
  }
  return 4 * n;
}

double vision_flops(const Blip2Config& config, int64_t batch) {
  const VisionConfig& c = config.vision;
  const double N = static_cast<double>(c.num_positions()), C = static_cast<double>(c.hidden_size),
               I = static_cast<double>(c.intermediate_size), P = static_cast<double>(c.patch_size);
  const double patch = 2 * (N - 1) * C * 3 * P * P;
  const double per_layer = 2 * N * 3 * C * C     // qkv
                           + 2 * 2 * N * N * C   // scores and weighted values over all heads
                           + 2 * N * C * C       // projection
                           + 2 * 2 * N * C * I;  // fc1, fc2
  return static_cast<double>(batch) *
         (patch + static_cast<double>(c.num_hidden_layers) * per_layer);
}

double qformer_flops(const Blip2Config& config, int64_t batch) {
  const QFormerConfig& c = config.qformer;
  const double Q = static_cast<double>(config.num_query_tokens),
               C = static_cast<double>(c.hidden_size), I = static_cast<double>(c.intermediate_size),
               Cv = static_cast<double>(c.encoder_hidden_size),
               Nv = static_cast<double>(config.vision.num_positions());
  double total = 0;
  for (int64_t l = 0; l < c.num_hidden_layers; ++l) {
    total += 2 * 4 * Q * C * C + 2 * 2 * Q * Q * C;  // self-attention
    if (c.has_cross_attention(l))
      total +=
          2 * 2 * Q * C * C + 2 * 2 * Nv * Cv * C + 2 * 2 * Q * Nv * C;  // q, o; k, v; attention
    total += 2 * 2 * Q * C * I;                                          // feed-forward
  }
  total += 2 * Q * C * static_cast<double>(config.lm_hidden_size());  // language_projection
  return static_cast<double>(batch) * total;
}

double prefill_flops(const Blip2Config& config, int64_t prompt_tokens) {
  const double T = static_cast<double>(config.num_query_tokens + prompt_tokens);
  if (config.lm_type == LanguageModelType::kOpt) {
    const OptConfig& c = config.opt;
    const double D = static_cast<double>(c.hidden_size), F = static_cast<double>(c.ffn_dim);
    const double per_layer = 2 * T * (4 * D * D + 2 * D * F) + 2 * 2 * D * T * (T + 1) / 2;
    return static_cast<double>(c.num_hidden_layers) * per_layer +
           2 * static_cast<double>(c.vocab_size) * D;
  }
  const T5Config& c = config.t5;
  const double D = static_cast<double>(c.d_model), F = static_cast<double>(c.d_ff),
               inner = static_cast<double>(c.num_heads * c.d_kv);
  const double ffn = (c.is_gated_act ? 3 : 2) * D * F;
  const double encoder =
      static_cast<double>(c.num_layers) * (2 * T * (4 * D * inner + ffn) + 2 * 2 * T * T * inner);
  const double cross_kv = static_cast<double>(c.num_decoder_layers) * 2 * 2 * T * D * inner;
  return encoder + cross_kv + decode_flops(config);
}

double decode_flops(const Blip2Config& config) {
  if (config.lm_type == LanguageModelType::kOpt) {
    const OptConfig& c = config.opt;
    const double D = static_cast<double>(c.hidden_size), F = static_cast<double>(c.ffn_dim);
    return static_cast<double>(c.num_hidden_layers) * 2 * (4 * D * D + 2 * D * F) +
           2 * static_cast<double>(c.vocab_size) * D;
  }
  const T5Config& c = config.t5;
  const double D = static_cast<double>(c.d_model), F = static_cast<double>(c.d_ff),
               inner = static_cast<double>(c.num_heads * c.d_kv);
  const double ffn = (c.is_gated_act ? 3 : 2) * D * F;
  // Self-attention q, k, v, o; cross-attention q, o (its K/V are computed once per request).
  return static_cast<double>(c.num_decoder_layers) * 2 * (6 * D * inner + ffn) +
         2 * static_cast<double>(c.vocab_size) * D;
}

double decode_weight_bytes(const Blip2Config& config, WeightFormat format) {
  const WeightPolicy policy = WeightPolicy::for_format(format);
  const WeightFormat f = policy.language_model, head = policy.lm_head;
  if (config.lm_type == LanguageModelType::kOpt) {
    const OptConfig& c = config.opt;
    const int64_t D = c.hidden_size, F = c.ffn_dim;
    const double small = 4.0 * static_cast<double>(4 * D + F + D  // biases
                                                   + 4 * D);      // two LayerNorms
    const double per_layer =
        4 * matrix_bytes(D, D, f) + matrix_bytes(F, D, f) + matrix_bytes(D, F, f) + small;
    // + final LayerNorm, the LM head (tied embedding) and one row each of the token and position
    // tables.
    return static_cast<double>(c.num_hidden_layers) * per_layer + 4.0 * 2 * D +
           matrix_bytes(c.vocab_size, D, head) + 4.0 * 2 * D;
  }
  const T5Config& c = config.t5;
  const int64_t D = c.d_model, F = c.d_ff, inner = c.num_heads * c.d_kv;
  const double ffn = (c.is_gated_act ? 2 : 1) * matrix_bytes(F, D, f) + matrix_bytes(D, F, f);
  const double per_layer = 3 * matrix_bytes(inner, D, f) + matrix_bytes(D, inner, f)  // self
                           + matrix_bytes(inner, D, f) + matrix_bytes(D, inner, f)    // cross q, o
                           + ffn + 4.0 * 3 * D;                                       // 3 RMS norms
  return static_cast<double>(c.num_decoder_layers) * per_layer + 4.0 * D +
         matrix_bytes(c.vocab_size, D, head) + 4.0 * D;
}

double model_weight_bytes(const Blip2Config& config, WeightFormat format) {
  // The formats WeightPolicy gives each part (nn/weight_format.h); the Q-Former, the language
  // projection and the patch embedding stay f32.
  const WeightPolicy policy = WeightPolicy::for_format(format);
  const auto starts_with = [](const std::string& s, const char* prefix) {
    return s.rfind(prefix, 0) == 0;
  };
  double total = 0;
  for (const TensorSpec& s : blip2_tensor_specs(config, config.lm_vocab_size())) {
    const double f32_bytes = 4.0 * static_cast<double>(s.numel());
    const int64_t rows = s.shape.empty() ? 1 : s.shape[0];
    if (s.name == "language_model.model.decoder.embed_tokens.weight") {
      // OPT's token table stays f32 for the lookup; a tied head in another format is a copy.
      total += f32_bytes;
      if (!config.opt.tie_word_embeddings || policy.lm_head == WeightFormat::kF32) continue;
      total += matrix_bytes(rows, s.numel() / rows, policy.lm_head);
      continue;
    }
    if (!is_matmul_weight(s)) {
      total += f32_bytes;
      continue;
    }
    WeightFormat f = WeightFormat::kF32;
    if (starts_with(s.name, "vision_model.encoder."))
      f = policy.vision;
    else if (starts_with(s.name, "language_model.lm_head."))
      f = policy.lm_head;
    else if (starts_with(s.name, "language_model."))
      f = policy.language_model;
    total += matrix_bytes(rows, s.numel() / rows, f);
  }
  return total;
}

}  // namespace blip2::bench
