#include "generate/overrides.h"

#include "core/error.h"

namespace blip2 {

void GenerationOverrides::apply(GenerationOptions& o) const {
  if (max_new_tokens) o.max_new_tokens = *max_new_tokens;
  if (min_new_tokens) o.min_new_tokens = *min_new_tokens;
  if (num_beams) o.num_beams = *num_beams;
  if (num_return_sequences) o.num_return_sequences = *num_return_sequences;
  if (top_k) o.top_k = *top_k;
  if (no_repeat_ngram_size) o.no_repeat_ngram_size = *no_repeat_ngram_size;
  if (length_penalty) o.length_penalty = *length_penalty;
  if (temperature) o.temperature = *temperature;
  if (top_p) o.top_p = *top_p;
  if (repetition_penalty) o.repetition_penalty = *repetition_penalty;
  if (do_sample) {
    o.do_sample = *do_sample;
    // Asking for sampling without a beam width means plain sampling, not the task's default
    // beam search (beam-sample is not supported).
    if (*do_sample && !num_beams) o.num_beams = 1;
  }
  if (seed) o.seed = *seed;
  if (early_stopping) o.early_stopping = *early_stopping;
}

namespace {

template <typename T>
void read(const nlohmann::json& j, const char* key, std::optional<T>& out) {
  if (!j.contains(key) || j[key].is_null()) return;
  const nlohmann::json& v = j[key];
  if constexpr (std::is_same_v<T, bool>) {
    if (!v.is_boolean())
      fail(ErrorKind::kInvalidArgument, "\"", key, "\" must be true or false, not ", v.dump());
    out = v.get<bool>();
  } else if constexpr (std::is_integral_v<T>) {
    if (!v.is_number_integer() || (std::is_unsigned_v<T> && v.get<int64_t>() < 0))
      fail(ErrorKind::kInvalidArgument, "\"", key, "\" must be ",
           std::is_unsigned_v<T> ? "a non-negative integer" : "an integer", ", not ", v.dump());
    out = v.get<T>();
  } else {
    if (!v.is_number())
      fail(ErrorKind::kInvalidArgument, "\"", key, "\" must be a number, not ", v.dump());
    out = v.get<T>();
  }
}

}  // namespace

GenerationOverrides GenerationOverrides::from_json(const nlohmann::json& j) {
  GenerationOverrides o;
  if (!j.is_object()) fail(ErrorKind::kInvalidArgument, "generation options must be a JSON object");
  o.for_each([&](const char* name, const char*, auto& field) { read(j, name, field); });
  if (j.contains("early_stopping") && !j["early_stopping"].is_null()) {
    const auto& v = j["early_stopping"];
    if (v.is_boolean()) {
      o.early_stopping = v.get<bool>() ? EarlyStopping::kTrue : EarlyStopping::kHeuristic;
    } else if (v.is_string()) {
      o.early_stopping = parse_early_stopping(v.get<std::string>());
    } else {
      fail(ErrorKind::kInvalidArgument, "\"early_stopping\" must be true, false or \"never\", not ",
           v.dump());
    }
  }
  return o;
}

EarlyStopping parse_early_stopping(const std::string& s) {
  if (s == "true" || s == "1" || s == "yes") return EarlyStopping::kTrue;
  if (s == "false" || s == "0" || s == "no") return EarlyStopping::kHeuristic;
  if (s == "never") return EarlyStopping::kNever;
  fail(ErrorKind::kInvalidArgument, "early_stopping must be true, false or never, not \"", s, "\"");
}

std::string early_stopping_name(EarlyStopping e) {
  switch (e) {
    case EarlyStopping::kTrue:
      return "true";
    case EarlyStopping::kHeuristic:
      return "false";
    case EarlyStopping::kNever:
      return "never";
  }
  return "false";
}

}  // namespace blip2
