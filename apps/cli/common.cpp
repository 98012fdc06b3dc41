#include "common.h"

#include <algorithm>

namespace blip2::cli {

void add_model_flags(CLI::App* cmd, ModelArgs& args) {
  cmd->add_option(
         "-m,--model", args.model,
         "BLIP-2 model folder (Hugging Face layout) or a hub repo id in the local HF cache")
      ->required();
  cmd->add_option("--threads", args.threads, "Threads (default: one per physical core)")
      ->check(CLI::Range(0, 1024));
  cmd->add_option("--dtype", args.dtype,
                  "Compute format of the large weights, converted at load: f32 (the reference), "
                  "bf16, int8 (vision + language model) or q4 (language model). A folder written "
                  "by `blip2 quantize` is used as stored, whatever this says")
      ->check(CLI::IsMember({"f32", "bf16", "int8", "q4"}))
      ->capture_default_str();
}

std::shared_ptr<const Engine> load_engine(const ModelArgs& args) {
  EngineOptions options;
  options.threads = args.threads;
  if (const auto f = weight_format_from_string(args.dtype)) options.weights = *f;
  return Engine::load(args.model, options);
}

void add_generation_flags(CLI::App* cmd, GenerationOverrides& o) {
  o.for_each([cmd](const char* name, const char* help, auto& field) {
    std::string flag = "--" + std::string(name);
    std::replace(flag.begin(), flag.end(), '_', '-');
    using T = typename std::decay_t<decltype(field)>::value_type;
    if constexpr (std::is_same_v<T, bool>) {
      cmd->add_flag_callback(
          flag, [&field] { field = true; }, help);
    } else {
      cmd->add_option_function<T>(
          flag, [&field](const T& v) { field = v; }, help);
    }
  });
  cmd->add_option_function<std::string>(
         "--early-stopping",
         [&o](const std::string& v) { o.early_stopping = parse_early_stopping(v); },
         "Beam search stopping rule: true, false (heuristic) or never")
      ->check(CLI::IsMember({"true", "false", "never", "1", "0", "yes", "no"}));
}

std::string trim(std::string_view s) {
  const auto b = s.find_first_not_of(" \t\r\n");
  if (b == std::string_view::npos) return "";
  const auto e = s.find_last_not_of(" \t\r\n");
  return std::string(s.substr(b, e - b + 1));
}

nlohmann::ordered_json sequences_json(const CaptionResult& r) {
  nlohmann::ordered_json seqs = nlohmann::ordered_json::array();
  for (const Sequence& s : r.sequences)
    seqs.push_back({{"text", s.text}, {"token_ids", s.token_ids}, {"score", s.score}});
  return seqs;
}

}  // namespace blip2::cli
