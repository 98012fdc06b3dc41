// Every user-settable generation option, listed once. The CLI makes kebab-case flags of the names
// (--max-new-tokens), the JSON request reader takes them in snake_case (max_new_tokens), and both
// show the same help; an option left unset keeps the task's default.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "generate/options.h"

namespace blip2 {

struct GenerationOverrides {
  std::optional<int64_t> max_new_tokens, min_new_tokens, num_beams, num_return_sequences, top_k,
      no_repeat_ngram_size;
  std::optional<double> length_penalty, temperature, top_p, repetition_penalty;
  std::optional<bool> do_sample;
  std::optional<uint64_t> seed;
  std::optional<EarlyStopping> early_stopping;

  // visit(snake_case_name, help, std::optional<T>& field) for each option but early_stopping,
  // whose values (true/false/never) need their own parsing: see parse_early_stopping().
  template <typename Visitor>
  void for_each(Visitor&& visit) {
    visit("max_new_tokens", "Maximum number of tokens to generate", max_new_tokens);
    visit("min_new_tokens", "Minimum number of tokens to generate (EOS is suppressed before)",
          min_new_tokens);
    visit("num_beams", "Beam width (1 = greedy or sampling)", num_beams);
    visit("num_return_sequences", "Sequences to return per image (beam or sampling)",
          num_return_sequences);
    visit("length_penalty",
          "Beam score = sum log-prob / length^length_penalty (negative favours short outputs)",
          length_penalty);
    visit("do_sample", "Sample instead of greedy/beam search", do_sample);
    visit("temperature", "Sampling temperature", temperature);
    visit("top_k", "Sample among the k most likely tokens (0 = all)", top_k);
    visit("top_p", "Sample among the most likely tokens holding this probability mass", top_p);
    visit("seed", "Seed of the sampler's random generator (reproducible runs)", seed);
    visit("repetition_penalty",
          "Divide the scores of already generated tokens by this (> 1 discourages repeats)",
          repetition_penalty);
    visit("no_repeat_ngram_size", "Never repeat an n-gram of this size", no_repeat_ngram_size);
  }

  void apply(GenerationOptions& o) const;
  // Reads the snake_case keys of a JSON object (unknown keys are ignored by this reader; the
  // caller decides which other keys it accepts). Throws Error(kInvalidArgument) naming a key
  // whose value has the wrong type.
  static GenerationOverrides from_json(const nlohmann::json& j);
};

// "true" | "false" | "never" (also 1/0, yes/no).
EarlyStopping parse_early_stopping(const std::string& s);
std::string early_stopping_name(EarlyStopping e);

}  // namespace blip2
