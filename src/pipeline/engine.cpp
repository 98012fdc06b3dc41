#include <chrono>
#include <cstring>

#include "blip2/engine.h"
#include "io/checkpoint.h"
#include "io/model_path.h"
#include "models/blip2/blip2_model.h"
#include "tokenizer/tokenizer.h"

namespace blip2 {

Engine::~Engine() = default;

std::shared_ptr<const Engine> Engine::load(const std::string& model, const EngineOptions& options) {
  const auto t0 = std::chrono::steady_clock::now();
  std::shared_ptr<Engine> e(new Engine());
  e->options_ = options;
  e->model_dir_ = resolve_model_path(model);
  e->config_ = load_blip2_config(e->model_dir_);
  e->tokenizer_ = Tokenizer::load(e->model_dir_);
  e->image_processor_ =
      load_image_processor_config(e->model_dir_, static_cast<int>(e->config_.vision.image_size));
  if (!e->image_processor_.do_resize)
    fail(ErrorKind::kUnsupported, e->model_dir_,
         "/preprocessor_config.json has do_resize false, but the ", "vision encoder takes exactly ",
         e->config_.vision.image_size, "x", e->config_.vision.image_size,
         " images; set do_resize to true");
  if ((e->image_processor_.height != e->config_.vision.image_size ||
       e->image_processor_.width != e->config_.vision.image_size))
    fail(ErrorKind::kFormat, e->model_dir_, "/preprocessor_config.json resizes to ",
         e->image_processor_.height, "x", e->image_processor_.width,
         " but vision_config.image_size is ", e->config_.vision.image_size,
         "; the files of this checkpoint disagree");
  e->generation_defaults_ = load_generation_defaults(e->model_dir_);
  // The pool first: it converts the weights when a reduced-precision format is asked for.
  e->pool_ = std::make_unique<ThreadPool>(options.threads);
  e->model_ =
      Blip2Model::load(options.checkpoint ? options.checkpoint : Checkpoint::open(e->model_dir_),
                       e->config_, WeightPolicy::for_format(options.weights), e->pool_.get());
  // The tokenizer must not produce ids the model cannot embed.
  if (e->tokenizer_->size() > e->config_.lm_vocab_size())
    fail(ErrorKind::kFormat, e->model_dir_, ": the tokenizer has ", e->tokenizer_->size(),
         " tokens but the language model's vocabulary is ", e->config_.lm_vocab_size(),
         "; the tokenizer files do not belong to this checkpoint");
  e->load_seconds_ = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return e;
}

GenerationOptions Engine::default_options(Task task) const {
  GenerationOptions o;
  // The paper's settings (BLIP-2, section 4; LAVIS): captioning beam 5, 30 new tokens at most;
  // zero-shot VQA beam 5, 10 new tokens at most, length_penalty -1 (favours short answers).
  o.num_beams = 5;
  o.min_new_tokens = 1;
  o.max_new_tokens = task == Task::kCaption ? 30 : 10;
  o.length_penalty = task == Task::kCaption ? 1.0 : -1.0;
  const GenerationDefaults& g = generation_defaults_;
  if (g.max_new_tokens) o.max_new_tokens = *g.max_new_tokens;
  if (g.min_new_tokens) o.min_new_tokens = *g.min_new_tokens;
  if (g.num_beams) o.num_beams = *g.num_beams;
  if (g.num_return_sequences) o.num_return_sequences = *g.num_return_sequences;
  if (g.length_penalty) o.length_penalty = *g.length_penalty;
  if (g.early_stopping) o.early_stopping = *g.early_stopping;
  if (g.do_sample) o.do_sample = *g.do_sample;
  if (g.temperature) o.temperature = *g.temperature;
  if (g.top_k) o.top_k = *g.top_k;
  if (g.top_p) o.top_p = *g.top_p;
  if (g.repetition_penalty) o.repetition_penalty = *g.repetition_penalty;
  if (g.no_repeat_ngram_size) o.no_repeat_ngram_size = *g.no_repeat_ngram_size;
  return o;
}

std::string Engine::vqa_prompt(std::string_view question) const {
  const std::string q(question);
  return config_.lm_type == LanguageModelType::kT5 ? "Question: " + q + " Short answer:"
                                                   : "Question: " + q + " Answer:";
}

void Engine::preprocess(const RgbImage& image, float* out) const {
  preprocess_image(image, image_processor_, out);
}

std::vector<int32_t> Engine::prompt_ids(std::string_view prompt) const {
  return tokenizer_->encode(prompt, /*add_special_tokens=*/true);
}

}  // namespace blip2
