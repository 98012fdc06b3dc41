#include "models/opt/opt_decoder.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "backend/cpu/kernels.h"
#include "nn/kv_cache.h"

namespace blip2 {

std::unique_ptr<OptModel> OptModel::load(const WeightLoader& w, const OptConfig& c,
                                         const WeightPolicy& policy) {
  auto m = std::make_unique<OptModel>();
  m->config = c;
  const int64_t D = c.hidden_size, F = c.ffn_dim, V = c.vocab_size;
  const WeightLoader dec = w.scope("model.decoder");
  m->embed_tokens = dec.get("embed_tokens.weight", {V, D});
  m->embed_positions =
      dec.get("embed_positions.weight", {c.max_position_embeddings + kPositionOffset, D});
  const WeightLoader layers = dec.scope("layers");
  for (int64_t i = 0; i < c.num_hidden_layers; ++i) {
    const WeightLoader lw = layers.scope(std::to_string(i));
    OptLayer l;
    if (!c.layer_norm_elementwise_affine)
      fail(ErrorKind::kUnsupported,
           "OPT with layer_norm_elementwise_affine=false is not supported");
    l.self_attn_layer_norm = LayerNorm::load(lw, "self_attn_layer_norm", D, 1e-5);
    l.final_layer_norm = LayerNorm::load(lw, "final_layer_norm", D, 1e-5);
    const WeightFormat fmt = policy.language_model;
    l.q_proj = Linear::load(lw, "self_attn.q_proj", D, D, c.enable_bias, fmt);
    l.k_proj = Linear::load(lw, "self_attn.k_proj", D, D, c.enable_bias, fmt);
    l.v_proj = Linear::load(lw, "self_attn.v_proj", D, D, c.enable_bias, fmt);
    l.out_proj = Linear::load(lw, "self_attn.out_proj", D, D, c.enable_bias, fmt);
    l.fc1 = Linear::load(lw, "fc1", D, F, c.enable_bias, fmt);
    l.fc2 = Linear::load(lw, "fc2", F, D, c.enable_bias, fmt);
    m->layers.push_back(std::move(l));
  }
  if (c.do_layer_norm_before && !c.remove_final_layer_norm)
    m->final_layer_norm = LayerNorm::load(dec, "final_layer_norm", D, 1e-5);
  // OPTForCausalLM ties lm_head to embed_tokens when tie_word_embeddings (the default), whatever
  // the checkpoint stores; transformers omits the tied copy when saving.
  m->lm_head =
      Linear::load_head(w, "lm_head", m->embed_tokens, c.tie_word_embeddings, D, V, policy.lm_head);
  m->activation = activation_from_name(c.activation_function);
  return m;
}

namespace {

// Decoding state for OPT: per-layer KV caches plus scratch, grown only when a request needs more.
class OptState : public LanguageModelState {
 public:
  OptState(const OptModel& m, ThreadPool& pool) : m_(m), pool_(pool), caches_(m.layers.size()) {}

  int64_t rows() const override { return rows_; }
  int64_t vocab_size() const override { return m_.config.vocab_size; }
  const float* logits() const override { return logits_.data<float>(); }

  void start(std::span<const LmPrompt> prompts, int64_t rows_per_item,
             int64_t max_new_tokens) override;
  void step(std::span<const int32_t> tokens) override;
  void reorder(std::span<const int32_t> src) override;

  // Runs `n` new positions for `rows` rows whose inputs_embeds are in x_ ([rows, n, D]); the
  // positions [length_, length_ + n) of the cache are written. Leaves the normalised last hidden
  // state of every position in x_.
  void forward(int64_t rows, int64_t n);
  const Tensor& hidden() const { return x_; }

 private:
  friend class OptModel;
  void ensure_scratch(int64_t rows_times_n);
  void add_positions(int64_t rows, int64_t n);
  void lm_head(const float* h, int64_t rows, int64_t ld, float* out);

  const OptModel& m_;
  ThreadPool& pool_;
  std::vector<KvCache> caches_;
  Tensor reorder_scratch_;
  Tensor x_, h_, q_, k_, v_, ctx_, ffn_, logits_;
  std::vector<uint8_t> key_mask_;       // [rows, capacity]
  std::vector<int64_t> valid_len_;      // unmasked tokens so far per row = next position id
  std::vector<uint8_t> mask_scratch_;   // for reorder
  std::vector<int64_t> valid_scratch_;  // for reorder
  int64_t rows_ = 0, length_ = 0, capacity_ = 0;
};

void OptState::ensure_scratch(int64_t tokens) {
  const int64_t D = m_.config.hidden_size, F = m_.config.ffn_dim;
  if (x_.defined() && x_.dim(0) >= tokens) return;
  x_ = Tensor::empty(DType::kF32, {tokens, D});
  h_ = Tensor::empty(DType::kF32, {tokens, D});
  q_ = Tensor::empty(DType::kF32, {tokens, D});
  k_ = Tensor::empty(DType::kF32, {tokens, D});
  v_ = Tensor::empty(DType::kF32, {tokens, D});
  ctx_ = Tensor::empty(DType::kF32, {tokens, D});
  ffn_ = Tensor::empty(DType::kF32, {tokens, F});
}

void OptState::add_positions(int64_t rows, int64_t n) {
  // position = number of unmasked tokens before this one (cumsum(mask) - 1 in the reference);
  // masked slots get -1 there, and never influence unmasked ones.
  const int64_t D = m_.config.hidden_size;
  float* x = x_.mutable_data<float>();
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t t = 0; t < n; ++t) {
      const bool valid = key_mask_[r * capacity_ + length_ + t] != 0;
      const int64_t id = valid ? valid_len_[r]++ : -1;
      const float* pe = m_.embed_positions.data<float>() + (id + OptModel::kPositionOffset) * D;
      add_inplace(pool_, x + (r * n + t) * D, pe, D);
    }
  }
}

