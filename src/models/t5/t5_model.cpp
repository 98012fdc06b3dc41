#include "models/t5/t5_model.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>

#include "backend/cpu/kernels.h"
#include "nn/kv_cache.h"

namespace blip2 {

int64_t t5_relative_position_bucket(int64_t relative_position, bool bidirectional,
                                    int64_t num_buckets, int64_t max_distance) {
  int64_t bucket = 0;
  int64_t distance = 0;
  if (bidirectional) {
    num_buckets /= 2;
    if (relative_position > 0) bucket += num_buckets;
    distance = relative_position < 0 ? -relative_position : relative_position;
  } else {
    distance = relative_position < 0 ? -relative_position : 0;
  }
  const int64_t max_exact = num_buckets / 2;
  if (distance < max_exact) return bucket + distance;
  // The reference: max_exact + (log(float(d) / max_exact) / math.log(max_distance / max_exact)
  // * (num_buckets - max_exact)).to(long). Each operand is float32 there (a float tensor with
  // Python scalars), and the cast truncates; doing it in double would move exact boundaries
  // such as log(2) / log(16) * 8 = 2 by a rounding error.
  const float log_ratio = std::log(static_cast<float>(distance) / static_cast<float>(max_exact));
  const float log_range = static_cast<float>(
      std::log(static_cast<double>(max_distance) / static_cast<double>(max_exact)));
  const float scaled = log_ratio / log_range * static_cast<float>(num_buckets - max_exact);
  const int64_t large = std::min(max_exact + static_cast<int64_t>(scaled), num_buckets - 1);
  return bucket + large;
}

namespace {

T5Attention load_attention(const WeightLoader& w, std::string_view name, int64_t d_model,
                           int64_t inner, WeightFormat fmt) {
  const WeightLoader a = w.scope(name);
  T5Attention t;
  t.q = Linear::load(a, "q", d_model, inner, /*has_bias=*/false, fmt);
  t.k = Linear::load(a, "k", d_model, inner, false, fmt);
  t.v = Linear::load(a, "v", d_model, inner, false, fmt);
  t.o = Linear::load(a, "o", inner, d_model, false, fmt);
  return t;
}

T5FeedForward load_feed_forward(const WeightLoader& w, const T5Config& c, WeightFormat fmt) {
  const WeightLoader f = w.scope("DenseReluDense");
  T5FeedForward t;
  t.gated = c.is_gated_act;
  if (t.gated) {
    t.wi_0 = Linear::load(f, "wi_0", c.d_model, c.d_ff, false, fmt);
    t.wi_1 = Linear::load(f, "wi_1", c.d_model, c.d_ff, false, fmt);
  } else {
    t.wi_0 = Linear::load(f, "wi", c.d_model, c.d_ff, false, fmt);
  }
  t.wo = Linear::load(f, "wo", c.d_ff, c.d_model, false, fmt);
  return t;
}

// Grows `t` to hold at least n floats (never shrinks, so a reused state stops allocating).
void reserve_floats(Tensor& t, int64_t n) {
  if (!t.defined() || t.numel() < n) t = Tensor::empty(DType::kF32, {std::max<int64_t>(n, 1)});
}

}  // namespace

std::unique_ptr<T5Model> T5Model::load(const WeightLoader& w, const T5Config& c,
                                       int64_t decoder_start_token_id, const WeightPolicy& policy) {
  if (decoder_start_token_id < 0 || decoder_start_token_id >= c.vocab_size)
    fail(ErrorKind::kFormat, "text_config.decoder_start_token_id ", decoder_start_token_id,
         " is outside the vocabulary (", c.vocab_size, "); fix config.json");
  // With fewer than 4 buckets the bidirectional encoder has no exact bucket and the reference's
  // formula divides by zero; no T5 checkpoint is configured so.
  if (c.relative_attention_num_buckets < 4)
    fail(ErrorKind::kUnsupported, "text_config.relative_attention_num_buckets ",
         c.relative_attention_num_buckets, " is below 4, which T5's bucketing cannot use");
  auto m = std::make_unique<T5Model>();
  m->config = c;
  m->decoder_start_token_id = static_cast<int32_t>(decoder_start_token_id);
  const int64_t D = c.d_model, V = c.vocab_size, H = c.num_heads, inner = c.num_heads * c.d_kv;
  const double eps = c.layer_norm_epsilon;
  m->shared = w.get("shared.weight", {V, D});
  const WeightFormat fmt = policy.language_model;
  // T5ForConditionalGeneration ties lm_head to `shared` and rescales the decoder output by
  // d_model^-0.5 when tie_word_embeddings; FlanT5 is untied (no rescaling).
  if (c.tie_word_embeddings)
    m->lm_head_scale = static_cast<float>(std::pow(static_cast<double>(D), -0.5));
  m->lm_head =
      Linear::load_head(w, "lm_head", m->shared, c.tie_word_embeddings, D, V, policy.lm_head);
  m->activation = activation_from_name(c.dense_act_fn);

  const WeightLoader enc = w.scope("encoder");
  for (int64_t i = 0; i < c.num_layers; ++i) {
    const WeightLoader b = enc.scope("block", i);
    T5EncoderBlock blk;
    blk.self_attention_norm = RmsNorm::load(b, "layer.0.layer_norm", D, eps);
    blk.self_attention = load_attention(b, "layer.0.SelfAttention", D, inner, fmt);
    blk.ffn_norm = RmsNorm::load(b, "layer.1.layer_norm", D, eps);
    blk.ffn = load_feed_forward(b.scope("layer.1"), c, fmt);
    m->encoder.push_back(std::move(blk));
  }
  m->encoder_relative_attention_bias =
      enc.get("block.0.layer.0.SelfAttention.relative_attention_bias.weight",
              {c.relative_attention_num_buckets, H});
  m->encoder_final_layer_norm = RmsNorm::load(enc, "final_layer_norm", D, eps);

  const WeightLoader dec = w.scope("decoder");
  for (int64_t i = 0; i < c.num_decoder_layers; ++i) {
    const WeightLoader b = dec.scope("block", i);
    T5DecoderBlock blk;
    blk.self_attention_norm = RmsNorm::load(b, "layer.0.layer_norm", D, eps);
    blk.self_attention = load_attention(b, "layer.0.SelfAttention", D, inner, fmt);
    blk.cross_attention_norm = RmsNorm::load(b, "layer.1.layer_norm", D, eps);
    blk.cross_attention = load_attention(b, "layer.1.EncDecAttention", D, inner, fmt);
    blk.ffn_norm = RmsNorm::load(b, "layer.2.layer_norm", D, eps);
    blk.ffn = load_feed_forward(b.scope("layer.2"), c, fmt);
    m->decoder.push_back(std::move(blk));
  }
  m->decoder_relative_attention_bias =
      dec.get("block.0.layer.0.SelfAttention.relative_attention_bias.weight",
              {c.relative_attention_num_buckets, H});
  m->decoder_final_layer_norm = RmsNorm::load(dec, "final_layer_norm", D, eps);
  return m;
}

namespace {

// One request's T5 state: the encoder output and every decoder layer's cross-attention K/V per
// batch item (computed once in start()), the decoder self-attention caches per row, and scratch.
// Buffers only grow, so a state reused across requests of similar size stops allocating, and
// nothing is allocated per decoding step.
class T5State : public LanguageModelState {
 public:
  T5State(const T5Model& m, ThreadPool& pool)
      : m_(m),
        pool_(pool),
        caches_(m.decoder.size()),
        cross_k_(m.decoder.size()),
        cross_v_(m.decoder.size()) {}

