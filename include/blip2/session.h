// blip2::Session: one caller's requests against a shared Engine (see blip2/blip2.h).
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "blip2/engine.h"
#include "core/tensor.h"
#include "image/rgb_image.h"

namespace blip2 {

class LanguageModelState;

struct CaptionRequest {
  const RgbImage* image = nullptr;
  std::string prompt;  // the full prompt text ("" for plain captioning)
};

struct Sequence {
  std::string text;                // decoded, special tokens skipped
  std::vector<int32_t> token_ids;  // generated ids, EOS included when produced
  double score = 0;                // beam: normalised log-probability; else sum of log-probs
  bool ended_with_eos = false;
};

struct CaptionResult {
  std::string prompt;
  std::string text;                 // = sequences[0].text
  std::vector<int32_t> token_ids;   // = sequences[0].token_ids
  std::vector<Sequence> sequences;  // num_return_sequences, best first
};

// Wall-clock seconds of the stages of the last generate() call.
struct StageTimings {
  double preprocess_s = 0, vision_s = 0, qformer_s = 0, prefill_s = 0, decode_s = 0;
  int64_t decode_steps = 0;
};

// Called with each item's newly decoded text as tokens are generated (greedy and sampling with a
// single sequence). Pieces never split a UTF-8 character. Return false to stop that item.
using TextCallback = std::function<bool(int64_t item, std::string_view text)>;

class Session {
 public:
  explicit Session(std::shared_ptr<const Engine> engine);
  ~Session();
  Session(Session&&) noexcept;
  Session& operator=(Session&&) noexcept;

  // Captions or answers a batch of requests in one pass (results equal one-at-a-time runs).
  std::vector<CaptionResult> generate(std::span<const CaptionRequest> requests,
                                      const GenerationOptions& options,
                                      const TextCallback& on_text = {});
  CaptionResult caption(const RgbImage& image, std::string_view prompt,
                        const GenerationOptions& options);
  // Wraps the question in the model's VQA template.
  CaptionResult ask(const RgbImage& image, std::string_view question,
                    const GenerationOptions& options);

  // Every intermediate tensor for one image (batch dimension 1), named like the reference's:
  // pixel_values, vision_last_hidden_state, vision_pooler_output, qformer_last_hidden_state,
  // language_model_inputs, and with a prompt: input_ids and logits (OPT: over queries + prompt;
  // T5: encoder_last_hidden_state, decoder_input_ids of the greedy answer and its decoder logits).
  std::vector<std::pair<std::string, Tensor>> features(const RgbImage& image,
                                                       const std::optional<std::string>& prompt);

  const StageTimings& timings() const { return timings_; }
  const Engine& engine() const { return *engine_; }

 private:
  std::shared_ptr<const Engine> engine_;
  std::unique_ptr<LanguageModelState> state_;
  StageTimings timings_;
};

}  // namespace blip2
