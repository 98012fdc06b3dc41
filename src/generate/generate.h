// Greedy search, beam search and sampling over a LanguageModelState, with the semantics of
// transformers' generate() (v4.40.2): the same logits processors, BeamSearchScorer's hypothesis
// bookkeeping, length penalty and early-stopping rules, and per-row EOS / padding handling.
#pragma once

#include <span>
#include <vector>

#include "generate/language_model.h"
#include "generate/options.h"

namespace blip2 {

// Generates for every prompt (one batch item each). Returns, per item, num_return_sequences
// sequences, best first. `on_token` (optional) streams tokens of single-sequence greedy/sampling
// runs and can stop an item early.
std::vector<std::vector<GeneratedSequence>> generate(LanguageModelState& state,
                                                     std::span<const LmPrompt> prompts,
                                                     const GenerationOptions& options,
                                                     const GenerationTokens& tokens,
                                                     const TokenCallback& on_token = {});

}  // namespace blip2
