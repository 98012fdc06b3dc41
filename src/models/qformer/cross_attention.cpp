#include "models/qformer/cross_attention.h"

#include <cmath>

#include "backend/cpu/kernels.h"

namespace blip2 {

QFormerAttention QFormerAttention::load(const WeightLoader& w, int64_t hidden,
                                        int64_t context_width, int64_t num_heads, double eps) {
  QFormerAttention a;
  a.query = Linear::load(w, "attention.query", hidden, hidden);
  a.key = Linear::load(w, "attention.key", context_width, hidden);
  a.value = Linear::load(w, "attention.value", context_width, hidden);
  a.dense = Linear::load(w, "output.dense", hidden, hidden);
  a.layer_norm = LayerNorm::load(w, "output.LayerNorm", hidden, eps);
  a.num_heads = num_heads;
  return a;
}

void QFormerAttention::forward(ThreadPool& pool, float* h, int64_t B, int64_t Q,
                               const float* context, int64_t T) const {
  const int64_t C = query.out_features(), D = C / num_heads;
  Tensor q = Tensor::empty(DType::kF32, {B * Q, C});
  Tensor k = Tensor::empty(DType::kF32, {B * T, C});
  Tensor v = Tensor::empty(DType::kF32, {B * T, C});
  Tensor ctx = Tensor::empty(DType::kF32, {B * Q, C});
  query.forward(pool, h, B * Q, q.mutable_data<float>());
  key.forward(pool, context, B * T, k.mutable_data<float>());
  value.forward(pool, context, B * T, v.mutable_data<float>());

  cpu::AttentionParams p;
  p.batch = B;
  p.heads = num_heads;
  p.q_len = Q;
  p.kv_len = T;
  p.head_dim = D;
  p.q = q.data<float>();
  p.q_batch_stride = Q * C;
  p.k = k.data<float>();
  p.v = v.data<float>();
  p.k_batch_stride = p.v_batch_stride = T * C;
  p.out = ctx.mutable_data<float>();
  p.out_batch_stride = Q * C;
  p.q_row_stride = p.k_row_stride = p.v_row_stride = p.out_row_stride = C;
  p.q_head_stride = p.k_head_stride = p.v_head_stride = p.out_head_stride = D;
  p.scale = 1.0f / std::sqrt(static_cast<float>(D));
  cpu::attention(pool, p);

  // BertSelfOutput: LayerNorm(dense(ctx) + h), post-LN.
  dense.forward_accumulate(pool, ctx.data<float>(), B * Q, h);
  layer_norm.forward(pool, h, B * Q, h);
}

}  // namespace blip2
