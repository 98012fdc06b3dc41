#include <algorithm>
#include <chrono>
#include <cstring>

#include "blip2/session.h"
#include "generate/generate.h"
#include "models/blip2/blip2_model.h"
#include "models/t5/t5_model.h"
#include "tokenizer/streaming_detokenizer.h"
#include "tokenizer/tokenizer.h"

namespace blip2 {

namespace {

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// Measures prefill and decode time of the state it wraps.
class TimedState : public LanguageModelState {
 public:
  TimedState(LanguageModelState& inner, StageTimings& t) : inner_(inner), t_(t) {}
  void start(std::span<const LmPrompt> prompts, int64_t rows_per_item, int64_t max_new) override {
    const auto t0 = std::chrono::steady_clock::now();
    inner_.start(prompts, rows_per_item, max_new);
    t_.prefill_s += seconds_since(t0);
  }
  void step(std::span<const int32_t> tokens) override {
    const auto t0 = std::chrono::steady_clock::now();
    inner_.step(tokens);
    t_.decode_s += seconds_since(t0);
    ++t_.decode_steps;
  }
  void reorder(std::span<const int32_t> src) override {
    const auto t0 = std::chrono::steady_clock::now();
    inner_.reorder(src);
    t_.decode_s += seconds_since(t0);
  }
  int64_t rows() const override { return inner_.rows(); }
  int64_t vocab_size() const override { return inner_.vocab_size(); }
  const float* logits() const override { return inner_.logits(); }

