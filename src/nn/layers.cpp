#include "nn/layers.h"

#include "backend/cpu/kernels.h"

namespace blip2 {

Linear Linear::load(const WeightLoader& w, std::string_view name, int64_t in, int64_t out,
                    bool has_bias, WeightFormat format) {
  Linear l;
  const std::string n(name);
  FormattedWeight f = load_weight(w, n, out, in, format);
  l.format = f.format;
  l.weight = std::move(f.weight);
  l.weight_scale = std::move(f.scale);
  if (has_bias) l.bias = w.get(n + ".bias", {out});
  return l;
}

Linear Linear::from_weight(const WeightLoader& w, std::string_view name, const Tensor& weight,
                           WeightFormat format) {
  Linear l;
  FormattedWeight f = convert_weight(w.pool(), weight, format);
  l.format = f.format;
  l.weight = std::move(f.weight);
  l.weight_scale = std::move(f.scale);
  const std::string n(name);
  w.record_converted(n + ".weight", l.weight);
  w.record_converted(n + ".weight_scale", l.weight_scale);
  return l;
}

Linear Linear::load_head(const WeightLoader& w, std::string_view name, const Tensor& tied,
                         bool tie_word_embeddings, int64_t d, int64_t vocab, WeightFormat format) {
  const std::string weight = std::string(name) + ".weight";
  if (!tie_word_embeddings || (w.has(weight) && stored_weight_format(w, name)))
    return load(w, name, d, vocab, false, format);
  Linear head;
  if (format == WeightFormat::kF32) {
    head.weight = tied;
    return head;
  }
  head = from_weight(w, name, tied, format);
  w.release(tied);
  return head;
}

cpu::WeightView Linear::view() const {
  return weight_view(format, weight, weight_scale);
}

size_t Linear::weight_bytes() const {
  return weight.nbytes() + (weight_scale.defined() ? weight_scale.nbytes() : 0);
}

namespace {
cpu::Act to_act(Activation a) {
  switch (a) {
    case Activation::kGelu:
      return cpu::Act::kGelu;
    case Activation::kGeluTanh:
      return cpu::Act::kGeluTanh;
    case Activation::kRelu:
      return cpu::Act::kRelu;
  }
  return cpu::Act::kNone;
}
}  // namespace

void Linear::forward(ThreadPool& pool, const float* x, int64_t rows, float* y) const {
  forward(pool, x, in_features(), rows, y, out_features());
}

void Linear::forward(ThreadPool& pool, const float* x, int64_t ldx, int64_t rows, float* y,
                     int64_t ldy) const {
  cpu::MatmulEpilogue ep;
  ep.bias = bias.defined() ? bias.data<float>() : nullptr;
  cpu::matmul(pool, view(), rows, x, ldx, y, ldy, ep);
}

void Linear::forward_activation(ThreadPool& pool, const float* x, int64_t rows, float* y,
                                Activation act) const {
  cpu::MatmulEpilogue ep;
  ep.bias = bias.defined() ? bias.data<float>() : nullptr;
  ep.activation = to_act(act);
  cpu::matmul(pool, view(), rows, x, in_features(), y, out_features(), ep);
}

void Linear::forward_accumulate(ThreadPool& pool, const float* x, int64_t rows, float* y) const {
  cpu::MatmulEpilogue ep;
  ep.bias = bias.defined() ? bias.data<float>() : nullptr;
  ep.beta = 1.0f;
  cpu::matmul(pool, view(), rows, x, in_features(), y, out_features(), ep);
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
    case Activation::kGelu:
      cpu::gelu_erf(pool, x, n);
      return;
    case Activation::kGeluTanh:
      cpu::gelu_tanh(pool, x, n);
      return;
    case Activation::kRelu:
      cpu::relu(pool, x, n);
      return;
  }
}

void add_inplace(ThreadPool& pool, float* y, const float* x, int64_t n) {
  cpu::add(pool, y, x, y, n);
}

}  // namespace blip2
