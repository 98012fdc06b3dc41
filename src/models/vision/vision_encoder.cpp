#include "models/vision/vision_encoder.h"

#include <cmath>
#include <cstring>

#include "backend/cpu/kernels.h"

namespace blip2 {

namespace {

VisionLayer load_layer(const WeightLoader& w, const VisionConfig& c, WeightFormat fmt) {
  const int64_t C = c.hidden_size, F = c.intermediate_size;
  VisionLayer l;
  l.layer_norm1 = LayerNorm::load(w, "layer_norm1", C, c.layer_norm_eps);
  l.layer_norm2 = LayerNorm::load(w, "layer_norm2", C, c.layer_norm_eps);
  const WeightLoader attn = w.scope("self_attn");
  l.qkv = Linear::load(attn, "qkv", C, 3 * C, /*has_bias=*/false, fmt);
  if (c.qkv_bias) {
    if (attn.has("qkv.bias")) {
      // transformers stores the concatenated bias (q_bias, zeros, v_bias).
      l.qkv.bias = attn.get("qkv.bias", {3 * C});
    } else {
      // Checkpoints converted from LAVIS keep q_bias and v_bias; the key has no bias.
      const Tensor q = attn.get("q_bias", {C}), v = attn.get("v_bias", {C});
      l.qkv.bias = Tensor::empty(DType::kF32, {3 * C});
      float* b = l.qkv.bias.mutable_data<float>();
      std::memcpy(b, q.data<float>(), C * sizeof(float));
      std::memcpy(b + 2 * C, v.data<float>(), C * sizeof(float));
    }
  }
  l.projection = Linear::load(attn, "projection", C, C, true, fmt);
  l.fc1 = Linear::load(w, "mlp.fc1", C, F, true, fmt);
  l.fc2 = Linear::load(w, "mlp.fc2", F, C, true, fmt);
  return l;
}

}  // namespace

VisionEncoder VisionEncoder::load(const WeightLoader& w, const VisionConfig& c,
                                  WeightFormat format) {
  VisionEncoder m;
  m.config = c;
  const int64_t C = c.hidden_size, P = c.patch_size, N = c.num_positions();
  const WeightLoader emb = w.scope("embeddings");
  m.class_embedding = emb.get("class_embedding", {1, 1, C}).reshape({C});
  m.position_embedding = emb.get("position_embedding", {1, N, C}).reshape({N, C});
  m.patch_embedding.weight =
      emb.get("patch_embedding.weight", {C, 3, P, P}).reshape({C, 3 * P * P});
  m.patch_embedding.bias = emb.get("patch_embedding.bias", {C});
  const WeightLoader layers = w.scope("encoder.layers");
  for (int64_t i = 0; i < c.num_hidden_layers; ++i)
    m.layers.push_back(load_layer(layers.scope(std::to_string(i)), c, format));
  m.post_layernorm = LayerNorm::load(w, "post_layernorm", C, c.layer_norm_eps);
  return m;
}

Tensor vision_embeddings(ThreadPool& pool, const VisionEncoder& m, const Tensor& pixel_values) {
  const VisionConfig& c = m.config;
  const int64_t B = pixel_values.dim(0), S = c.image_size, P = c.patch_size, G = S / P;
  const int64_t C = c.hidden_size, N = c.num_positions(), K = 3 * P * P;
  BLIP2_CHECK(pixel_values.shape() == (Shape{B, 3, S, S}));
  // The stride-P convolution is a GEMM over unfolded patches: patch (gy, gx) becomes a row of
  // 3*P*P values ordered (channel, ky, kx) like the conv weight.
  Tensor patches = Tensor::empty(DType::kF32, {B, G * G, K});
  const float* px = pixel_values.data<float>();
  float* pt = patches.mutable_data<float>();
  pool.parallel_for(static_cast<size_t>(B * G), 1, [&](size_t begin, size_t end) {
    for (size_t bg = begin; bg < end; ++bg) {
      const int64_t b = static_cast<int64_t>(bg) / G, gy = static_cast<int64_t>(bg) % G;
      for (int64_t gx = 0; gx < G; ++gx) {
        float* row = pt + ((b * G + gy) * G + gx) * K;
        for (int64_t ch = 0; ch < 3; ++ch)
          for (int64_t ky = 0; ky < P; ++ky)
            std::memcpy(row + (ch * P + ky) * P, px + ((b * 3 + ch) * S + gy * P + ky) * S + gx * P,
                        P * sizeof(float));
      }
    }
  });
  Tensor x = Tensor::empty(DType::kF32, {B, N, C});
  float* xd = x.mutable_data<float>();
  for (int64_t b = 0; b < B; ++b) {
    float* xb = xd + b * N * C;
    std::memcpy(xb, m.class_embedding.data<float>(), C * sizeof(float));
    m.patch_embedding.forward(pool, pt + b * G * G * K, G * G, xb + C);
    add_inplace(pool, xb, m.position_embedding.data<float>(), N * C);
  }
  return x;
}

namespace {

// Scratch of one forward pass, sized for B images.
struct VisionScratch {
  Tensor h, qkv, ctx, mlp;
  VisionScratch(int64_t rows, int64_t C, int64_t F)
      : h(Tensor::empty(DType::kF32, {rows, C})),
        qkv(Tensor::empty(DType::kF32, {rows, 3 * C})),
        ctx(Tensor::empty(DType::kF32, {rows, C})),
        mlp(Tensor::empty(DType::kF32, {rows, F})) {}
};

void vision_layer(ThreadPool& pool, const VisionLayer& l, const VisionConfig& c, int64_t B,
                  int64_t N, float* x, VisionScratch& s) {
  const int64_t C = c.hidden_size, H = c.num_attention_heads, D = c.head_dim(), rows = B * N;
  float* h = s.h.mutable_data<float>();
  float* qkv = s.qkv.mutable_data<float>();
  float* ctx = s.ctx.mutable_data<float>();
  float* mlp = s.mlp.mutable_data<float>();

  l.layer_norm1.forward(pool, x, rows, h);
  l.qkv.forward(pool, h, rows, qkv);
  // qkv row layout: [3][H][D] (the reference reshapes to (B, N, 3, H, D)).
  cpu::AttentionParams a;
  a.batch = B;
  a.heads = H;
  a.q_len = a.kv_len = N;
  a.head_dim = D;
  a.q = qkv;
  a.k = qkv + C;
  a.v = qkv + 2 * C;
  a.q_batch_stride = a.k_batch_stride = a.v_batch_stride = N * 3 * C;
  a.q_row_stride = a.k_row_stride = a.v_row_stride = 3 * C;
  a.q_head_stride = a.k_head_stride = a.v_head_stride = D;
  a.out = ctx;
  a.out_batch_stride = N * C;
  a.out_row_stride = C;
  a.out_head_stride = D;
  a.scale = 1.0f / std::sqrt(static_cast<float>(D));
  cpu::attention(pool, a);
  l.projection.forward_accumulate(pool, ctx, rows, x);

  l.layer_norm2.forward(pool, x, rows, h);
  l.fc1.forward_activation(pool, h, rows, mlp, Activation::kGelu);
  l.fc2.forward_accumulate(pool, mlp, rows, x);
}

}  // namespace

VisionOutput vision_forward(ThreadPool& pool, const VisionEncoder& m, const Tensor& pixel_values) {
  const VisionConfig& c = m.config;
  const int64_t B = pixel_values.dim(0), N = c.num_positions(), C = c.hidden_size;
  Tensor x = vision_embeddings(pool, m, pixel_values);
  VisionScratch scratch(B * N, C, c.intermediate_size);
  for (const VisionLayer& l : m.layers)
    vision_layer(pool, l, c, B, N, x.mutable_data<float>(), scratch);
  VisionOutput out;
  m.post_layernorm.forward(pool, x.data<float>(), B * N, x.mutable_data<float>());
  out.last_hidden_state = x;
  // The reference applies post_layernorm a second time to the (already normalised) [CLS] row.
  out.pooler_output = Tensor::empty(DType::kF32, {B, C});
  for (int64_t b = 0; b < B; ++b)
    m.post_layernorm.forward(pool, x.data<float>() + b * N * C, 1,
                             out.pooler_output.mutable_data<float>() + b * C);
  return out;
}

}  // namespace blip2