 private:
  LanguageModelState& inner_;
  StageTimings& t_;
};

}  // namespace

Session::Session(std::shared_ptr<const Engine> engine) : engine_(std::move(engine)) {
  if (!engine_) fail(ErrorKind::kInvalidArgument, "Session needs a loaded Engine");
}
Session::~Session() = default;
Session::Session(Session&&) noexcept = default;
Session& Session::operator=(Session&&) noexcept = default;

std::vector<CaptionResult> Session::generate(std::span<const CaptionRequest> requests,
                                             const GenerationOptions& options,
                                             const TextCallback& on_text) {
  options.validate();
  timings_ = {};
  if (requests.empty()) return {};
  const Engine& e = *engine_;
  const Blip2Model& model = e.model();
  ThreadPool& pool = e.pool();
  const int64_t B = static_cast<int64_t>(requests.size()), S = e.image_size();

  auto t0 = std::chrono::steady_clock::now();
  // Requests that share an image (several questions about one picture, as in a VQA set) encode
  // it once: image_of[b] is request b's row among the distinct images.
  std::vector<const RgbImage*> distinct;
  std::vector<int64_t> image_of(B);
  for (int64_t b = 0; b < B; ++b) {
    if (!requests[b].image) fail(ErrorKind::kInvalidArgument, "request ", b, " has no image");
    const auto it = std::find(distinct.begin(), distinct.end(), requests[b].image);
    image_of[b] = it - distinct.begin();
    if (it == distinct.end()) distinct.push_back(requests[b].image);
  }
  const int64_t U = static_cast<int64_t>(distinct.size());
  Tensor pixels = Tensor::empty(DType::kF32, {U, 3, S, S});
  for (int64_t u = 0; u < U; ++u)
    e.preprocess(*distinct[u], pixels.mutable_data<float>() + u * 3 * S * S);
  std::vector<std::vector<int32_t>> ids(B);
  for (int64_t b = 0; b < B; ++b) ids[b] = e.prompt_ids(requests[b].prompt);
  timings_.preprocess_s = seconds_since(t0);

  t0 = std::chrono::steady_clock::now();
  const VisionOutput vision = vision_forward(pool, model.vision(), pixels);
  timings_.vision_s = seconds_since(t0);
  t0 = std::chrono::steady_clock::now();
  const Tensor queries = qformer_forward(pool, model.qformer(), vision.last_hidden_state);
  const Tensor lm_inputs = project_to_language_model(pool, model.qformer(), queries);
  timings_.qformer_s = seconds_since(t0);

  std::vector<LmPrompt> prompts;
  for (int64_t b = 0; b < B; ++b)
    prompts.push_back(model.lm_prompt(lm_inputs, image_of[b], std::move(ids[b])));
  if (!state_) state_ = model.language_model().new_state(pool);
  TimedState timed(*state_, timings_);

  const Tokenizer& tok = e.tokenizer();
  std::vector<StreamingDetokenizer> streams;
  TokenCallback on_token;
  if (on_text) {
    for (int64_t b = 0; b < B; ++b) streams.emplace_back(tok);
    on_token = [&](int64_t item, int32_t id) {
      const std::string piece = streams[item].put(id);
      return piece.empty() ? true : on_text(item, piece);
    };
  }
  const auto sequences =
      blip2::generate(timed, prompts, options, model.generation_tokens(), on_token);
  if (on_text)
    for (int64_t b = 0; b < B; ++b)
      if (const std::string rest = streams[b].flush(); !rest.empty()) on_text(b, rest);

  std::vector<CaptionResult> results(B);
  for (int64_t b = 0; b < B; ++b) {
    CaptionResult& r = results[b];
    r.prompt = requests[b].prompt;
    for (const GeneratedSequence& g : sequences[b]) {
      Sequence s;
      s.token_ids = g.tokens;
      s.text = tok.decode(g.tokens, /*skip_special_tokens=*/true);
      s.score = g.score;
      s.ended_with_eos = g.ended_with_eos;
      r.sequences.push_back(std::move(s));
    }
    r.text = r.sequences.at(0).text;
    r.token_ids = r.sequences.at(0).token_ids;
  }
  return results;
}

CaptionResult Session::caption(const RgbImage& image, std::string_view prompt,
                               const GenerationOptions& options) {
  const CaptionRequest req{&image, std::string(prompt)};
  return std::move(generate({&req, 1}, options).at(0));
}

CaptionResult Session::ask(const RgbImage& image, std::string_view question,
                           const GenerationOptions& options) {
  return caption(image, engine_->vqa_prompt(question), options);
}

std::vector<std::pair<std::string, Tensor>> Session::features(
    const RgbImage& image, const std::optional<std::string>& prompt) {
  const Engine& e = *engine_;
  const Blip2Model& model = e.model();
  ThreadPool& pool = e.pool();
  const int64_t S = e.image_size();
  Tensor pixels = Tensor::empty(DType::kF32, {1, 3, S, S});
  e.preprocess(image, pixels.mutable_data<float>());
  const ImageFeatures f = model.encode_images(pool, pixels);
  std::vector<std::pair<std::string, Tensor>> out = {
      {"pixel_values", pixels},
      {"vision_last_hidden_state", f.vision_last_hidden_state},
      {"vision_pooler_output", f.vision_pooler_output},
      {"qformer_last_hidden_state", f.qformer_last_hidden_state},
      {"language_model_inputs", f.language_model_inputs},
  };
  if (!prompt) return out;
  std::vector<int32_t> ids = e.prompt_ids(*prompt);
  auto as_tensor = [](std::span<const int32_t> v) {
    Tensor t = Tensor::empty(DType::kI64, {1, static_cast<int64_t>(v.size())});
    for (size_t i = 0; i < v.size(); ++i) t.mutable_data<int64_t>()[i] = v[i];
    return t;
  };
  out.emplace_back("input_ids", as_tensor(ids));
  const LmPrompt lm = model.lm_prompt(f.language_model_inputs, 0, ids);
  std::vector<int32_t> decoder_inputs;
  if (const auto* t5 = dynamic_cast<const T5Model*>(&model.language_model())) {
    const Tensor enc = t5->encode(pool, lm);
    out.emplace_back("encoder_last_hidden_state", enc.reshape({1, enc.dim(0), enc.dim(1)}));
    // As the fixtures define it: the decoder logits for the greedy answer's tokens
    // (decoder start + every generated token but the last).
    GenerationOptions greedy;
    greedy.max_new_tokens = 20;
    if (!state_) state_ = model.language_model().new_state(pool);
    const GenerationTokens tokens = model.generation_tokens();
    const auto seq = blip2::generate(*state_, {&lm, 1}, greedy, tokens);
    decoder_inputs = tokens.history_prefix;
    decoder_inputs.insert(decoder_inputs.end(), seq[0][0].tokens.begin(),
                          seq[0][0].tokens.end() - 1);
    out.emplace_back("decoder_input_ids", as_tensor(decoder_inputs));
  }
  Tensor logits = model.language_model().forward_logits(pool, lm, decoder_inputs);
  out.emplace_back("logits", logits.reshape({1, logits.dim(0), logits.dim(1)}));
  return out;
}

}  // namespace blip2
