#include "generate/logits_processors.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

#include "core/error.h"

namespace blip2 {

void GenerationOptions::validate() const {
  auto bad = [](auto&&... what) { fail(ErrorKind::kInvalidArgument, what...); };
  if (max_new_tokens < 1) bad("max_new_tokens must be at least 1, not ", max_new_tokens);
  if (max_new_tokens > 100000) bad("max_new_tokens ", max_new_tokens, " is too large");
  if (min_new_tokens < 0) bad("min_new_tokens must not be negative");
  if (num_beams < 1 || num_beams > 256) bad("num_beams must be between 1 and 256, not ", num_beams);
  if (num_return_sequences < 1 || num_return_sequences > 256)
    bad("num_return_sequences must be between 1 and 256, not ", num_return_sequences);
  if (!do_sample && num_return_sequences > num_beams)
    bad("num_return_sequences (", num_return_sequences, ") must not exceed num_beams (", num_beams,
        ") without sampling");
  if (do_sample && num_beams > 1)
    bad("sampling with num_beams > 1 (beam-sample) is not supported; use --num-beams 1 with "
        "--do-sample");
  if (!(temperature > 0.0) || !std::isfinite(temperature))
    bad("temperature must be > 0, not ", temperature);
  if (top_k < 0) bad("top_k must not be negative");
  if (!(top_p >= 0.0 && top_p <= 1.0)) bad("top_p must be in [0, 1], not ", top_p);
  if (!(repetition_penalty > 0.0) || !std::isfinite(repetition_penalty))
    bad("repetition_penalty must be > 0, not ", repetition_penalty);
  if (no_repeat_ngram_size < 0) bad("no_repeat_ngram_size must not be negative");
  if (!std::isfinite(length_penalty)) bad("length_penalty must be finite");
}

void banned_ngram_tokens(std::span<const int32_t> history, int64_t n, std::vector<int32_t>& out) {
  out.clear();
  const int64_t len = static_cast<int64_t>(history.size());
  // transformers: no bans until cur_len + 1 >= n; the current (n-1)-gram suffix is looked up
  // among all earlier n-grams.
  if (n <= 0 || len + 1 < n) return;
  const int64_t k = n - 1;  // prefix length
  std::span<const int32_t> suffix = history.subspan(len - k, k);
  for (int64_t start = 0; start + n <= len; ++start) {
    if (std::equal(suffix.begin(), suffix.end(), history.begin() + start))
      out.push_back(history[start + k]);
  }
}

void apply_logits_processors(const GenerationOptions& o, const GenerationTokens& t,
                             std::span<const int32_t> history, int64_t generated,
                             std::span<float> scores) {
  const int64_t V = static_cast<int64_t>(scores.size());
  constexpr float kNegInf = -std::numeric_limits<float>::infinity();
  if (o.repetition_penalty != 1.0) {
    // Every id in the history once: negative scores are multiplied, positive ones divided.
    const float p = static_cast<float>(o.repetition_penalty);
    for (size_t i = 0; i < history.size(); ++i) {
      const int32_t id = history[i];
      if (id < 0 || id >= V) continue;
      if (std::find(history.begin(), history.begin() + i, id) != history.begin() + i) continue;
      float& s = scores[id];
      s = s < 0 ? s * p : s / p;
    }
  }
  if (o.no_repeat_ngram_size > 0) {
    thread_local std::vector<int32_t> banned;  // reused per thread: no allocation per token
    banned_ngram_tokens(history, o.no_repeat_ngram_size, banned);
    for (int32_t id : banned)
      if (id >= 0 && id < V) scores[id] = kNegInf;
  }
  if (generated < o.min_new_tokens)
    for (int32_t eos : t.eos_token_ids)
      if (eos >= 0 && eos < V) scores[eos] = kNegInf;
}

void apply_sampling_warpers(const GenerationOptions& o, std::span<float> logits,
                            std::vector<int32_t>& scratch) {
  const int64_t V = static_cast<int64_t>(logits.size());
  constexpr float kNegInf = -std::numeric_limits<float>::infinity();
  if (o.temperature != 1.0) {
    // TemperatureLogitsWarper divides by the temperature (a float32 scalar). We shift by the
    // maximum first: softmax, top-k and top-p are unchanged by a shift, and a tiny temperature
    // can then not overflow the logits to +inf (the best token stays at 0: the greedy limit).
    // (A temperature below the smallest float is that smallest float: still the greedy limit.)
    const float temp =
        std::max(static_cast<float>(o.temperature), std::numeric_limits<float>::denorm_min());
    const float mx = *std::max_element(logits.begin(), logits.end());
    if (std::isfinite(mx))
      for (float& x : logits) x = (x - mx) / temp;
  }
  // TopKLogitsWarper: keep every token whose logit is >= the k-th largest (ties with it survive,
  // as `scores < topk(scores, k).values[-1]` removes only smaller ones). min_tokens_to_keep is 1
  // for sampling, so top_k >= 1 is used as given.
  if (o.top_k > 0 && o.top_k < V) {
    scratch.resize(V);
    std::iota(scratch.begin(), scratch.end(), 0);
    const auto kth = scratch.begin() + (o.top_k - 1);
    std::nth_element(scratch.begin(), kth, scratch.end(),
                     [&](int32_t a, int32_t b) { return logits[a] > logits[b]; });
    const float threshold = logits[*kth];
    for (float& x : logits)
      if (x < threshold) x = kNegInf;
  }
  // TopPLogitsWarper: sort ascending, remove the tokens whose cumulative probability (from the
  // least likely up) is <= 1 - top_p, always keep the most likely one. Tokens already filtered
  // have probability 0 and stay removed, so only the finite ones are sorted. Equal logits are
  // ordered by id, as a stable sort of the scores would order them.
  if (o.top_p < 1.0) {
    scratch.clear();
    for (int64_t v = 0; v < V; ++v)
      if (logits[v] > kNegInf) scratch.push_back(static_cast<int32_t>(v));
    if (scratch.size() <= 1) return;
    std::sort(scratch.begin(), scratch.end(), [&](int32_t a, int32_t b) {
      return logits[a] < logits[b] || (logits[a] == logits[b] && a < b);
    });
    const double mx = logits[scratch.back()];
    double total = 0.0;
    for (int32_t id : scratch) total += std::exp(static_cast<double>(logits[id]) - mx);
    // The reference compares a float32 tensor with the Python scalar 1 - top_p, which torch
    // casts to float32.
    const double threshold = static_cast<float>(1.0 - o.top_p);
    double cum = 0.0;
    for (size_t i = 0; i + 1 < scratch.size(); ++i) {
      cum += std::exp(static_cast<double>(logits[scratch[i]]) - mx) / total;
      if (!(cum <= threshold)) break;
      logits[scratch[i]] = kNegInf;
    }
  }
}

}  // namespace blip2
