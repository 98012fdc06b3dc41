#include "generate/generate.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <random>
#include <tuple>
#include <utility>

#include "backend/cpu/kernels.h"
#include "core/error.h"
#include "generate/logits_processors.h"

namespace blip2 {

namespace {

bool is_eos(const GenerationTokens& t, int32_t id) {
  return std::find(t.eos_token_ids.begin(), t.eos_token_ids.end(), id) != t.eos_token_ids.end();
}

// Per-row token history as the reference's input_ids hold it.
struct Histories {
  std::vector<std::vector<int32_t>> rows;
  Histories(int64_t n, const GenerationTokens& t, int64_t max_new) : rows(n, t.history_prefix) {
    for (auto& r : rows) r.reserve(t.history_prefix.size() + max_new);
  }
};

// ------------------------------------------------------------------ greedy and sampling

// One random stream per sampled row. The stream depends on the request's seed and on the row's
// sample index within its item (0 .. num_return_sequences-1), never on the item's place in the
// batch, so an image gets the same samples alone or batched with others. std::seed_seq and
// mt19937_64 are fully specified by the standard, and the uniform draw below is ours (not
// std::uniform_real_distribution, whose algorithm the standard leaves open), so a seed gives the
// same tokens with every standard library.
class RowRng {
 public:
  RowRng(uint64_t base_seed, uint64_t sample_index) {
    std::seed_seq seq{static_cast<uint32_t>(base_seed), static_cast<uint32_t>(base_seed >> 32),
                      static_cast<uint32_t>(sample_index),
                      static_cast<uint32_t>(sample_index >> 32)};
    gen_.seed(seq);
  }
  // Uniform in [0, 1) with 53 random bits.
  double uniform() { return static_cast<double>(gen_() >> 11) * 0x1.0p-53; }

 private:
  std::mt19937_64 gen_;
};

uint64_t random_seed() {
  std::random_device rd;
  return (static_cast<uint64_t>(rd()) << 32) ^ rd();
}

// Draws a token from softmax(scores) (already processed and warped; filtered entries are -inf)
// by inverse CDF in index order. Returns the token and its log-probability.
std::pair<int32_t, double> sample_token(std::span<const float> scores, RowRng& rng) {
  const int64_t V = static_cast<int64_t>(scores.size());
  const auto max_it = std::max_element(scores.begin(), scores.end());
  const float mx = *max_it;
  const int32_t argmax = static_cast<int32_t>(max_it - scores.begin());
  // Every token filtered out (-inf; transformers would fail in multinomial) or a model that
  // produced +inf: take the first best token rather than sample from nothing.
  if (!std::isfinite(mx)) return {argmax, 0.0};
  double total = 0.0;
  for (int64_t v = 0; v < V; ++v) total += std::exp(static_cast<double>(scores[v]) - mx);
  const double target = rng.uniform() * total;
  double cum = 0.0;
  int32_t tok = argmax;  // if rounding leaves target above the summed mass
  for (int64_t v = 0; v < V; ++v) {
    const double p = std::exp(static_cast<double>(scores[v]) - mx);
    if (p == 0.0) continue;
    cum += p;
    if (target < cum) {
      tok = static_cast<int32_t>(v);
      break;
    }
  }
  return {tok, static_cast<double>(scores[tok]) - mx - std::log(total)};
}

std::vector<std::vector<GeneratedSequence>> greedy_or_sample(LanguageModelState& state,
                                                             std::span<const LmPrompt> prompts,
                                                             const GenerationOptions& o,
                                                             const GenerationTokens& t,
                                                             const TokenCallback& on_token) {
  const int64_t items = static_cast<int64_t>(prompts.size());
  const int64_t per_item = o.do_sample ? o.num_return_sequences : 1;
  const int64_t rows = items * per_item;
  state.start(prompts, per_item, o.max_new_tokens);
  const int64_t V = state.vocab_size();
  Histories hist(rows, t, o.max_new_tokens);
  std::vector<GeneratedSequence> seqs(rows);
  std::vector<bool> done(rows, false);
  std::vector<int32_t> next(rows);
  std::vector<float> scores(V);
  std::vector<float> logprobs(V);
  std::vector<int32_t> scratch;
  std::vector<RowRng> rngs;
  if (o.do_sample) {
    rngs.reserve(rows);
    for (int64_t i = 0; i < items; ++i) {
      // Without a seed every item gets its own random stream.
      const uint64_t base = o.seed ? *o.seed : random_seed();
      for (int64_t j = 0; j < per_item; ++j) rngs.emplace_back(base, static_cast<uint64_t>(j));
    }
  }

  for (int64_t step = 0; step < o.max_new_tokens; ++step) {
    const float* logits = state.logits();
    for (int64_t r = 0; r < rows; ++r) {
      if (done[r]) {
        next[r] = t.pad_token_id;
        continue;
      }
      std::copy(logits + r * V, logits + (r + 1) * V, scores.begin());
      apply_logits_processors(o, t, hist.rows[r], step, scores);
      int32_t tok = 0;
      double logprob = 0.0;
      if (o.do_sample) {
        apply_sampling_warpers(o, scores, scratch);
        std::tie(tok, logprob) = sample_token(scores, rngs[r]);
      } else {
        // argmax, first index on ties (torch.argmax)
        tok = static_cast<int32_t>(std::max_element(scores.begin(), scores.end()) - scores.begin());
        cpu::log_softmax_row(scores.data(), logprobs.data(), V);
        logprob = logprobs[tok];
      }
      next[r] = tok;
      seqs[r].tokens.push_back(tok);
      seqs[r].score += logprob;
      hist.rows[r].push_back(tok);
      if (is_eos(t, tok)) {
        seqs[r].ended_with_eos = true;
        done[r] = true;
      }
      if (on_token && per_item == 1 && !on_token(r, tok)) done[r] = true;
    }
    if (std::all_of(done.begin(), done.end(), [](bool d) { return d; })) break;
    if (step + 1 < o.max_new_tokens) state.step(next);
  }
  std::vector<std::vector<GeneratedSequence>> out(items);
  for (int64_t r = 0; r < rows; ++r) out[r / per_item].push_back(std::move(seqs[r]));
  return out;
}

// ------------------------------------------------------------------ beam search

// transformers' BeamHypotheses: the num_beams best finished hypotheses of one batch item.
class BeamHypotheses {
 public:
  BeamHypotheses(int64_t num_beams, double length_penalty, EarlyStopping early_stopping,
                 int64_t max_length)
      : num_beams_(num_beams),
        length_penalty_(length_penalty),
        early_stopping_(early_stopping),
        max_length_(max_length) {}

