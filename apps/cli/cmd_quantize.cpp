// blip2 quantize -m DIR -o OUT --dtype int8|q4|bf16 [--threads N] [--shard-size GB]: writes a
// copy of a BLIP-2 folder whose large weights are stored in a reduced-precision format, so that
// it loads by memory mapping, without conversion and without --dtype.
//
// The weights are converted by loading the model with that format's policy (nn/weight_format.h),
// exactly as `--dtype` would at load time, and recording what the conversions produced. The
// output is safetensors with standard dtypes only (I8, U8, F16, F32, BF16), so any safetensors
// reader can list it: "<name>.weight" holds the quantised values and "<name>.weight_scale" the
// scales; a tied language-model head gets its own "language_model.lm_head.*" tensors. The other
// tensors are copied as stored. config.json gains a "quantization" entry describing the format,
// the safetensors __metadata__ carries the same, and every other file of the folder is copied.
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>

#include "backend/cpu/matmul.h"
#include "commands.h"
#include "core/mapped_file.h"
#include "io/checkpoint.h"
#include "io/config.h"
#include "io/model_path.h"
#include "io/safetensors.h"
#include "models/blip2/blip2_model.h"
#include "nn/weight_format.h"
#include "progress.h"

namespace blip2::cli {

namespace {

namespace fs = std::filesystem;
using json = nlohmann::ordered_json;

struct QuantizeArgs {
  std::string model, out, dtype;
  size_t threads = 0;
  double shard_gb = 4.0;
};

bool is_weight_file(const fs::path& p) {
  const std::string name = p.filename().string();
  const std::string ext = p.extension().string();
  return name == "model.safetensors.index.json" || name == "pytorch_model.bin.index.json" ||
         ext == ".safetensors" || ext == ".bin" || ext == ".pt" || ext == ".pth";
}

json quantization_entry(WeightFormat format, const WeightPolicy& policy) {
  json q;
  q["quant_method"] = "blip2cpp";
  q["format"] = std::string(weight_format_name(format));
  q["parts"] = {{"vision_model", std::string(weight_format_name(policy.vision))},
                {"language_model", std::string(weight_format_name(policy.language_model))},
                {"language_model.lm_head", std::string(weight_format_name(policy.lm_head))}};
  q["tensors"] = {
      {"bf16", "<name>.weight BF16 [out, in]"},
      {"int8",
       "<name>.weight I8 [out, in] (values in [-127, 127]) * <name>.weight_scale F32 [out]"},
      {"q4",
       "<name>.weight U8 [out, in/2]: blocks of 32 weights, byte j of a block holds weight j (low "
       "nibble) and j+16 (high nibble) as q in [0, 15]; weight = (q - 8) * <name>.weight_scale F16 "
       "[out, in/32]"}};
  q["note"] = "float weights not listed under parts (embeddings, norms, Q-Former) are unchanged";
  return q;
}

int run_quantize(const QuantizeArgs& a) {
  const auto format = weight_format_from_string(a.dtype);
  if (!format || *format == WeightFormat::kF32)
    fail(ErrorKind::kInvalidArgument, "--dtype ", a.dtype,
         " is not a reduced-precision format; use int8, q4 or bf16");
  const std::string dir = resolve_model_path(a.model);
  const fs::path out(a.out);
  if (fs::exists(out) && (!fs::is_directory(out) || !fs::is_empty(out)))
    fail(ErrorKind::kInvalidArgument, "output folder ", a.out,
         " already exists and is not empty; choose a new folder");
  if (fs::exists(out) && fs::equivalent(out, fs::path(dir)))
    fail(ErrorKind::kInvalidArgument, "the output folder is the model folder; choose a new folder");
  json config;
  try {
    config = json::parse(read_text_file((fs::path(dir) / "config.json").string()));
  } catch (const json::exception& e) {
    fail(ErrorKind::kFormat, dir, "/config.json: not valid JSON (", e.what(), ")");
  }
  if (config.contains("quantization"))
    fail(ErrorKind::kInvalidArgument, dir,
         " is already quantised (config.json has a \"quantization\" entry ", "with format ",
         config["quantization"].value("format", "?"), "); quantise the original folder");
  const Blip2Config c = load_blip2_config(dir);
  const auto checkpoint = Checkpoint::open(dir);
  const WeightPolicy policy = WeightPolicy::for_format(*format);

  // 1. Convert, by loading the model with the policy and recording each conversion.
  ThreadPool pool(a.threads);
  WeightLoader loader(checkpoint);
  loader.set_pool(&pool);
  auto sink = std::make_shared<WeightLoader::ConversionSink>();
  // The number of conversions to expect, for the progress bar: the 2-D weights of the parts the
  // policy converts (embeddings excepted), plus a tied head's own copy.
  int64_t weight_count = 0;
  const auto starts = [](const std::string& s, const char* p) { return s.rfind(p, 0) == 0; };
  for (const auto& name : checkpoint->names()) {
    const TensorInfo* t = checkpoint->find(name);
    if (t->shape.size() != 2 || name.size() < 7 || name.compare(name.size() - 7, 7, ".weight") != 0)
      continue;
    if (name.find("embed") != std::string::npos || name == "language_model.shared.weight") continue;
    if ((policy.vision != WeightFormat::kF32 && starts(name, "vision_model.encoder.")) ||
        (policy.language_model != WeightFormat::kF32 && starts(name, "language_model.")))
      ++weight_count;
  }
  if (!checkpoint->find("language_model.lm_head.weight")) ++weight_count;
  Progress convert_progress("converting " + std::string(weight_format_name(*format)), weight_count);
  sink->on_record = [&](const std::string& name) {
    if (name.size() > 7 && name.compare(name.size() - 7, 7, ".weight") == 0)
      convert_progress.advance();
  };
  loader.set_conversion_sink(sink);
  const auto model = Blip2Model::load(loader, c, policy);
  convert_progress.finish();

  // 2. The output tensors: converted ones in place of their sources, the rest as stored.
  std::map<std::string, Tensor> tensors;
  for (const auto& name : checkpoint->names()) tensors[name] = checkpoint->get(name);
  size_t converted_bytes = 0, source_bytes = 0;
  for (const auto& [name, t] : sink->tensors) {
    auto it = tensors.find(name);
    if (it != tensors.end()) source_bytes += it->second.nbytes();
    converted_bytes += t.nbytes();
    tensors[name] = t;
  }

  // 3. Shards of at most --shard-size (a tensor never splits).
  fs::create_directories(out);
  const size_t shard_limit = static_cast<size_t>(a.shard_gb * 1e9);
  std::vector<std::vector<std::pair<std::string, Tensor>>> shards(1);
  size_t shard_bytes = 0, total_bytes = 0;
  for (const auto& [name, t] : tensors) {
    if (shard_bytes > 0 && shard_bytes + t.nbytes() > shard_limit) {
      shards.emplace_back();
      shard_bytes = 0;
    }
    shards.back().emplace_back(name, t);
    shard_bytes += t.nbytes();
    total_bytes += t.nbytes();
  }
  const json qentry = quantization_entry(*format, policy);
  const std::map<std::string, std::string> metadata = {{"format", "pt"},
                                                       {"blip2_quantization", qentry.dump()}};
  Progress write_progress("writing", static_cast<int64_t>(shards.size()));
  json weight_map = json::object();
  for (size_t i = 0; i < shards.size(); ++i) {
    std::string file = "model.safetensors";
    if (shards.size() > 1) {
      char buf[64];
      std::snprintf(buf, sizeof(buf), "model-%05zu-of-%05zu.safetensors", i + 1, shards.size());
      file = buf;
    }
    write_safetensors((out / file).string(), shards[i], metadata);
    for (const auto& [name, t] : shards[i]) weight_map[name] = file;
    write_progress.advance();
  }
  write_progress.finish();
  if (shards.size() > 1) {
    json index;
    index["metadata"] = {{"total_size", total_bytes}};
    index["weight_map"] = weight_map;
    std::ofstream(out / "model.safetensors.index.json") << index.dump(2) << "\n";
  }

  // 4. config.json with the "quantization" entry, and every other non-weight file.
  config["quantization"] = qentry;
  std::ofstream(out / "config.json") << config.dump(2) << "\n";
  const fs::path src(dir);
  for (auto it = fs::recursive_directory_iterator(src); it != fs::recursive_directory_iterator();
       ++it) {
    const fs::path rel = fs::relative(it->path(), src);
    if (fs::exists(out) && fs::equivalent(it->path(), out)) {
      it.disable_recursion_pending();
      continue;
    }
    if (it->is_directory()) {
      fs::create_directories(out / rel);
      continue;
    }
    if (!it->is_regular_file() || rel == "config.json" || is_weight_file(it->path())) continue;
    fs::copy_file(it->path(), out / rel, fs::copy_options::overwrite_existing);
  }
  const auto mb = [](size_t b) { return str_cat(b / 100000 / 10.0, " MB"); };
  std::cout << "wrote " << a.out << ": " << sink->tensors.size() << " tensors in "
            << weight_format_name(*format) << " (" << policy.describe() << "); " << mb(source_bytes)
            << " of stored weights became " << mb(converted_bytes) << "; " << shards.size()
            << (shards.size() == 1 ? " file, " : " shards, ") << mb(total_bytes) << " in all\n";
  return 0;
}

}  // namespace

void register_quantize_command(CLI::App& app, Action& action) {
  auto args = std::make_shared<QuantizeArgs>();
  CLI::App* cmd = app.add_subcommand("quantize",
                                     "Write a copy of a model with its large weights stored as "
                                     "int8, q4 or bf16 (loads by mmap, no --dtype needed)");
  cmd->add_option("-m,--model", args->model,
                  "BLIP-2 model folder (or hub repo id in the local HF cache)")
      ->required();
  cmd->add_option("-o,--output", args->out, "Output folder (new or empty)")->required();
  cmd->add_option("--dtype", args->dtype,
                  "int8 (vision encoder + language model, per-row scales), q4 (language model in "
                  "4-bit blocks of 32, its head int8), or bf16")
      ->required()
      ->check(CLI::IsMember({"int8", "q4", "bf16"}));
  cmd->add_option("--threads", args->threads,
                  "Threads for the conversion (default: one per physical core)")
      ->check(CLI::Range(0, 1024));
  cmd->add_option("--shard-size", args->shard_gb, "Largest output file, in GB")
      ->check(CLI::Range(0.001, 1000.0))
      ->capture_default_str();
  cmd->callback([args, &action] { action = [args] { return run_quantize(*args); }; });
}

}  // namespace blip2::cli
