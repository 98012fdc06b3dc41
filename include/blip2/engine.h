// blip2::Engine: a loaded BLIP-2 checkpoint (see blip2/blip2.h for an example).
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "core/dtype.h"
#include "core/error.h"
#include "core/thread_pool.h"
#include "generate/options.h"
#include "image/decode.h"
#include "image/preprocess.h"
#include "io/config.h"

namespace blip2 {

class Blip2Model;
class Tokenizer;

class Checkpoint;

struct EngineOptions {
  size_t threads = 0;         // 0: one per physical core
  DecodeLimits image_limits;  // decompression-bomb limits for decode helpers
  // Compute format of the large weight matrices (converted at load when the checkpoint stores
  // another dtype). f32 reproduces the reference.
  WeightFormat weights = WeightFormat::kF32;
  // Weights from memory instead of the folder's safetensors files (benchmarks of random models);
  // the folder still provides config.json, the tokenizer and preprocessor_config.json.
  std::shared_ptr<const Checkpoint> checkpoint;
};

enum class Task { kCaption, kVqa };

class Engine {
 public:
  // `model` is a Hugging Face BLIP-2 folder or a hub repo id in the local Hugging Face cache.
  static std::shared_ptr<const Engine> load(const std::string& model,
                                            const EngineOptions& options = {});
  ~Engine();

  const std::string& model_dir() const { return model_dir_; }
  const Blip2Config& config() const { return config_; }
  const Blip2Model& model() const { return *model_; }
  const Tokenizer& tokenizer() const { return *tokenizer_; }
  const ImageProcessorConfig& image_processor() const { return image_processor_; }
  const GenerationDefaults& generation_defaults() const { return generation_defaults_; }
  const EngineOptions& options() const { return options_; }
  ThreadPool& pool() const { return *pool_; }
  double load_seconds() const { return load_seconds_; }

  // The options a task starts from: the fields generation_config.json sets, the paper's setting
  // for the rest (caption: beam 5, at most 30 new tokens, at least 1; VQA: beam 5, at most 10,
  // at least 1, length_penalty -1). See docs/generation.md.
  GenerationOptions default_options(Task task) const;
  // The paper's zero-shot VQA prompt: "Question: {} Answer:" (OPT), "Question: {} Short answer:" (T5).
  std::string vqa_prompt(std::string_view question) const;
  // The model input of one image: f32 [3, S, S] written to `out`.
  void preprocess(const RgbImage& image, float* out) const;
  int64_t image_size() const { return config_.vision.image_size; }
  // Prompt ids as the reference's processor makes them (OPT: BOS first; T5: EOS last).
  std::vector<int32_t> prompt_ids(std::string_view prompt) const;

 private:
  Engine() = default;
  std::string model_dir_;
  Blip2Config config_;
  std::unique_ptr<Blip2Model> model_;
  std::unique_ptr<Tokenizer> tokenizer_;
  ImageProcessorConfig image_processor_;
  GenerationDefaults generation_defaults_;
  EngineOptions options_;
  std::unique_ptr<ThreadPool> pool_;
  double load_seconds_ = 0;
};

}  // namespace blip2