void OptState::forward(int64_t rows, int64_t n) {
  const OptConfig& c = m_.config;
  const int64_t D = c.hidden_size, Dh = c.head_dim(), T = rows * n;
  float* x = x_.mutable_data<float>();
  float* h = h_.mutable_data<float>();
  float* q = q_.mutable_data<float>();
  float* k = k_.mutable_data<float>();
  float* v = v_.mutable_data<float>();
  float* ctx = ctx_.mutable_data<float>();
  float* ffn = ffn_.mutable_data<float>();
  const float scaling = 1.0f / std::sqrt(static_cast<float>(Dh));
  for (size_t li = 0; li < m_.layers.size(); ++li) {
    const OptLayer& l = m_.layers[li];
    const float* attn_in = x;
    if (c.do_layer_norm_before) {
      l.self_attn_layer_norm.forward(pool_, x, T, h);
      attn_in = h;
    }
    l.q_proj.forward(pool_, attn_in, T, q);
    cpu::scale(q, scaling, T * D);  // the reference scales q before q k^T
    l.k_proj.forward(pool_, attn_in, T, k);
    l.v_proj.forward(pool_, attn_in, T, v);
    caches_[li].write(k, v, rows, n, length_, D);

    cpu::AttentionParams a = caches_[li].causal_attention(q, ctx, rows, n, length_);
    a.key_mask = key_mask_.data();
    a.key_mask_batch_stride = capacity_;
    cpu::attention(pool_, a);
    l.out_proj.forward_accumulate(pool_, ctx, T, x);
    if (!c.do_layer_norm_before) l.self_attn_layer_norm.forward(pool_, x, T, x);

    const float* ffn_in = x;
    if (c.do_layer_norm_before) {
      l.final_layer_norm.forward(pool_, x, T, h);
      ffn_in = h;
    }
    l.fc1.forward_activation(pool_, ffn_in, T, ffn, m_.activation);
    l.fc2.forward_accumulate(pool_, ffn, T, x);
    if (!c.do_layer_norm_before) l.final_layer_norm.forward(pool_, x, T, x);
  }
  if (m_.final_layer_norm) m_.final_layer_norm->forward(pool_, x, T, x);
}

void OptState::lm_head(const float* h, int64_t rows, int64_t ld, float* out) {
  const int64_t V = m_.config.vocab_size;
  m_.lm_head.forward(pool_, h, ld, rows, out, V);
}

