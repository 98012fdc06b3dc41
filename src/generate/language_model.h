// The small interface generation runs on, implemented by the OPT decoder and the T5
// encoder-decoder. A LanguageModel holds immutable weights; a LanguageModelState holds one
// request's caches and scratch, sized once and reused across requests.
//
//   state->start(prompts, /*rows_per_item=*/num_beams, max_new_tokens);  // prefill -> logits
//   loop: pick tokens from state->logits(); state->reorder(beam_sources); state->step(tokens);
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "core/tensor.h"
#include "core/thread_pool.h"

namespace blip2 {

// One batch item's language-model input: soft-prompt embeddings (the projected Q-Former queries)
// followed by prompt token ids. OPT: ids start with BOS; T5: ids end with EOS (as the tokenizer
// produces them).
struct LmPrompt {
  const float* prefix_embeds = nullptr;  // f32 [prefix_len, hidden]
  int64_t prefix_len = 0;
  std::vector<int32_t> tokens;
};

class LanguageModelState {
 public:
  virtual ~LanguageModelState() = default;

  // Runs the prompts (one per batch item) and sets up rows_per_item decoding rows per item (row r
  // belongs to item r / rows_per_item), all starting from their item's prompt. Afterwards
  // logits() holds each row's next-token logits. Capacity for max_new_tokens steps is reserved
  // (no allocation while decoding).
  virtual void start(std::span<const LmPrompt> prompts, int64_t rows_per_item,
                     int64_t max_new_tokens) = 0;
  // Appends one token per row and computes the next logits.
  virtual void step(std::span<const int32_t> tokens) = 0;
  // Row r of the state becomes what row src[r] was (beam search). Rows keep their item.
  virtual void reorder(std::span<const int32_t> src) = 0;

  virtual int64_t rows() const = 0;
  virtual int64_t vocab_size() const = 0;
  // f32 [rows, vocab] for the latest position of each row.
  virtual const float* logits() const = 0;
};

class LanguageModel {
 public:
  virtual ~LanguageModel() = default;
  virtual int64_t vocab_size() const = 0;
  virtual int64_t hidden_size() const = 0;
  // Largest prompt (prefix + tokens) plus new tokens the model can position.
  virtual int64_t max_positions() const = 0;
  virtual std::unique_ptr<LanguageModelState> new_state(ThreadPool& pool) const = 0;
  // A single forward without cache for inspection and parity tests: logits f32 [T, V] of every
  // position (OPT: over prefix + tokens; T5: decoder logits for `decoder_tokens`).
  virtual Tensor forward_logits(ThreadPool& pool, const LmPrompt& prompt,
                                std::span<const int32_t> decoder_tokens) const = 0;
};

}  // namespace blip2