  int64_t rows() const override { return rows_; }
  int64_t vocab_size() const override { return m_.config.vocab_size; }
  const float* logits() const override { return logits_.data<float>(); }

  void start(std::span<const LmPrompt> prompts, int64_t rows_per_item,
             int64_t max_new_tokens) override;
  void step(std::span<const int32_t> tokens) override;
  void reorder(std::span<const int32_t> src) override;

  // Runs the encoder over the prompts, right-padded to the longest ([queries][tokens][pads], as
  // the reference's processor pads T5 prompts), then every decoder layer's cross-attention K/V
  // of its output. Leaves enc_out_ f32 [items, enc_len_, D].
  void encode(std::span<const LmPrompt> prompts);
  // Sets up items * rows_per_item decoder rows with room for `capacity` positions.
  void reset_decoder(int64_t rows_per_item, int64_t capacity);
  // Embeds n tokens per row ([rows, n]) as the decoder input.
  void embed(const int32_t* ids, int64_t n);
  // Runs n positions per row from the embeddings in x_ ([rows, n, D]) at positions
  // [length_, length_ + n) and advances length_. Leaves the final hidden states (normalised,
  // scaled for a tied head) in x_.
  void decode(int64_t n);
  // out[n, V] = h[n, D] lm_head^T.
  void project(const float* h, int64_t n, float* out);

