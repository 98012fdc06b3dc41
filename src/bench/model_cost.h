// The work each stage of BLIP-2 does, counted from the config, so the benchmark can relate a
// stage's time to the machine's limits: floating-point operations (2 per multiply-add; matrix
// products and attention, not norms or activations) and the bytes of weights a decode step reads.
//
// Weight bytes in a reduced format are those of the formats' layouts (backend/cpu/matmul.h), for
// the parts WeightPolicy (nn/weight_format.h) puts in each format: an estimate of what the engine
// holds, not a measurement. f32 4 B per weight, bf16 2 B, int8 1 B + one f32 scale per output
// channel (row), q4 4 bits + one f16 scale per block of 32 (0.5625 B per weight). Norms, biases,
// embedding tables, the Q-Former and the projection stay f32.
#pragma once

#include <cstdint>

#include "core/dtype.h"
#include "io/config.h"

namespace blip2::bench {

// Bytes of a [rows, cols] weight matrix held in `format`.
double matrix_bytes(int64_t rows, int64_t cols, WeightFormat format);

// The vision encoder on `batch` images (patch embedding, 39 layers of attention + MLP).
double vision_flops(const Blip2Config& c, int64_t batch = 1);
// The Q-Former over the vision output plus the projection to the language model.
double qformer_flops(const Blip2Config& c, int64_t batch = 1);
// The language model's prefill for one item with `prompt_tokens` token ids after the queries:
// OPT: every layer over queries + prompt, logits of the last position; T5: the encoder, every
// decoder layer's cross-attention K/V, the first decoder step and its logits.
double prefill_flops(const Blip2Config& c, int64_t prompt_tokens);
// One decode step of one sequence (the weights dominate; context attention is left out).
double decode_flops(const Blip2Config& c);

// Bytes of weights one decode step reads: every weight the step multiplies by, in `format`,
// including the LM head (OPT: the tied embedding), excluding what is computed once per request
// (T5: the encoder and the cross-attention K/V projections).
double decode_weight_bytes(const Blip2Config& c, WeightFormat format);
// Bytes of all the model's weights held in `format`.
double model_weight_bytes(const Blip2Config& c, WeightFormat format);

}  // namespace blip2::bench