  size_t size() const { return beams_.size(); }

  void add(std::vector<int32_t> tokens, double sum_logprobs, int64_t generated_len, bool eos) {
    const double score =
        sum_logprobs / std::pow(static_cast<double>(generated_len), length_penalty_);
    if (static_cast<int64_t>(beams_.size()) < num_beams_ || score > worst_score_) {
      beams_.push_back({std::move(tokens), score, eos});
      if (static_cast<int64_t>(beams_.size()) > num_beams_) {
        // Drop the worst (the first of the lowest scores, as Python's sorted() on (score, idx)).
        size_t worst = 0;
        for (size_t i = 1; i < beams_.size(); ++i)
          if (beams_[i].score < beams_[worst].score) worst = i;
        beams_.erase(beams_.begin() + static_cast<std::ptrdiff_t>(worst));
        worst_score_ = beams_[0].score;
        for (const auto& b : beams_) worst_score_ = std::min(worst_score_, b.score);
      } else {
        worst_score_ = std::min(score, worst_score_);
      }
    }
  }

  // best_sum_logprobs: the best running candidate's score; cur_len: generated tokens after this
  // step.
  bool is_done(double best_sum_logprobs, int64_t cur_len) const {
    if (static_cast<int64_t>(beams_.size()) < num_beams_) return false;
    switch (early_stopping_) {
      case EarlyStopping::kTrue:
        return true;
      case EarlyStopping::kHeuristic:
        return worst_score_ >=
               best_sum_logprobs / std::pow(static_cast<double>(cur_len), length_penalty_);
      case EarlyStopping::kNever: {
        const int64_t len = length_penalty_ > 0.0 ? max_length_ : cur_len;
        return worst_score_ >=
               best_sum_logprobs / std::pow(static_cast<double>(len), length_penalty_);
      }
    }
    return false;
  }

  // Best first. The reference sorts ascending (stable) and pops from the end, so of equal
  // scores the hypothesis added last comes first.
  std::vector<GeneratedSequence> best(int64_t n) const {
    std::vector<GeneratedSequence> all;
    for (auto it = beams_.rbegin(); it != beams_.rend(); ++it)
      all.push_back({it->tokens, it->score, it->eos});
    std::stable_sort(
        all.begin(), all.end(),
        [](const GeneratedSequence& a, const GeneratedSequence& b) { return a.score > b.score; });
    if (static_cast<int64_t>(all.size()) > n) all.resize(n);
    return all;
  }

