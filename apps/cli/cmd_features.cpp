// blip2 features -m MODEL IMAGE -o OUT.safetensors [--prompt TEXT]: every intermediate tensor.
#include <iostream>

#include "commands.h"
#include "common.h"
#include "io/safetensors.h"

namespace blip2::cli {

namespace {

struct FeaturesArgs {
  ModelArgs model;
  std::string image, output;
  std::optional<std::string> prompt;
  bool json = false;
};

int run_features(const FeaturesArgs& args) {
  auto engine = load_engine(args.model);
  const RgbImage image = decode_image_file(args.image, engine->options().image_limits);
  Session session(engine);
  const auto tensors = session.features(image, args.prompt);
  std::vector<std::pair<std::string, Tensor>> f32;
  for (const auto& [name, t] : tensors)
    f32.emplace_back(name, is_float_dtype(t.dtype()) ? t.to(DType::kF32) : t);
  write_safetensors(args.output, f32, {{"format", "pt"}, {"image", args.image}});
  if (args.json) {
    nlohmann::ordered_json j;
    j["output"] = args.output;
    for (const auto& [name, t] : tensors)
      j["tensors"][name] = {{"dtype", dtype_name(t.dtype())}, {"shape", t.shape()}};
    std::cout << j.dump() << "\n";
  } else {
    for (const auto& [name, t] : tensors) std::cout << name << "  " << t.describe() << "\n";
    std::cout << "wrote " << args.output << "\n";
  }
  return 0;
}

}  // namespace

void register_features_command(CLI::App& app, Action& action) {
  auto a = std::make_shared<FeaturesArgs>();
  CLI::App* cmd = app.add_subcommand(
      "features", "Write the image's intermediate tensors to a safetensors file");
  add_model_flags(cmd, a->model);
  cmd->add_option("image", a->image, "Image file")->required();
  cmd->add_option("-o,--output", a->output, "Output .safetensors file")->required();
  cmd->add_option("--prompt", a->prompt,
                  "Also run the language model over this prompt (adds input_ids, logits)");
  cmd->add_flag("--json", a->json, "Print the written tensors as JSON");
  cmd->callback([&action, a] { action = [a] { return run_features(*a); }; });
}

}  // namespace blip2::cli