  const float* encoder_output() const { return enc_out_.data<float>(); }
  const float* hidden() const { return x_.data<float>(); }

 private:
  void ensure_scratch(int64_t tokens);
  // x[T, D] += ffn(in[T, D]); `in` must not overlap x.
  void feed_forward(const T5FeedForward& f, const float* in, int64_t T, float* x);
  // ctx_[rows, n, inner] = cross-attention of q_ over item r / rows_per_item's encoder K/V.
  void cross_attention(size_t layer, int64_t n);
  // bias_[H, n, kv] for decoder queries at positions [length_, length_ + n) over keys [0, kv).
  void fill_decoder_bias(int64_t n, int64_t kv);

  const T5Model& m_;
  ThreadPool& pool_;
  std::vector<KvCache> caches_;            // decoder self-attention, per layer
  std::vector<Tensor> cross_k_, cross_v_;  // per layer f32 [items, enc_len, inner]
  Tensor enc_out_;                         // f32 [items, enc_len, D]
  Tensor enc_bias_;                        // f32 [H, enc_len, enc_len]
  Tensor bias_;                            // f32 [H, n, kv] decoder self-attention bias
  Tensor x_, h_, q_, k_, v_, ctx_, f0_, f1_, logits_, reorder_scratch_;
  std::vector<uint8_t> enc_mask_;  // [items, enc_len]
  int64_t items_ = 0, enc_len_ = 0, rows_per_item_ = 1, rows_ = 0, length_ = 0, capacity_ = 0;
  int64_t scratch_tokens_ = 0;
};

void T5State::ensure_scratch(int64_t tokens) {
  if (tokens <= scratch_tokens_) return;
  const T5Config& c = m_.config;
  const int64_t D = c.d_model, inner = m_.inner_dim(), F = c.d_ff;
  x_ = Tensor::empty(DType::kF32, {tokens, D});
  h_ = Tensor::empty(DType::kF32, {tokens, D});
  q_ = Tensor::empty(DType::kF32, {tokens, inner});
  k_ = Tensor::empty(DType::kF32, {tokens, inner});
  v_ = Tensor::empty(DType::kF32, {tokens, inner});
  ctx_ = Tensor::empty(DType::kF32, {tokens, inner});
  f0_ = Tensor::empty(DType::kF32, {tokens, F});
  f1_ = Tensor::empty(DType::kF32, {tokens, F});
  scratch_tokens_ = tokens;
}

void T5State::feed_forward(const T5FeedForward& f, const float* in, int64_t T, float* x) {
  float* f0 = f0_.mutable_data<float>();
  f.wi_0.forward_activation(pool_, in, T, f0, m_.activation);
  if (f.gated) {
    float* f1 = f1_.mutable_data<float>();
    f.wi_1.forward(pool_, in, T, f1);
    cpu::mul(pool_, f0, f1, f0, T * m_.config.d_ff);
  }
  f.wo.forward_accumulate(pool_, f0, T, x);
}

void T5State::encode(std::span<const LmPrompt> prompts) {
  const T5Config& c = m_.config;
  const int64_t D = c.d_model, V = c.vocab_size, H = c.num_heads, Dh = c.d_kv;
  const int64_t inner = m_.inner_dim();
  const int64_t items = static_cast<int64_t>(prompts.size());
  BLIP2_CHECK(items > 0);
  int64_t L = 0;
  for (int64_t i = 0; i < items; ++i) {
    const LmPrompt& p = prompts[i];
    BLIP2_CHECK(p.prefix_len >= 0 && (p.prefix_len == 0 || p.prefix_embeds != nullptr));
    const int64_t len = p.prefix_len + static_cast<int64_t>(p.tokens.size());
    if (len == 0)
      fail(ErrorKind::kInvalidArgument, "batch item ", i,
           " has an empty T5 encoder input (no query embeddings and no tokens); give it a prompt");
    if (len > T5Model::kMaxPositions)
      fail(ErrorKind::kInvalidArgument, "batch item ", i, " has ", len,
           " encoder positions, more than the ", T5Model::kMaxPositions,
           " this implementation accepts; use a shorter prompt");
    for (int32_t id : p.tokens)
      if (id < 0 || id >= V)
        fail(ErrorKind::kInvalidArgument, "token id ", id, " of batch item ", i,
             " is outside the vocabulary (", V, ")");
    L = std::max(L, len);
  }
  items_ = items;
  enc_len_ = L;
  const int64_t T = items * L;
  ensure_scratch(T);

  float* x = x_.mutable_data<float>();
  std::memset(x, 0, T * D * sizeof(float));
  enc_mask_.assign(T, 0);
  for (int64_t i = 0; i < items; ++i) {
    const LmPrompt& p = prompts[i];
    const int64_t n_tok = static_cast<int64_t>(p.tokens.size());
    float* row = x + i * L * D;
    if (p.prefix_len > 0) std::memcpy(row, p.prefix_embeds, p.prefix_len * D * sizeof(float));
    cpu::embedding(m_.shared.data<float>(), D, p.tokens.data(), n_tok, row + p.prefix_len * D);
    std::fill_n(&enc_mask_[i * L], p.prefix_len + n_tok, uint8_t{1});
  }

  // Bidirectional bias [H, L, L]: one value per head and relative distance, laid out per query.
  reserve_floats(enc_bias_, H * L * L);
  {
    const float* table = m_.encoder_relative_attention_bias.data<float>();  // [buckets, H]
    float* bias = enc_bias_.mutable_data<float>();
    for (int64_t rel = -(L - 1); rel <= L - 1; ++rel) {
      const int64_t bucket =
          t5_relative_position_bucket(rel, /*bidirectional=*/true, c.relative_attention_num_buckets,
                                      c.relative_attention_max_distance);
      for (int64_t h = 0; h < H; ++h) {
        const float b = table[bucket * H + h];
        // Every (i, j = i + rel) inside [0, L)^2.
        for (int64_t i = std::max<int64_t>(0, -rel); i < L && i + rel < L; ++i)
          bias[(h * L + i) * L + i + rel] = b;
      }
    }
  }

  float* h = h_.mutable_data<float>();
  float* q = q_.mutable_data<float>();
  float* k = k_.mutable_data<float>();
  float* v = v_.mutable_data<float>();
  float* ctx = ctx_.mutable_data<float>();
  for (const T5EncoderBlock& b : m_.encoder) {
    b.self_attention_norm.forward(pool_, x, T, h);
    b.self_attention.q.forward(pool_, h, T, q);
    b.self_attention.k.forward(pool_, h, T, k);
    b.self_attention.v.forward(pool_, h, T, v);
    cpu::AttentionParams a;
    a.batch = items;
    a.heads = H;
    a.q_len = a.kv_len = L;
    a.head_dim = Dh;
    a.q = q;
    a.k = k;
    a.v = v;
    a.out = ctx;
    a.q_batch_stride = a.k_batch_stride = a.v_batch_stride = a.out_batch_stride = L * inner;
    a.q_row_stride = a.k_row_stride = a.v_row_stride = a.out_row_stride = inner;
    a.q_head_stride = a.k_head_stride = a.v_head_stride = a.out_head_stride = Dh;
    a.scale = 1.0f;  // T5 folds the 1/sqrt(d) into its initialisation
    a.bias = enc_bias_.data<float>();
    a.bias_batch_stride = 0;  // positions do not depend on padding (it is on the right)
    a.bias_head_stride = L * L;
    a.bias_row_stride = L;
    a.key_mask = enc_mask_.data();
    a.key_mask_batch_stride = L;
    cpu::attention(pool_, a);
    b.self_attention.o.forward_accumulate(pool_, ctx, T, x);

    b.ffn_norm.forward(pool_, x, T, h);
    feed_forward(b.ffn, h, T, x);
  }
  reserve_floats(enc_out_, T * D);
  m_.encoder_final_layer_norm.forward(pool_, x, T, enc_out_.mutable_data<float>());

  // Cross-attention keys/values: once per encoded item, reused by every decoding row and step.
  for (size_t l = 0; l < m_.decoder.size(); ++l) {
    reserve_floats(cross_k_[l], T * inner);
    reserve_floats(cross_v_[l], T * inner);
    m_.decoder[l].cross_attention.k.forward(pool_, enc_out_.data<float>(), T,
                                            cross_k_[l].mutable_data<float>());
    m_.decoder[l].cross_attention.v.forward(pool_, enc_out_.data<float>(), T,
                                            cross_v_[l].mutable_data<float>());
  }
}

void T5State::reset_decoder(int64_t rows_per_item, int64_t capacity) {
  const T5Config& c = m_.config;
  BLIP2_CHECK(items_ > 0 && rows_per_item > 0 && capacity > 0);
  rows_per_item_ = rows_per_item;
  rows_ = items_ * rows_per_item;
  capacity_ = capacity;
  length_ = 0;
  for (auto& cache : caches_) cache.reserve(rows_, c.num_heads, capacity, c.d_kv);
  ensure_scratch(rows_);
  reserve_floats(logits_, rows_ * c.vocab_size);
  reserve_floats(bias_, c.num_heads * capacity);  // one query row per step
  if (rows_ > 1) reserve_floats(reorder_scratch_, rows_ * c.num_heads * capacity * c.d_kv);
}

void T5State::embed(const int32_t* ids, int64_t n) {
  const int64_t D = m_.config.d_model;
  ensure_scratch(rows_ * n);
  cpu::embedding(m_.shared.data<float>(), D, ids, rows_ * n, x_.mutable_data<float>());
}

void T5State::fill_decoder_bias(int64_t n, int64_t kv) {
  const T5Config& c = m_.config;
  const int64_t H = c.num_heads;
  reserve_floats(bias_, H * n * kv);
  const float* table = m_.decoder_relative_attention_bias.data<float>();  // [buckets, H]
  float* bias = bias_.mutable_data<float>();
  for (int64_t i = 0; i < n; ++i) {
    const int64_t query = length_ + i;
    // Keys after the query are masked by causality; their bucket (0) is never read.
    for (int64_t j = 0; j < kv; ++j) {
      const int64_t bucket = t5_relative_position_bucket(j - query, /*bidirectional=*/false,
                                                         c.relative_attention_num_buckets,
                                                         c.relative_attention_max_distance);
      for (int64_t h = 0; h < H; ++h) bias[(h * n + i) * kv + j] = table[bucket * H + h];
    }
  }
}

void T5State::cross_attention(size_t layer, int64_t n) {
  const T5Config& c = m_.config;
  const int64_t inner = m_.inner_dim(), L = enc_len_, R = rows_per_item_;
  // The rows of one item share its K/V: one call per item with a zero batch stride on K/V.
  for (int64_t item = 0; item < items_; ++item) {
    cpu::AttentionParams a;
    a.batch = R;
    a.heads = c.num_heads;
    a.q_len = n;
    a.kv_len = L;
    a.head_dim = c.d_kv;
    a.q = q_.data<float>() + item * R * n * inner;
    a.out = ctx_.mutable_data<float>() + item * R * n * inner;
    a.q_batch_stride = a.out_batch_stride = n * inner;
    a.q_row_stride = a.out_row_stride = inner;
    a.q_head_stride = a.out_head_stride = c.d_kv;
    a.k = cross_k_[layer].data<float>() + item * L * inner;
    a.v = cross_v_[layer].data<float>() + item * L * inner;
    a.k_batch_stride = a.v_batch_stride = 0;
    a.k_row_stride = a.v_row_stride = inner;
    a.k_head_stride = a.v_head_stride = c.d_kv;
    a.scale = 1.0f;
    a.key_mask = enc_mask_.data() + item * L;  // the encoder's padding
    a.key_mask_batch_stride = 0;
    cpu::attention(pool_, a);
  }
}

void T5State::decode(int64_t n) {
  const T5Config& c = m_.config;
  const int64_t D = c.d_model, inner = m_.inner_dim();
  const int64_t T = rows_ * n, kv = length_ + n;
  BLIP2_CHECK(kv <= capacity_, "T5 decoder past its reserved length");
  fill_decoder_bias(n, kv);
  float* x = x_.mutable_data<float>();
  float* h = h_.mutable_data<float>();
  float* q = q_.mutable_data<float>();
  float* k = k_.mutable_data<float>();
  float* v = v_.mutable_data<float>();
  float* ctx = ctx_.mutable_data<float>();
  for (size_t l = 0; l < m_.decoder.size(); ++l) {
    const T5DecoderBlock& b = m_.decoder[l];
    b.self_attention_norm.forward(pool_, x, T, h);
    b.self_attention.q.forward(pool_, h, T, q);
    b.self_attention.k.forward(pool_, h, T, k);
    b.self_attention.v.forward(pool_, h, T, v);
    caches_[l].write(k, v, rows_, n, length_, inner);
    cpu::AttentionParams a = caches_[l].causal_attention(q, ctx, rows_, n, length_);
    a.bias = bias_.data<float>();
    a.bias_batch_stride = 0;
    a.bias_head_stride = n * kv;
    a.bias_row_stride = kv;
    cpu::attention(pool_, a);
    b.self_attention.o.forward_accumulate(pool_, ctx, T, x);

    b.cross_attention_norm.forward(pool_, x, T, h);
    b.cross_attention.q.forward(pool_, h, T, q);
    cross_attention(l, n);
    b.cross_attention.o.forward_accumulate(pool_, ctx, T, x);

    b.ffn_norm.forward(pool_, x, T, h);
    feed_forward(b.ffn, h, T, x);
  }
  m_.decoder_final_layer_norm.forward(pool_, x, T, x);
  if (m_.lm_head_scale != 1.0f) cpu::scale(x, m_.lm_head_scale, T * D);
  length_ += n;
}

void T5State::project(const float* h, int64_t n, float* out) {
  const int64_t D = m_.config.d_model, V = m_.config.vocab_size;
  m_.lm_head.forward(pool_, h, D, n, out, V);
}

void T5State::start(std::span<const LmPrompt> prompts, int64_t rows_per_item,
                    int64_t max_new_tokens) {
  BLIP2_CHECK(!prompts.empty() && rows_per_item > 0 && max_new_tokens >= 0);
  if (max_new_tokens + 1 > T5Model::kMaxPositions)
    fail(ErrorKind::kInvalidArgument, max_new_tokens, " new tokens exceed the ",
         T5Model::kMaxPositions, " decoder positions this implementation accepts; ask for fewer");
  encode(prompts);
  // Positions: the decoder start token, then one per step(). generate() never steps with the
  // last of max_new_tokens tokens, but room for it costs one position and keeps step() total.
  reset_decoder(rows_per_item, 1 + max_new_tokens);
  std::vector<int32_t> start_ids(rows_, m_.decoder_start_token_id);
  embed(start_ids.data(), 1);
  decode(1);
  project(x_.data<float>(), rows_, logits_.mutable_data<float>());
}

void T5State::step(std::span<const int32_t> tokens) {
  const int64_t V = m_.config.vocab_size;
  BLIP2_CHECK(static_cast<int64_t>(tokens.size()) == rows_);
  if (length_ >= capacity_) fail(ErrorKind::kInternal, "T5 step past the reserved length");
  for (int32_t id : tokens)
    if (id < 0 || id >= V) fail(ErrorKind::kInternal, "token id ", id, " outside the vocabulary");
  embed(tokens.data(), 1);
  decode(1);
  project(x_.data<float>(), rows_, logits_.mutable_data<float>());
}

void T5State::reorder(std::span<const int32_t> src) {
  BLIP2_CHECK(static_cast<int64_t>(src.size()) == rows_);
  for (int64_t r = 0; r < rows_; ++r)
    BLIP2_CHECK(src[r] >= 0 && src[r] < rows_ && src[r] / rows_per_item_ == r / rows_per_item_,
                "beam reorder moves row ", src[r], " to row ", r, " across batch items");
  // Cross-attention K/V belong to the item, which a row never leaves: only the self-attention
  // caches move.
  for (auto& cache : caches_) cache.reorder(src, length_, reorder_scratch_);
}

}  // namespace

std::unique_ptr<LanguageModelState> T5Model::new_state(ThreadPool& pool) const {
  return std::make_unique<T5State>(*this, pool);
}

Tensor T5Model::encode(ThreadPool& pool, const LmPrompt& prompt) const {
  T5State state(*this, pool);
  const LmPrompt prompts[1] = {prompt};
  state.encode(prompts);
  const int64_t L = prompt.prefix_len + static_cast<int64_t>(prompt.tokens.size());
  Tensor out = Tensor::empty(DType::kF32, {L, config.d_model});
  std::memcpy(out.mutable_data<float>(), state.encoder_output(),
              L * config.d_model * sizeof(float));
  return out;
}

Tensor T5Model::forward_logits(ThreadPool& pool, const LmPrompt& prompt,
                               std::span<const int32_t> decoder_tokens) const {
  const int64_t T = static_cast<int64_t>(decoder_tokens.size());
  if (T == 0)
    fail(ErrorKind::kInvalidArgument,
         "T5 logits need at least one decoder input id (start with decoder_start_token_id ",
         decoder_start_token_id, ")");
  if (T > kMaxPositions)
    fail(ErrorKind::kInvalidArgument, T, " decoder input ids exceed the ", kMaxPositions,
         " positions this implementation accepts");
  for (int32_t id : decoder_tokens)
    if (id < 0 || id >= config.vocab_size)
      fail(ErrorKind::kInvalidArgument, "decoder input id ", id, " is outside the vocabulary (",
           config.vocab_size, ")");
  T5State state(*this, pool);
  const LmPrompt prompts[1] = {prompt};
  state.encode(prompts);
  // All positions in one causal pass: the self-attention cache is only the pass's K/V storage.
  state.reset_decoder(1, T);
  state.embed(decoder_tokens.data(), T);
  state.decode(T);
  Tensor logits = Tensor::empty(DType::kF32, {T, config.vocab_size});
  state.project(state.hidden(), T, logits.mutable_data<float>());
  return logits;
}

}  // namespace blip2