 private:
  struct Hyp {
    std::vector<int32_t> tokens;
    double score;
    bool eos;
  };
  int64_t num_beams_;
  double length_penalty_;
  EarlyStopping early_stopping_;
  int64_t max_length_;
  std::vector<Hyp> beams_;
  double worst_score_ = 1e9;
};

std::vector<std::vector<GeneratedSequence>> beam_search(LanguageModelState& state,
                                                        std::span<const LmPrompt> prompts,
                                                        const GenerationOptions& o,
                                                        const GenerationTokens& t) {
  const int64_t items = static_cast<int64_t>(prompts.size());
  const int64_t K = o.num_beams, rows = items * K;
  state.start(prompts, K, o.max_new_tokens);
  const int64_t V = state.vocab_size();

  // Running scores are float32 sums, as the reference's beam_scores tensor: candidate order and
  // near-ties then come out as they do there. Hypothesis scores are doubles (Python floats).
  std::vector<float> beam_scores(rows, 0.0f);
  for (int64_t i = 0; i < items; ++i)
    for (int64_t b = 1; b < K; ++b) beam_scores[i * K + b] = -1e9f;  // only beam 0 at first
  Histories hist(rows, t, o.max_new_tokens);
  std::vector<std::vector<int32_t>> generated(rows);
  std::vector<BeamHypotheses> hyps;
  for (int64_t i = 0; i < items; ++i)
    hyps.emplace_back(K, o.length_penalty, o.early_stopping, o.max_new_tokens);
  std::vector<bool> done(items, false);

  const int64_t keep =
      std::min(K * V, std::max<int64_t>(2, 1 + static_cast<int64_t>(t.eos_token_ids.size())) * K);
  std::vector<float> logprobs(V);
  struct Cand {
    float score;
    int64_t index;  // beam * V + token
  };
  std::vector<Cand> cands(K * V);
  std::vector<int32_t> next_tokens(rows), src(rows);
  std::vector<float> next_scores(rows);
  std::vector<std::vector<int32_t>> new_hist(rows), new_gen(rows);

  int64_t cur_len = 0;  // tokens generated so far
  for (; cur_len < o.max_new_tokens;) {
    const float* logits = state.logits();
    for (int64_t i = 0; i < items; ++i) {
      if (done[i]) {
        for (int64_t b = 0; b < K; ++b) {
          next_tokens[i * K + b] = t.pad_token_id;
          next_scores[i * K + b] = 0.0f;
          src[i * K + b] = static_cast<int32_t>(i * K + b);
        }
        continue;
      }
      // Candidates: running score + log_softmax (then processors) over every token of every beam.
      for (int64_t b = 0; b < K; ++b) {
        const int64_t r = i * K + b;
        cpu::log_softmax_row(logits + r * V, logprobs.data(), V);
        apply_logits_processors(o, t, hist.rows[r], cur_len, logprobs);
        for (int64_t v = 0; v < V; ++v)
          cands[b * V + v] = {logprobs[v] + beam_scores[r], b * V + v};
      }
      // torch.topk(sorted=True): the `keep` largest, descending; equal scores by lower index.
      auto better = [](const Cand& a, const Cand& b) {
        return a.score > b.score || (a.score == b.score && a.index < b.index);
      };
      std::partial_sort(cands.begin(), cands.begin() + keep, cands.end(), better);

      int64_t beam = 0;
      const int64_t gen_len = cur_len + 1;  // generated tokens including this step's
      for (int64_t rank = 0; rank < keep && beam < K; ++rank) {
        const int64_t b = cands[rank].index / V;
        const int32_t tok = static_cast<int32_t>(cands[rank].index % V);
        const int64_t r = i * K + b;
        if (is_eos(t, tok)) {
          if (rank >= K) continue;  // an EOS outside the top num_beams is not a hypothesis
          std::vector<int32_t> seq = generated[r];
          seq.push_back(tok);
          hyps[i].add(std::move(seq), cands[rank].score, gen_len, true);
        } else {
          const int64_t dst = i * K + beam;
          next_tokens[dst] = tok;
          next_scores[dst] = cands[rank].score;
          src[dst] = static_cast<int32_t>(r);
          ++beam;
        }
      }
      if (beam < K)  // only when the vocabulary has fewer than 2 tokens per beam
        fail(ErrorKind::kInvalidArgument, "num_beams ", K, " is too large for a vocabulary of ", V,
             " tokens; use fewer beams");
      // The reference checks completion against the best candidate of this step.
      done[i] = done[i] || hyps[i].is_done(cands[0].score, gen_len);
    }
    // Apply the step: reorder rows to their source beams, append tokens.
    for (int64_t r = 0; r < rows; ++r) {
      new_hist[r] = hist.rows[src[r]];
      new_hist[r].push_back(next_tokens[r]);
      new_gen[r] = generated[src[r]];
      new_gen[r].push_back(next_tokens[r]);
    }
    hist.rows.swap(new_hist);
    generated.swap(new_gen);
    beam_scores = next_scores;
    ++cur_len;
    if (std::all_of(done.begin(), done.end(), [](bool d) { return d; })) break;
    if (cur_len < o.max_new_tokens) {
      state.reorder(src);
      state.step(next_tokens);
    }
  }
  // Finalize: running beams of unfinished items become hypotheses too.
  std::vector<std::vector<GeneratedSequence>> out(items);
  for (int64_t i = 0; i < items; ++i) {
    if (!done[i])
      for (int64_t b = 0; b < K; ++b) {
        const int64_t r = i * K + b;
        hyps[i].add(generated[r], beam_scores[r], static_cast<int64_t>(generated[r].size()), false);
      }
    out[i] = hyps[i].best(o.num_return_sequences);
  }
  return out;
}

}  // namespace

std::vector<std::vector<GeneratedSequence>> generate(LanguageModelState& state,
                                                     std::span<const LmPrompt> prompts,
                                                     const GenerationOptions& options,
                                                     const GenerationTokens& tokens,
                                                     const TokenCallback& on_token) {
  options.validate();
  if (prompts.empty()) return {};
  if (options.num_beams > 1) return beam_search(state, prompts, options, tokens);
  return greedy_or_sample(state, prompts, options, tokens, on_token);
}

}  // namespace blip2
