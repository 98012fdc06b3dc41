// Generation options with transformers' generate() names and semantics (v4.40.2). Defaults here
// are transformers' own; the engine layers the checkpoint's generation_config.json and the
// paper's task settings on top (see docs/generation.md).
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <vector>

#include "io/config.h"

namespace blip2 {

struct GenerationOptions {
  int64_t max_new_tokens = 20;
  int64_t min_new_tokens = 0;  // EOS is suppressed until this many tokens were generated
  int64_t num_beams = 1;
  int64_t num_return_sequences = 1;
  double length_penalty = 1.0;  // beam score = sum logprob / generated_len ^ length_penalty
  EarlyStopping early_stopping = EarlyStopping::kHeuristic;
  bool do_sample = false;
  double temperature = 1.0;
  int64_t top_k = 50;            // 0 disables
  double top_p = 1.0;            // 1 disables
  std::optional<uint64_t> seed;  // sampling RNG seed (random when absent)
  double repetition_penalty = 1.0;
  int64_t no_repeat_ngram_size = 0;

  // Throws Error(kInvalidArgument) naming the option when a value is out of range.
  void validate() const;
};

// Tokens the language model needs to know about (from text_config / generation_config.json).
struct GenerationTokens {
  std::vector<int32_t> eos_token_ids;  // generation stops after any of them
  int32_t pad_token_id = 0;            // fills finished rows
  // Tokens the reference keeps in `input_ids` before the first generated token (they count for
  // repetition_penalty and no_repeat_ngram_size): none for OPT (it generates from inputs_embeds),
  // the decoder start token for T5.
  std::vector<int32_t> history_prefix;
};

struct GeneratedSequence {
  std::vector<int32_t> tokens;  // generated ids, EOS included when produced
  double score = 0.0;           // beam: normalised log-probability; greedy/sample: sum log-prob
  bool ended_with_eos = false;
};

// Called once per generated token of each batch item (greedy and sampling, single sequence per
// item). Return false to stop generating for that item.
using TokenCallback = std::function<bool(int64_t item, int32_t token)>;

}  // namespace blip2
