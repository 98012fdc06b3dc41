// Building blocks shared by the models: Linear, LayerNorm, RMSNorm and activations. Each holds its
// weights (loaded by the checkpoint's names) and runs on the CPU kernels; model code never calls a
// SIMD or BLAS routine itself.
#pragma once

#include <string>
#include <string_view>

#include "backend/cpu/matmul.h"
#include "core/tensor.h"
#include "core/thread_pool.h"
#include "io/checkpoint.h"
#include "nn/weight_format.h"

namespace blip2 {

enum class Activation { kGelu, kGeluTanh, kRelu };

// torch.nn.Linear: y = x W^T + b, W [out, in]. The weight is held in one of the weight formats
// (nn/weight_format.h); the bias is always f32.
struct Linear {
  WeightFormat format = WeightFormat::kF32;
  Tensor weight;        // f32 / bf16 / I8 [out, in], or U8 [out, in / 2] for q4
  Tensor weight_scale;  // int8: f32 [out]; q4: f16 [out, in / 32]
  Tensor bias;          // [out], undefined when the layer has none

  int64_t in_features() const {
    return format == WeightFormat::kQ4 ? 2 * weight.dim(1) : weight.dim(1);
  }
  int64_t out_features() const { return weight.dim(0); }
  cpu::WeightView view() const;
  size_t weight_bytes() const;  // weight + scales, as held

  // Loads "<name>.weight" (and "<name>.bias" when has_bias) in `format` (see load_weight: a
  // quantised weight stored by `blip2 quantize` is used as stored).
  static Linear load(const WeightLoader& w, std::string_view name, int64_t in, int64_t out,
                     bool has_bias = true, WeightFormat format = WeightFormat::kF32);
  // A Linear over an f32 / f16 / bf16 weight [out, in] already loaded (e.g. an LM head tied to
  // the embeddings), converted to `format` (no bias) with w's pool, and recorded as "<name>.*"
  // (WeightLoader::record_converted).
  static Linear from_weight(const WeightLoader& w, std::string_view name, const Tensor& weight,
                            WeightFormat format);
  // A language-model head "<name>" [vocab, d] (no bias). Untied: its own weight. Tied: the
  // embedding table `tied` itself in f32, or a copy in `format` (decoding reads all of it every
  // step; the table's pages are released, the lookups bring back the rows they use) - unless a
  // quantised folder (`blip2 quantize`) stored that copy as "<name>.*", which is then used.
  static Linear load_head(const WeightLoader& w, std::string_view name, const Tensor& tied,
                          bool tie_word_embeddings, int64_t d, int64_t vocab, WeightFormat format);

  // y[rows, out] = x[rows, in] W^T + b (rows contiguous).
  void forward(ThreadPool& pool, const float* x, int64_t rows, float* y) const;
  // Same with explicit row strides (elements) for x and y.
  void forward(ThreadPool& pool, const float* x, int64_t ldx, int64_t rows, float* y,
               int64_t ldy) const;
  // Fused forms: y = act(x W^T + b), and y += x W^T + b (a residual added in place).
  void forward_activation(ThreadPool& pool, const float* x, int64_t rows, float* y,
                          Activation act) const;
  void forward_accumulate(ThreadPool& pool, const float* x, int64_t rows, float* y) const;
  // x f32 [..., in] -> f32 [..., out]
  Tensor forward(ThreadPool& pool, const Tensor& x) const;
};

// torch.nn.LayerNorm over the last dimension.
struct LayerNorm {
  Tensor weight, bias;  // [dim]
  float eps = 1e-5f;

  static LayerNorm load(const WeightLoader& w, std::string_view name, int64_t dim, double eps);
  void forward(ThreadPool& pool, const float* x, int64_t rows, float* y) const;  // x may equal y
  int64_t dim() const { return weight.dim(0); }
};

// T5LayerNorm (RMS norm, no mean, no bias).
struct RmsNorm {
  Tensor weight;  // [dim]
  float eps = 1e-6f;

  static RmsNorm load(const WeightLoader& w, std::string_view name, int64_t dim, double eps);
  void forward(ThreadPool& pool, const float* x, int64_t rows, float* y) const;
  int64_t dim() const { return weight.dim(0); }
};

// "gelu" -> exact erf GELU; "gelu_new" / "gelu_pytorch_tanh" -> tanh form; "relu".
Activation activation_from_name(const std::string& name);
void apply_activation(ThreadPool& pool, Activation act, float* x, int64_t n);

// y = a + b over n floats (y may alias a or b).
void add_inplace(ThreadPool& pool, float* y, const float* x, int64_t n);

}  // namespace blip2
