#include "nn/layers.h"

#include "backend/cpu/kernels.h"

namespace blip2 {

Linear Linear::load(const WeightLoader& w, std::string_view name, int64_t in, int64_t out,
                    bool has_bias) {
  Linear l;
  const std::string n(name);
  l.weight = w.get(n + ".weight", {out, in});
  if (has_bias) l.bias = w.get(n + ".bias", {out});
  return l;
}

void Linear::forward(ThreadPool& pool, const float* x, int64_t rows, float* y) const {
  forward(pool, x, in_features(), rows, y, out_features());
}

void Linear::forward(ThreadPool& pool, const float* x, int64_t ldx, int64_t rows, float* y,
                     int64_t ldy) const {
  const int64_t in = in_features(), out = out_features();
  BLIP2_CHECK(weight.dtype() == DType::kF32, "Linear weights are f32 here");
  cpu::gemm_nt(pool, rows, out, in, x, ldx, weight.data<float>(), in, y, ldy);
  if (bias.defined()) {
    if (ldy == out) {
      cpu::add_bias(pool, y, bias.data<float>(), rows, out);
    } else {
      for (int64_t r = 0; r < rows; ++r) cpu::add_bias(pool, y + r * ldy, bias.data<float>(), 1, out);
    }
  }
}

Tensor Linear::forward(ThreadPool& pool, const Tensor& x) const {
  BLIP2_CHECK(x.is_contiguous() && x.dtype() == DType::kF32 && x.dim(-1) == in_features());
  Shape shape = x.shape();
  shape.back() = out_features();
  Tensor y = Tensor::empty(DType::kF32, shape);
  forward(pool, x.data<float>(), x.numel() / in_features(), y.mutable_data<float>());
  return y;
}

LayerNorm LayerNorm::load(const WeightLoader& w, std::string_view name, int64_t dim, double eps) {
  LayerNorm l;
  const std::string n(name);
  l.weight = w.get(n + ".weight", {dim});
  l.bias = w.get(n + ".bias", {dim});
  l.eps = static_cast<float>(eps);
  return l;
}

void LayerNorm::forward(ThreadPool& pool, const float* x, int64_t rows, float* y) const {
  cpu::layer_norm(pool, x, weight.data<float>(), bias.data<float>(), y, rows, dim(), eps);
}

RmsNorm RmsNorm::load(const WeightLoader& w, std::string_view name, int64_t dim, double eps) {
  RmsNorm l;
  l.weight = w.get(std::string(name) + ".weight", {dim});
  l.eps = static_cast<float>(eps);
  return l;
}

void RmsNorm::forward(ThreadPool& pool, const float* x, int64_t rows, float* y) const {
  cpu::rms_norm(pool, x, weight.data<float>(), y, rows, dim(), eps);
}

Activation activation_from_name(const std::string& name) {
  if (name == "gelu") return Activation::kGelu;
  if (name == "gelu_new" || name == "gelu_pytorch_tanh" || name == "gelu_fast")
    return Activation::kGeluTanh;
  if (name == "relu") return Activation::kRelu;
  fail(ErrorKind::kUnsupported, "activation \"", name, "\" is not supported");
}

void apply_activation(ThreadPool& pool, Activation act, float* x, int64_t n) {
  switch (act) {
    case Activation::kGelu: cpu::gelu_erf(pool, x, n); return;
    case Activation::kGeluTanh: cpu::gelu_tanh(pool, x, n); return;
    case Activation::kRelu: cpu::relu(pool, x, n); return;
  }
}

void add_inplace(ThreadPool& pool, float* y, const float* x, int64_t n) { cpu::add(pool, y, x, y, n); }

}  // namespace blip2
