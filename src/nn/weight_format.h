// Weights in a compute format (core/dtype.h WeightFormat): conversion from a checkpoint's float
// tensors, the formats stored by `blip2 quantize`, and which parts of BLIP-2 use which format.
//
// Stored form (what `blip2 quantize` writes and Linear::load reads without conversion), for a
// Linear weight "<name>.weight" of logical shape [out, in]:
//   bf16  <name>.weight BF16 [out, in]
//   int8  <name>.weight I8 [out, in]        + <name>.weight_scale F32 [out]
//   q4    <name>.weight U8 [out, in / 2]    + <name>.weight_scale F16 [out, in / 32]
// (backend/cpu/matmul.h gives the exact meaning of the values). Only standard safetensors dtypes
// are used, so any safetensors reader can list such a file.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "backend/cpu/matmul.h"
#include "core/dtype.h"
#include "core/tensor.h"
#include "core/thread_pool.h"

namespace blip2 {

class WeightLoader;

// Which format each part of the model computes with, for one --dtype choice. Embeddings, norms,
// biases, the Q-Former, the patch embedding and the language projection stay f32 always: they
// are small, or (embeddings) read a row at a time.
//   f32:  everything f32 (the reference's precision)
//   bf16: vision encoder layers and language model (its head included) in bf16
//   int8: vision encoder layers and language model (its head included) in int8
//   q4:   language model in q4, its head in int8 (the logits are the most sensitive product,
//         and the head is 5% of the model); the vision encoder stays f32
// A q4 layer whose input width is not a multiple of 32 falls back to int8.
struct WeightPolicy {
  WeightFormat vision = WeightFormat::kF32;
  WeightFormat language_model = WeightFormat::kF32;
  WeightFormat lm_head = WeightFormat::kF32;

  static WeightPolicy for_format(WeightFormat f);
  std::string describe() const;  // "vision bf16, language model bf16, lm head bf16"
};

// The kernels' view of a weight [out, in] held as `weight` / `scale` in `format` (stored form above).
cpu::WeightView weight_view(WeightFormat format, const Tensor& weight, const Tensor& scale);

// A weight [out, in] in one format. `weight` / `scale` as in the stored form above.
struct FormattedWeight {
  WeightFormat format = WeightFormat::kF32;
  Tensor weight;
  Tensor scale;  // int8: F32 [out]; q4: F16 [out, in / 32]; undefined otherwise

  cpu::WeightView view() const { return weight_view(format, weight, scale); }
  size_t bytes() const { return weight.nbytes() + (scale.defined() ? scale.nbytes() : 0); }
};

// Converts `w` (F32, F16 or BF16 [out, in]) to `format`, splitting rows over `pool` (may be null).
// q4 with `in` not a multiple of 32 gives int8 instead.
FormattedWeight convert_weight(ThreadPool* pool, const Tensor& w, WeightFormat format);

// The stored format of "<name>.weight" in the checkpoint, from its dtype and its
// "<name>.weight_scale": I8 + F32 scale -> int8, U8 + F16 scale -> q4, BF16 -> bf16, F32/F16 ->
// nullopt (a float weight, converted to whatever the policy asks). Throws Error(kFormat) for an
// inconsistent pair (e.g. I8 without a scale).
std::optional<WeightFormat> stored_weight_format(const WeightLoader& w, std::string_view name);

// Loads "<name>.weight" [out, in] in `format`: stored quantised weights are used as they are
// (zero-copy views of the mapping, whatever `format` says), float weights are converted. When a
// conversion read the checkpoint's mapped pages, they are released afterwards (the page cache
// keeps them; our resident set does not).
FormattedWeight load_weight(const WeightLoader& w, std::string_view name, int64_t out, int64_t in,
                            WeightFormat format);

}  // namespace blip2
