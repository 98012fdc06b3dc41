// A LanguageModelState for generation tests: each row's next-token logits are a pure function of
// that row's history (its item's prompt tokens followed by the tokens generated so far), so beam
// bookkeeping, sampling streams and batching can be checked exactly without a network.
#pragma once

#include <cmath>
#include <cstdint>
#include <functional>
#include <limits>
#include <map>
#include <span>
#include <stdexcept>
#include <vector>

#include "generate/language_model.h"

namespace blip2::test {

class FakeState : public LanguageModelState {
 public:
  // history = prompt tokens + generated tokens of one row; returns vocab logits.
  using LogitsFn = std::function<std::vector<float>(const std::vector<int32_t>& history)>;

  FakeState(int64_t vocab, LogitsFn fn) : vocab_(vocab), fn_(std::move(fn)) {}

  void start(std::span<const LmPrompt> prompts, int64_t rows_per_item, int64_t) override {
    hist_.clear();
    for (const LmPrompt& p : prompts)
      for (int64_t r = 0; r < rows_per_item; ++r) hist_.push_back(p.tokens);
    steps_ = 0;
    fed_.clear();
    compute();
  }
  void step(std::span<const int32_t> tokens) override {
    if (tokens.size() != hist_.size()) throw std::logic_error("step: wrong number of tokens");
    for (size_t r = 0; r < hist_.size(); ++r) hist_[r].push_back(tokens[r]);
    fed_.emplace_back(tokens.begin(), tokens.end());
    ++steps_;
    compute();
  }
  void reorder(std::span<const int32_t> src) override {
    std::vector<std::vector<int32_t>> h(hist_.size());
    for (size_t r = 0; r < hist_.size(); ++r) h[r] = hist_.at(src[r]);
    hist_ = std::move(h);
    compute();
  }
  int64_t rows() const override { return static_cast<int64_t>(hist_.size()); }
  int64_t vocab_size() const override { return vocab_; }
  const float* logits() const override { return logits_.data(); }

  int64_t steps() const { return steps_; }
  // The tokens passed to each step() call.
  const std::vector<std::vector<int32_t>>& fed() const { return fed_; }

 private:
  void compute() {
    logits_.assign(hist_.size() * vocab_, 0.0f);
    for (size_t r = 0; r < hist_.size(); ++r) {
      const std::vector<float> l = fn_(hist_[r]);
      if (static_cast<int64_t>(l.size()) != vocab_)
        throw std::logic_error("logits of the wrong size");
      std::copy(l.begin(), l.end(), logits_.begin() + r * vocab_);
    }
  }
  int64_t vocab_;
  LogitsFn fn_;
  std::vector<std::vector<int32_t>> hist_;
  std::vector<float> logits_;
  std::vector<std::vector<int32_t>> fed_;
  int64_t steps_ = 0;
};

// Logits whose log_softmax is log(p): log of each probability (0 -> -inf).
inline std::vector<float> log_probs(const std::vector<double>& p) {
  std::vector<float> l(p.size());
  for (size_t i = 0; i < p.size(); ++i)
    l[i] = p[i] > 0 ? static_cast<float>(std::log(p[i])) : -std::numeric_limits<float>::infinity();
  return l;
}

// Pseudo-random but deterministic logits in [-2, 2) for a history (splitmix64 of its ids):
// a model with non-degenerate logits whose output depends on the whole prompt.
inline std::vector<float> hashed_logits(const std::vector<int32_t>& history, int64_t vocab) {
  auto mix = [](uint64_t z) {
    z += 0x9e3779b97f4a7c15ull;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  };
  uint64_t h = 1469598103934665603ull;
  for (int32_t t : history) h = mix(h ^ static_cast<uint64_t>(t));
  std::vector<float> l(vocab);
  for (int64_t v = 0; v < vocab; ++v)
    l[v] = static_cast<float>(static_cast<double>(mix(h + v) >> 11) * 0x1.0p-53 * 4.0 - 2.0);
  return l;
}

inline LmPrompt prompt_of(std::vector<int32_t> tokens) {
  LmPrompt p;
  p.tokens = std::move(tokens);
  return p;
}

}  // namespace blip2::test
