// Logits processors and warpers with transformers' semantics, applied in transformers' order:
// repetition_penalty, no_repeat_ngram_size, min_new_tokens (processors); then for sampling
// temperature, top_k, top_p (warpers).
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "generate/options.h"

namespace blip2 {

// Processes one row's scores in place. `history` = the row's token ids as the reference's
// input_ids hold them (GenerationTokens::history_prefix + generated tokens); `generated` = the
// number of tokens generated so far.
void apply_logits_processors(const GenerationOptions& o, const GenerationTokens& t,
                             std::span<const int32_t> history, int64_t generated,
                             std::span<float> scores);

// Temperature, top-k and top-p on one row of logits in place (filtered entries become -inf).
// With a temperature the logits are also shifted by their maximum (softmax is unchanged; a tiny
// temperature cannot overflow). `scratch` avoids allocation per token. min_tokens_to_keep is
// transformers' for sampling (1).
void apply_sampling_warpers(const GenerationOptions& o, std::span<float> logits,
                            std::vector<int32_t>& scratch);

// The tokens that would complete an n-gram already present in `history` (no_repeat_ngram_size).
void banned_ngram_tokens(std::span<const int32_t> history, int64_t n, std::vector<int32_t>& out);

}  // namespace blip2
