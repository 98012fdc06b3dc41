// Flags and helpers shared by the subcommands that load a model.
#pragma once

#include <CLI/CLI.hpp>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "blip2/blip2.h"
#include "generate/overrides.h"

namespace blip2::cli {

struct ModelArgs {
  std::string model;
  size_t threads = 0;
  std::string dtype = "f32";  // EngineOptions::weights
};

// -m/--model (required), --threads and --dtype.
void add_model_flags(CLI::App* cmd, ModelArgs& args);
std::shared_ptr<const Engine> load_engine(const ModelArgs& args);

// One flag per generation option (--max-new-tokens, ..., --early-stopping).
void add_generation_flags(CLI::App* cmd, GenerationOverrides& overrides);

// Strips leading/trailing whitespace (the human-readable output; JSON keeps the exact text).
std::string trim(std::string_view s);

// {"text", "token_ids", "score"} of each sequence.
nlohmann::ordered_json sequences_json(const CaptionResult& r);  // [{"text", "token_ids", "score"}]

}  // namespace blip2::cli
