#include "models/blip2/blip2_model.h"

#include "models/opt/opt_decoder.h"
#include "models/t5/t5_model.h"

namespace blip2 {

std::unique_ptr<Blip2Model> Blip2Model::load(std::shared_ptr<const Checkpoint> checkpoint,
                                             const Blip2Config& config, const WeightPolicy& policy,
                                             ThreadPool* pool) {
  WeightLoader w(std::move(checkpoint));
  w.set_pool(pool);
  return load(w, config, policy);
}

std::unique_ptr<Blip2Model> Blip2Model::load(const WeightLoader& w, const Blip2Config& config,
                                             const WeightPolicy& policy) {
  auto m = std::make_unique<Blip2Model>();
  m->config_ = config;
  m->policy_ = policy;
  m->vision_ = VisionEncoder::load(w.scope("vision_model"), config.vision, policy.vision);
  m->qformer_ = QFormer::load(w, config);
  const WeightLoader lm = w.scope("language_model");
  if (config.lm_type == LanguageModelType::kOpt) {
    m->language_model_ = OptModel::load(lm, config.opt, policy);
  } else {
    // T5 starts decoding from decoder_start_token_id (the pad token when the config has none).
    m->language_model_ = T5Model::load(lm, config.t5, m->decoder_start_token_id(), policy);
  }
  return m;
}

int64_t Blip2Model::decoder_start_token_id() const {
  return config_.special.decoder_start_token_id.value_or(config_.special.pad_token_id.value_or(0));
}

ImageFeatures Blip2Model::encode_images(ThreadPool& pool, const Tensor& pixel_values) const {
  ImageFeatures f;
  VisionOutput v = vision_forward(pool, vision_, pixel_values);
  f.vision_last_hidden_state = v.last_hidden_state;
  f.vision_pooler_output = v.pooler_output;
  f.qformer_last_hidden_state = qformer_forward(pool, qformer_, v.last_hidden_state);
  f.language_model_inputs = project_to_language_model(pool, qformer_, f.qformer_last_hidden_state);
  return f;
}

LmPrompt Blip2Model::lm_prompt(const Tensor& language_model_inputs, int64_t item,
                               std::vector<int32_t> ids) const {
  LmPrompt p;
  const int64_t Q = language_model_inputs.dim(1), D = language_model_inputs.dim(2);
  p.prefix_embeds = language_model_inputs.data<float>() + item * Q * D;
  p.prefix_len = Q;
  p.tokens = std::move(ids);
  return p;
}

GenerationTokens Blip2Model::generation_tokens() const {
  GenerationTokens t;
  for (int64_t e : config_.special.eos_token_id) t.eos_token_ids.push_back(static_cast<int32_t>(e));
  t.pad_token_id = static_cast<int32_t>(config_.special.pad_token_id.value_or(0));
  if (config_.lm_type == LanguageModelType::kT5)
    t.history_prefix = {static_cast<int32_t>(decoder_start_token_id())};
  return t;
}

}  // namespace blip2
