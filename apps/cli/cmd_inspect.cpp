// blip2 inspect MODEL_DIR [--json]: the architecture and the weights of a checkpoint, without
// running it.
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>

#include "commands.h"
#include "io/checkpoint.h"
#include "io/config.h"

namespace blip2::cli {

namespace {

struct InspectArgs {
  std::string model_dir;
  bool json = false;
};

int run_inspect(const InspectArgs& args) {
  const Blip2Config c = load_blip2_config(args.model_dir);
  const auto ckpt = Checkpoint::open(args.model_dir);
  std::map<std::string, int64_t> params_by_part, tensors_by_dtype;
  int64_t params = 0;
  for (const auto& name : ckpt->names()) {
    const TensorInfo* t = ckpt->find(name);
    const int64_t n = checked_numel(t->shape);
    params += n;
    std::string part = name.substr(0, name.find('.'));
    params_by_part[part] += n;
    tensors_by_dtype[std::string(dtype_name(t->dtype))]++;
  }
  nlohmann::ordered_json j;
  j["model_dir"] = args.model_dir;
  j["vision"] = {{"hidden_size", c.vision.hidden_size},
                 {"intermediate_size", c.vision.intermediate_size},
                 {"num_hidden_layers", c.vision.num_hidden_layers},
                 {"num_attention_heads", c.vision.num_attention_heads},
                 {"image_size", c.vision.image_size},
                 {"patch_size", c.vision.patch_size},
                 {"num_positions", c.vision.num_positions()}};
  j["qformer"] = {{"hidden_size", c.qformer.hidden_size},
                  {"intermediate_size", c.qformer.intermediate_size},
                  {"num_hidden_layers", c.qformer.num_hidden_layers},
                  {"num_attention_heads", c.qformer.num_attention_heads},
                  {"cross_attention_frequency", c.qformer.cross_attention_frequency},
                  {"encoder_hidden_size", c.qformer.encoder_hidden_size}};
  j["num_query_tokens"] = c.num_query_tokens;
  j["language_model"] = std::string(c.lm_type_name());
  if (c.lm_type == LanguageModelType::kOpt) {
    j["text"] = {{"hidden_size", c.opt.hidden_size},
                 {"ffn_dim", c.opt.ffn_dim},
                 {"num_hidden_layers", c.opt.num_hidden_layers},
                 {"num_attention_heads", c.opt.num_attention_heads},
                 {"vocab_size", c.opt.vocab_size},
                 {"max_position_embeddings", c.opt.max_position_embeddings}};
  } else {
    j["text"] = {{"d_model", c.t5.d_model},
                 {"d_kv", c.t5.d_kv},
                 {"d_ff", c.t5.d_ff},
                 {"num_layers", c.t5.num_layers},
                 {"num_decoder_layers", c.t5.num_decoder_layers},
                 {"num_heads", c.t5.num_heads},
                 {"vocab_size", c.t5.vocab_size},
                 {"dense_act_fn", c.t5.dense_act_fn},
                 {"is_gated_act", c.t5.is_gated_act}};
  }
  j["parameters"] = params;
  j["parameters_by_part"] = params_by_part;
  j["tensors"] = static_cast<int64_t>(ckpt->names().size());
  j["tensors_by_dtype"] = tensors_by_dtype;
  j["weight_bytes"] = ckpt->total_bytes();
  j["files"] = static_cast<int64_t>(ckpt->files().size());
  if (args.json) {
    std::cout << j.dump() << "\n";
    return 0;
  }
  auto dims = [](const nlohmann::ordered_json& o) {
    std::string s;
    for (auto it = o.begin(); it != o.end(); ++it)
      s += (s.empty() ? "" : ", ") + it.key() + " " + it.value().dump();
    return s;
  };
  std::cout << "model:       " << args.model_dir << "\n"
            << "vision:      " << dims(j["vision"]) << "\n"
            << "q-former:    " << dims(j["qformer"]) << "\n"
            << "queries:     " << c.num_query_tokens << "\n"
            << "language:    " << c.lm_type_name() << " (" << dims(j["text"]) << ")\n"
            << "parameters:  " << params << " (";
  bool first = true;
  for (const auto& [part, n] : params_by_part) {
    std::cout << (first ? "" : ", ") << part << " " << n;
    first = false;
  }
  std::cout << ")\n"
            << "tensors:     " << ckpt->names().size() << " in " << ckpt->files().size()
            << " file(s), " << ckpt->total_bytes() << " bytes (";
  first = true;
  for (const auto& [dt, n] : tensors_by_dtype) {
    std::cout << (first ? "" : ", ") << dt << " " << n;
    first = false;
  }
  std::cout << ")\n";
  return 0;
}

}  // namespace

void register_inspect_command(CLI::App& app, Action& action) {
  auto args = std::make_shared<InspectArgs>();
  CLI::App* cmd = app.add_subcommand("inspect", "Print a checkpoint's architecture and weights");
  cmd->add_option("model_dir", args->model_dir, "Hugging Face BLIP-2 model folder")->required();
  cmd->add_flag("--json", args->json, "Print one JSON object");
  cmd->callback([&action, args] { action = [args] { return run_inspect(*args); }; });
}

}  // namespace blip2::cli