void OptState::start(std::span<const LmPrompt> prompts, int64_t rows_per_item,
                     int64_t max_new_tokens) {
  const OptConfig& c = m_.config;
  const int64_t D = c.hidden_size, V = c.vocab_size, H = c.num_attention_heads;
  const int64_t items = static_cast<int64_t>(prompts.size());
  BLIP2_CHECK(items > 0 && rows_per_item > 0 && max_new_tokens >= 0);
  int64_t prompt_len = 0;
  for (const LmPrompt& p : prompts)
    prompt_len = std::max(prompt_len, p.prefix_len + static_cast<int64_t>(p.tokens.size()));
  // Positions used: at most prompt tokens + new tokens (pads take none).
  for (const LmPrompt& p : prompts) {
    const int64_t used = p.prefix_len + static_cast<int64_t>(p.tokens.size()) + max_new_tokens;
    if (used > c.max_position_embeddings)
      fail(ErrorKind::kInvalidArgument, "the prompt (", p.prefix_len, " query embeddings + ",
           p.tokens.size(), " tokens) plus ", max_new_tokens, " new tokens needs ", used,
           " positions, but the model has ", c.max_position_embeddings,
           "; use a shorter prompt or fewer new tokens");
    for (int32_t id : p.tokens)
      if (id < 0 || id >= V)
        fail(ErrorKind::kInvalidArgument, "token id ", id, " is outside the vocabulary (", V, ")");
  }
  if (prompt_len == 0) fail(ErrorKind::kInvalidArgument, "empty language-model input");
  const int64_t rows = items * rows_per_item;
  capacity_ = prompt_len + max_new_tokens;
  rows_ = rows;
  for (auto& cache : caches_) cache.reserve(rows, H, capacity_, c.head_dim());
  ensure_scratch(std::max(items * prompt_len, rows));
  if (!logits_.defined() || logits_.numel() < rows * V)
    logits_ = Tensor::empty(DType::kF32, {rows, V});
  key_mask_.assign(rows * capacity_, 0);
  valid_len_.assign(rows, 0);

  // Left padding, as the reference batches OPT prompts: [queries][pads][tokens].
  float* x = x_.mutable_data<float>();
  std::memset(x, 0, items * prompt_len * D * sizeof(float));
  for (int64_t i = 0; i < items; ++i) {
    const LmPrompt& p = prompts[i];
    const int64_t L = static_cast<int64_t>(p.tokens.size());
    const int64_t pad = prompt_len - p.prefix_len - L;
    float* row = x + i * prompt_len * D;
    if (p.prefix_len > 0) std::memcpy(row, p.prefix_embeds, p.prefix_len * D * sizeof(float));
    for (int64_t t = 0; t < p.prefix_len; ++t) key_mask_[i * capacity_ + t] = 1;
    cpu::embedding(m_.embed_tokens.data<float>(), D, p.tokens.data(), L,
                   row + (p.prefix_len + pad) * D);
    for (int64_t t = 0; t < L; ++t) key_mask_[i * capacity_ + p.prefix_len + pad + t] = 1;
  }
  length_ = 0;
  add_positions(items, prompt_len);
  forward(items, prompt_len);
  length_ = prompt_len;

  // Logits of each item's last position, then replicate items to their rows.
  for (int64_t i = 0; i < items; ++i)
    lm_head(x + (i * prompt_len + prompt_len - 1) * D, 1, D,
            logits_.mutable_data<float>() + i * rows_per_item * V);
  if (rows_per_item > 1) {
    for (auto& cache : caches_) cache.expand(items, rows_per_item, length_);
    float* lg = logits_.mutable_data<float>();
    for (int64_t r = rows; r-- > 0;) {
      const int64_t item = r / rows_per_item;
      if (r != item * rows_per_item)
        std::memcpy(lg + r * V, lg + item * rows_per_item * V, V * sizeof(float));
      if (r != item) {
        std::memcpy(&key_mask_[r * capacity_], &key_mask_[item * capacity_], capacity_);
        valid_len_[r] = valid_len_[item];
      }
    }
  }
  if (!reorder_scratch_.defined() && rows > 1)
    reorder_scratch_ = Tensor::empty(DType::kF32, {rows * H * capacity_ * c.head_dim()});
  mask_scratch_.resize(rows * capacity_);
  valid_scratch_.resize(rows);
}

void OptState::step(std::span<const int32_t> tokens) {
  const int64_t D = m_.config.hidden_size, V = m_.config.vocab_size;
  BLIP2_CHECK(static_cast<int64_t>(tokens.size()) == rows_);
  if (length_ >= capacity_) fail(ErrorKind::kInternal, "OPT step past the reserved length");
  for (int32_t id : tokens)
    if (id < 0 || id >= V) fail(ErrorKind::kInternal, "token id ", id, " outside the vocabulary");
  cpu::embedding(m_.embed_tokens.data<float>(), D, tokens.data(), rows_, x_.mutable_data<float>());
  for (int64_t r = 0; r < rows_; ++r) key_mask_[r * capacity_ + length_] = 1;
  add_positions(rows_, 1);
  forward(rows_, 1);
  ++length_;
  lm_head(x_.data<float>(), rows_, D, logits_.mutable_data<float>());
}

void OptState::reorder(std::span<const int32_t> src) {
  BLIP2_CHECK(static_cast<int64_t>(src.size()) == rows_);
  for (auto& cache : caches_) cache.reorder(src, length_, reorder_scratch_);
  for (int64_t r = 0; r < rows_; ++r) {
    std::memcpy(&mask_scratch_[r * capacity_], &key_mask_[src[r] * capacity_], capacity_);
    valid_scratch_[r] = valid_len_[src[r]];
  }
  key_mask_.swap(mask_scratch_);
  valid_len_.swap(valid_scratch_);
}

}  // namespace

std::unique_ptr<LanguageModelState> OptModel::new_state(ThreadPool& pool) const {
  return std::make_unique<OptState>(*this, pool);
}

Tensor OptModel::forward_logits(ThreadPool& pool, const LmPrompt& prompt,
                                std::span<const int32_t> /*decoder_tokens*/) const {
  OptState state(*this, pool);
  const LmPrompt prompts[1] = {prompt};
  state.start(prompts, 1, 0);
  // start() leaves the final hidden states of every position in x_; project them all.
  const int64_t T = prompt.prefix_len + static_cast<int64_t>(prompt.tokens.size());
  Tensor logits = Tensor::empty(DType::kF32, {T, config.vocab_size});
  lm_head.forward(pool, state.hidden().data<float>(), T, logits.mutable_data<float>());
  return logits;
}

}  // namespace blip2
