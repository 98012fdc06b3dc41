// BLIP-2 for conditional generation: image encoder -> Q-Former -> projection -> language model.
// Reference: transformers Blip2ForConditionalGeneration (modeling_blip_2.py, v4.40.2).
// The language model is OPT (decoder-only) or T5 (encoder-decoder), chosen by
// text_config.model_type; both implement LanguageModel, so generation is shared.
#pragma once

#include <memory>
#include <string>

#include "generate/language_model.h"
#include "generate/options.h"
#include "io/checkpoint.h"
#include "io/config.h"
#include "models/qformer/qformer.h"
#include "models/vision/vision_encoder.h"
#include "nn/weight_format.h"

namespace blip2 {

// Everything the model computes for a batch of images before the language model.
struct ImageFeatures {
  Tensor vision_last_hidden_state;   // f32 [B, N, Cv]
  Tensor vision_pooler_output;       // f32 [B, Cv]
  Tensor qformer_last_hidden_state;  // f32 [B, Q, Cq]
  Tensor language_model_inputs;      // f32 [B, Q, D]
};

class Blip2Model {
 public:
  // Loads and shape-checks every weight the config implies; a checkpoint that disagrees with its
  // config is refused with the tensor's name. `policy` chooses the compute format of the large
  // weights (nn/weight_format.h; weights stored quantised are used as stored); `pool`, if given,
  // runs the conversions.
  static std::unique_ptr<Blip2Model> load(std::shared_ptr<const Checkpoint> checkpoint,
                                          const Blip2Config& config,
                                          const WeightPolicy& policy = {},
                                          ThreadPool* pool = nullptr);
  // The same from a configured loader (its pool, its conversion sink: `blip2 quantize`).
  static std::unique_ptr<Blip2Model> load(const WeightLoader& w, const Blip2Config& config,
                                          const WeightPolicy& policy);

  // pixel_values f32 [B, 3, S, S].
  ImageFeatures encode_images(ThreadPool& pool, const Tensor& pixel_values) const;

  // The language model's input for one image: its projected queries then the prompt ids
  // (OPT: the ids start with BOS; T5: they end with EOS, as the tokenizer produces them).
  LmPrompt lm_prompt(const Tensor& language_model_inputs, int64_t item,
                     std::vector<int32_t> ids) const;

  // Special tokens for generation, from text_config (what the reference's language model uses).
  GenerationTokens generation_tokens() const;

  // T5: the first decoder input (decoder_start_token_id, else pad_token_id).
  int64_t decoder_start_token_id() const;

  const Blip2Config& config() const { return config_; }
  const VisionEncoder& vision() const { return vision_; }
  const QFormer& qformer() const { return qformer_; }
  const LanguageModel& language_model() const { return *language_model_; }
  const WeightPolicy& weight_policy() const { return policy_; }

 private:
  Blip2Config config_;
  WeightPolicy policy_;
  VisionEncoder vision_;
  QFormer qformer_;
  std::unique_ptr<LanguageModel> language_model_;
};

}  // namespace blip2
