#include "bench/random_model.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <random>

#include "bench/arch_configs.h"
#include "bench/random_tokenizer.h"
#include "core/error.h"

namespace blip2::bench {

namespace {

using nlohmann::json;
namespace fs = std::filesystem;

// ------------------------------------------------------------------------------------- values

constexpr uint64_t kGolden = 0x9E3779B97F4A7C15ull;

uint64_t mix64(uint64_t z) {  // splitmix64's output function
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

uint64_t name_seed(uint64_t seed, const std::string& name) {
  uint64_t h = 0xCBF29CE484222325ull;  // FNV-1a
  for (unsigned char c : name) h = (h ^ c) * 0x100000001B3ull;
  return mix64(seed * kGolden ^ h);
}

// Irwin-Hall: four 16-bit uniforms of one 64-bit hash; mean 2 * 65535, variance 4 * (65536^2 - 1)
// / 12, rescaled to N(0, 1) moments.
inline float standard_normal(uint64_t tensor_seed, int64_t i) {
  const uint64_t z = mix64(tensor_seed + static_cast<uint64_t>(i + 1) * kGolden);
  const int64_t s = static_cast<int64_t>(z & 0xFFFF) + static_cast<int64_t>((z >> 16) & 0xFFFF) +
                    static_cast<int64_t>((z >> 32) & 0xFFFF) + static_cast<int64_t>(z >> 48);
  constexpr float kInvStd = 1.0f / 37837.23f;  // sqrt(4 * (65536^2 - 1) / 12)
  return static_cast<float>(s - 131070) * kInvStd;
}

template <typename Store>
void fill_range(const TensorSpec& spec, uint64_t tseed, int64_t begin, int64_t end, Store store) {
  const int64_t n = spec.numel();
  // Elements [zero_begin, zero_end) are zero: the key third of a qkv bias, or the vocabulary rows
  // the tokenizer lacks.
  int64_t zero_begin = n, zero_end = n;
  if (spec.init == Init::kQkvBias) {
    zero_begin = n / 3;
    zero_end = 2 * (n / 3);
  } else if (spec.zero_rows_from >= 0 && !spec.shape.empty()) {
    zero_begin = std::min(n, spec.zero_rows_from * (n / std::max<int64_t>(spec.shape[0], 1)));
  }
  const float offset = spec.init == Init::kOnes ? 1.0f : 0.0f;
  // Pairs: element 2k+1 is minus element 2k (rows have even length, so pairs never straddle rows).
  const bool paired = spec.init == Init::kPairedNormal;
  for (int64_t i = begin; i < end; ++i) {
    const int64_t k = paired ? i & ~int64_t{1} : i;
    const float sign = paired && (i & 1) ? -1.0f : 1.0f;
    const float v = i >= zero_begin && i < zero_end
                        ? 0.0f
                        : offset + sign * spec.std * standard_normal(tseed, k);
    store(i - begin, v);
  }
}

// ------------------------------------------------------------------------------------- specs

// A random attention layer averages over positions; at full strength it drowns each position's
// own signal in the shared context, every position's state converges to the same vector, and
// greedy decoding of the random model repeats one token. Scaling the attention output projection
// down keeps the generated text varied while it still depends on the image. Measured on random
// models of 2 to 32 layers (distinct tokens among 24 greedy ones, three images): OPT at full
// scale 1-4, at 0.05 7-24; T5 at full scale 2-9, at 0.3 23-24 (at 0.05 its text no longer depends
// on the image).
constexpr float kOptAttentionOutputScale = 0.05f;
constexpr float kT5AttentionOutputScale = 0.3f;

float fan_in_std(int64_t fan_in) {
  return static_cast<float>(1.0 / std::sqrt(static_cast<double>(fan_in)));
}

class SpecList {
 public:
  void add(std::string name, Shape shape, Init init = Init::kNormal, float std = 0.02f,
           int64_t zero_rows_from = -1) {
    specs_.push_back({std::move(name), std::move(shape), init, std, zero_rows_from});
  }
  // std 1/sqrt(in): each product keeps its input's scale, whatever the width (0.02 at the
  // published models' widths: 0.027 for 1408, 0.020 for 2560, 0.0099 for 10240).
  void linear(const std::string& name, int64_t in, int64_t out, bool bias = true,
              Init init = Init::kNormal, float std_scale = 1.0f) {
    add(name + ".weight", {out, in}, init, std_scale * fan_in_std(in));
    if (bias) add(name + ".bias", {out});
  }
  void layer_norm(const std::string& name, int64_t dim, bool bias = true) {
    add(name + ".weight", {dim}, Init::kOnes);
    if (bias) add(name + ".bias", {dim});
  }
  std::vector<TensorSpec> sorted() {
    std::sort(specs_.begin(), specs_.end(),
              [](const auto& a, const auto& b) { return a.name < b.name; });
    return std::move(specs_);
  }

 private:
  std::vector<TensorSpec> specs_;
};

void add_vision(SpecList& s, const VisionConfig& c) {
  const int64_t C = c.hidden_size, P = c.patch_size, I = c.intermediate_size;
  const std::string e = "vision_model.embeddings.";
  s.add(e + "class_embedding", {1, 1, C});
  s.add(e + "position_embedding", {1, c.num_positions(), C});
  s.add(e + "patch_embedding.weight", {C, 3, P, P}, Init::kNormal, fan_in_std(3 * P * P));
  s.add(e + "patch_embedding.bias", {C});
  for (int64_t i = 0; i < c.num_hidden_layers; ++i) {
    const std::string l = str_cat("vision_model.encoder.layers.", i, ".");
    s.layer_norm(l + "layer_norm1", C);
    s.layer_norm(l + "layer_norm2", C);
    s.add(l + "self_attn.qkv.weight", {3 * C, C}, Init::kNormal, fan_in_std(C));
    if (c.qkv_bias) s.add(l + "self_attn.qkv.bias", {3 * C}, Init::kQkvBias);
    s.linear(l + "self_attn.projection", C, C);
    s.linear(l + "mlp.fc1", C, I);
    s.linear(l + "mlp.fc2", I, C);
  }
  s.layer_norm("vision_model.post_layernorm", C);
}

void add_qformer(SpecList& s, const Blip2Config& config) {
  const QFormerConfig& c = config.qformer;
  const int64_t C = c.hidden_size, I = c.intermediate_size, Cv = c.encoder_hidden_size;
  s.add("query_tokens", {1, config.num_query_tokens, C});
  s.layer_norm("qformer.layernorm", C);
  for (int64_t i = 0; i < c.num_hidden_layers; ++i) {
    const std::string l = str_cat("qformer.encoder.layer.", i, ".");
    auto attention = [&](const std::string& a, int64_t kv_in) {
      s.linear(l + a + ".attention.query", C, C);
      s.linear(l + a + ".attention.key", kv_in, C);
      s.linear(l + a + ".attention.value", kv_in, C);
      s.linear(l + a + ".output.dense", C, C);
      s.layer_norm(l + a + ".output.LayerNorm", C);
    };
    attention("attention", C);
    if (c.has_cross_attention(i)) attention("crossattention", Cv);
    s.linear(l + "intermediate_query.dense", C, I);
    s.linear(l + "output_query.dense", I, C);
    s.layer_norm(l + "output_query.LayerNorm", C);
  }
  s.linear("language_projection", C, config.lm_hidden_size());
}

void add_opt(SpecList& s, const OptConfig& c, int64_t tokenizer_size) {
  if (c.word_embed_proj_dim != c.hidden_size)
    fail(ErrorKind::kUnsupported, "OPT with word_embed_proj_dim (", c.word_embed_proj_dim,
         ") != hidden_size (", c.hidden_size, ") is not supported");
  if (!c.layer_norm_elementwise_affine)
    fail(ErrorKind::kUnsupported, "OPT with layer_norm_elementwise_affine=false is not supported");
  const int64_t D = c.hidden_size, F = c.ffn_dim, V = c.vocab_size;
  const std::string d = "language_model.model.decoder.";
  s.add(d + "embed_tokens.weight", {V, D}, Init::kNormal, 0.02f, tokenizer_size);
  s.add(d + "embed_positions.weight", {c.max_position_embeddings + 2, D});  // row = position + 2
  for (int64_t i = 0; i < c.num_hidden_layers; ++i) {
    const std::string l = str_cat(d, "layers.", i, ".");
    for (const char* p : {"q_proj", "k_proj", "v_proj"})
      s.linear(l + "self_attn." + p, D, D, c.enable_bias);
    // See kOptAttentionOutputScale; fc2 rows sum to zero so that ReLU's positive mean does not
    // make every layer add one fixed vector everywhere.
    s.linear(l + "self_attn.out_proj", D, D, c.enable_bias, Init::kNormal,
             kOptAttentionOutputScale);
    s.layer_norm(l + "self_attn_layer_norm", D);
    s.linear(l + "fc1", D, F, c.enable_bias);
    s.linear(l + "fc2", F, D, c.enable_bias, F % 2 == 0 ? Init::kPairedNormal : Init::kNormal);
    s.layer_norm(l + "final_layer_norm", D);
  }
  if (c.do_layer_norm_before && !c.remove_final_layer_norm) s.layer_norm(d + "final_layer_norm", D);
  if (!c.tie_word_embeddings)
    s.add("language_model.lm_head.weight", {V, D}, Init::kNormal, 0.02f, tokenizer_size);
}

void add_t5(SpecList& s, const T5Config& c, int64_t tokenizer_size) {
  const int64_t D = c.d_model, F = c.d_ff, V = c.vocab_size, inner = c.num_heads * c.d_kv;
  // transformers' T5 initialisation (T5PreTrainedModel._init_weights): T5 attention has no
  // 1/sqrt(d) scaling, so q takes it; the untied LM head gets unit-scale logits.
  s.add("language_model.shared.weight", {V, D}, Init::kNormal, 1.0f, tokenizer_size);
  if (!c.tie_word_embeddings)
    s.add("language_model.lm_head.weight", {V, D}, Init::kNormal, fan_in_std(D), tokenizer_size);
  auto attention = [&](const std::string& a) {
    s.add(a + ".q.weight", {inner, D}, Init::kNormal, fan_in_std(D * c.d_kv));
    for (const char* p : {"k", "v"})
      s.add(a + "." + p + ".weight", {inner, D}, Init::kNormal, fan_in_std(D));
    s.add(a + ".o.weight", {D, inner}, Init::kNormal, kT5AttentionOutputScale * fan_in_std(inner));
  };
  auto ffn = [&](const std::string& l) {
    const std::string f = l + "DenseReluDense.";
    if (c.is_gated_act) {
      s.add(f + "wi_0.weight", {F, D}, Init::kNormal, fan_in_std(D));
      s.add(f + "wi_1.weight", {F, D}, Init::kNormal, fan_in_std(D));
    } else {
      s.add(f + "wi.weight", {F, D}, Init::kNormal, fan_in_std(D));
    }
    s.add(f + "wo.weight", {D, F}, Init::kNormal, fan_in_std(F));
    s.layer_norm(l + "layer_norm", D, /*bias=*/false);
  };
  for (const char* stack : {"encoder", "decoder"}) {
    const bool decoder = std::string(stack) == "decoder";
    const int64_t layers = decoder ? c.num_decoder_layers : c.num_layers;
    const std::string st = str_cat("language_model.", stack, ".");
    for (int64_t i = 0; i < layers; ++i) {
      const std::string b = str_cat(st, "block.", i, ".");
      attention(b + "layer.0.SelfAttention");
      s.layer_norm(b + "layer.0.layer_norm", D, false);
      if (decoder) {
        attention(b + "layer.1.EncDecAttention");
        s.layer_norm(b + "layer.1.layer_norm", D, false);
      }
      ffn(b + (decoder ? "layer.2." : "layer.1."));
    }
    s.add(st + "block.0.layer.0.SelfAttention.relative_attention_bias.weight",
          {c.relative_attention_num_buckets, c.num_heads}, Init::kNormal, fan_in_std(D));
    s.layer_norm(st + "final_layer_norm", D, false);
  }
}

std::string torch_dtype_name(DType t) {
  switch (t) {
    case DType::kF32:
      return "float32";
    case DType::kF16:
      return "float16";
    case DType::kBF16:
      return "bfloat16";
    default:
      fail(ErrorKind::kInvalidArgument, "random weights can be stored as f32, f16 or bf16, not ",
           dtype_name(t));
  }
}

void write_json_file(const fs::path& path, const json& j) {
  std::ofstream out(path, std::ios::binary);
  out << j.dump(2) << "\n";
  out.close();
  if (!out)
    fail(ErrorKind::kResource, "cannot write ", path.string(),
         "; check the folder and free disk space");
}

struct Shard {
  std::string file;
  std::vector<size_t> tensors;  // indices into the spec list
  uint64_t bytes = 0;
};

std::vector<Shard> plan_shards(const std::vector<TensorSpec>& specs, size_t esize,
                               uint64_t max_bytes) {
  std::vector<Shard> shards(1);
  for (size_t i = 0; i < specs.size(); ++i) {
    const uint64_t b = static_cast<uint64_t>(specs[i].numel()) * esize;
    if (!shards.back().tensors.empty() && shards.back().bytes + b > max_bytes)
      shards.emplace_back();
    shards.back().tensors.push_back(i);
    shards.back().bytes += b;
  }
  const size_t n = shards.size();
  for (size_t k = 0; k < n; ++k) {
    char name[64];
    std::snprintf(name, sizeof(name), "model-%05zu-of-%05zu.safetensors", k + 1, n);
    shards[k].file = n == 1 ? "model.safetensors" : name;
  }
  return shards;
}

// Writes one shard: the header, then each tensor generated in chunks.
void write_shard(const fs::path& path, const Shard& shard, const std::vector<TensorSpec>& specs,
                 DType dtype, uint64_t seed, ThreadPool& pool, uint64_t& done, uint64_t total,
                 const WriteProgress& on_progress) {
  const size_t esize = dtype_size(dtype);
  json header = json::object();
  header["__metadata__"] = {{"format", "pt"}};
  uint64_t offset = 0;
  for (size_t i : shard.tensors) {
    const uint64_t b = static_cast<uint64_t>(specs[i].numel()) * esize;
    header[specs[i].name] = {{"dtype", dtype_name(dtype)},
                             {"shape", specs[i].shape},
                             {"data_offsets", {offset, offset + b}}};
    offset += b;
  }
  std::string text = header.dump();
  // Pad with spaces (allowed by the format) so the data starts 64-byte aligned: mapped f32
  // weights are then aligned for vector loads.
  while ((8 + text.size()) % 64 != 0) text += ' ';

  const fs::path tmp = path.string() + ".tmp";
  std::FILE* f = std::fopen(tmp.c_str(), "wb");
  if (!f)
    fail(ErrorKind::kResource, "cannot create ", tmp.string(), "; check the folder's permissions");
  auto check = [&](bool ok) {
    if (ok) return;
    std::fclose(f);
    std::error_code ec;
    fs::remove(tmp, ec);
    fail(ErrorKind::kResource, "writing ", tmp.string(),
         " failed (disk full?); free disk space and rerun");
  };
  uint8_t len[8];
  for (int k = 0; k < 8; ++k)
    len[k] = static_cast<uint8_t>(static_cast<uint64_t>(text.size()) >> (8 * k));
  check(std::fwrite(len, 1, 8, f) == 8);
  check(std::fwrite(text.data(), 1, text.size(), f) == text.size());

  constexpr int64_t kChunkElements = 16 << 20;  // 64 MB of f32
  std::vector<uint8_t> buffer(static_cast<size_t>(kChunkElements) * esize);
  for (size_t i : shard.tensors) {
    const TensorSpec& spec = specs[i];
    const int64_t n = spec.numel();
    for (int64_t first = 0; first < n; first += kChunkElements) {
      const int64_t count = std::min(kChunkElements, n - first);
      generate_values(spec, seed, first, count, dtype, buffer.data(), pool);
      const size_t bytes = static_cast<size_t>(count) * esize;
      check(std::fwrite(buffer.data(), 1, bytes, f) == bytes);
      done += bytes;
      if (on_progress) on_progress(done, total);
    }
  }
  check(std::fflush(f) == 0);
  check(::fsync(::fileno(f)) == 0);
  check(std::fclose(f) == 0);
  fs::rename(tmp, path);
}

}  // namespace

int64_t TensorSpec::numel() const {
  return checked_numel(shape);
}

std::vector<TensorSpec> blip2_tensor_specs(const Blip2Config& config, int64_t tokenizer_size) {
  SpecList s;
  add_vision(s, config.vision);
  add_qformer(s, config);
  if (config.lm_type == LanguageModelType::kOpt)
    add_opt(s, config.opt, tokenizer_size);
  else
    add_t5(s, config.t5, tokenizer_size);
  return s.sorted();
}

void generate_values(const TensorSpec& spec, uint64_t seed, int64_t first, int64_t n, DType dtype,
                     void* out, ThreadPool& pool) {
  const uint64_t tseed = name_seed(seed, spec.name);
  constexpr size_t kGrain = 1 << 16;
  pool.parallel_for(static_cast<size_t>(n), kGrain, [&](size_t b, size_t e) {
    const int64_t begin = first + static_cast<int64_t>(b), end = first + static_cast<int64_t>(e);
    switch (dtype) {
      case DType::kF32: {
        float* o = static_cast<float*>(out) + b;
        fill_range(spec, tseed, begin, end, [o](int64_t k, float v) { o[k] = v; });
        break;
      }
      case DType::kBF16: {
        uint16_t* o = static_cast<uint16_t*>(out) + b;
        fill_range(spec, tseed, begin, end, [o](int64_t k, float v) { o[k] = f32_to_bf16(v); });
        break;
      }
      case DType::kF16: {
        uint16_t* o = static_cast<uint16_t*>(out) + b;
        fill_range(spec, tseed, begin, end, [o](int64_t k, float v) { o[k] = f32_to_f16(v); });
        break;
      }
      default:
        fail(ErrorKind::kInvalidArgument, "random weights can be f32, f16 or bf16, not ",
             dtype_name(dtype));
    }
  });
}

int64_t write_model_metadata(const std::string& arch, const std::string& dir, DType dtype,
                             size_t threads) {
  const ArchInfo& a = find_arch(arch);
  const fs::path d(dir);
  fs::create_directories(d);
  json config = a.config;
  config["torch_dtype"] = torch_dtype_name(dtype);
  write_json_file(d / "config.json", config);
  write_json_file(d / "generation_config.json", a.generation_config);
  const Blip2Config c = blip2_config_from_json(config, a.name);
  write_json_file(d / "preprocessor_config.json",
                  blip_preprocessor_config(static_cast<int>(c.vision.image_size)));
  return write_tokenizer_files(c, dir, threads);
}

RandomModelSummary write_random_model(const std::string& dir, const RandomModelOptions& o,
                                      ThreadPool& pool, const WriteProgress& on_progress) {
  const ArchInfo& arch = find_arch(o.arch);
  const std::string stored = torch_dtype_name(o.dtype);  // validates the dtype
  const fs::path d(dir);
  std::error_code ec;
  if (fs::exists(d) && !fs::is_directory(d))
    fail(ErrorKind::kInvalidArgument, dir,
         " exists and is not a folder; choose another output path");
  if (fs::is_directory(d) && !fs::is_empty(d)) {
    if (!o.overwrite)
      fail(ErrorKind::kInvalidArgument, "output folder ", dir,
           " is not empty; choose an empty or new folder, or pass --overwrite to replace its model "
           "files");
    for (const auto& entry : fs::directory_iterator(d)) {
      const std::string n = entry.path().filename().string();
      if (n.rfind("model", 0) == 0 && n.find(".safetensors") != std::string::npos)
        fs::remove(entry.path());
    }
  }
  fs::create_directories(d);

  const Blip2Config config = blip2_config_from_json(arch.config, arch.name);
  const size_t esize = dtype_size(o.dtype);
  // The tensor list needs the tokenizer size (zero rows), so the tokenizer comes first.
  RandomModelSummary summary;
  summary.tokenizer_size = write_model_metadata(o.arch, dir, o.dtype, pool.num_threads());
  const std::vector<TensorSpec> specs = blip2_tensor_specs(config, summary.tokenizer_size);
  for (const TensorSpec& s : specs) {
    summary.params += s.numel();
    summary.weight_bytes += static_cast<uint64_t>(s.numel()) * esize;
  }
  const fs::space_info space = fs::space(d, ec);
  if (!ec && space.available < summary.weight_bytes + (64u << 20))
    fail(ErrorKind::kResource, o.arch, " in ", stored, " needs ", summary.weight_bytes / 1e9,
         " GB but ", dir, " has ", space.available / 1e9,
         " GB free; free disk space or choose --dtype bf16");

  const std::vector<Shard> shards =
      plan_shards(specs, esize, std::max<uint64_t>(o.max_shard_bytes, 1));
  uint64_t done = 0;
  for (const Shard& shard : shards) {
    write_shard(d / shard.file, shard, specs, o.dtype, o.seed, pool, done, summary.weight_bytes,
                on_progress);
    summary.files.push_back(shard.file);
  }
  summary.shards = shards.size();
  if (shards.size() > 1) {
    json index;
    index["metadata"] = {{"total_size", summary.weight_bytes}};
    json map = json::object();
    for (const Shard& shard : shards)
      for (size_t i : shard.tensors) map[specs[i].name] = shard.file;
    index["weight_map"] = map;
    write_json_file(d / "model.safetensors.index.json", index);
  }
  return summary;
}

std::vector<std::pair<std::string, Tensor>> random_tensors(const std::vector<TensorSpec>& specs,
                                                           DType dtype, uint64_t seed,
                                                           ThreadPool& pool) {
  std::vector<std::pair<std::string, Tensor>> out;
  out.reserve(specs.size());
  for (const TensorSpec& s : specs) {
    Tensor t = Tensor::empty(dtype, s.shape);
    generate_values(s, seed, 0, s.numel(), dtype, t.raw_mutable_data(), pool);
    out.emplace_back(s.name, std::move(t));
  }
  return out;
}

std::unique_ptr<InMemoryRandomModel> InMemoryRandomModel::create(const std::string& arch,
                                                                 DType dtype, uint64_t seed,
                                                                 ThreadPool& pool) {
  const auto t0 = std::chrono::steady_clock::now();
  std::unique_ptr<InMemoryRandomModel> m(new InMemoryRandomModel());
  std::random_device rd;
  m->dir_ = (fs::temp_directory_path() / str_cat("blip2-random-", arch, "-", ::getpid(), "-", rd()))
                .string();
  fs::create_directories(m->dir_);
  const int64_t tokenizer_size = write_model_metadata(arch, m->dir_, dtype, pool.num_threads());
  const Blip2Config config = load_blip2_config(m->dir_);
  const auto specs = blip2_tensor_specs(config, tokenizer_size);
  for (const TensorSpec& s : specs) m->params_ += s.numel();
  m->checkpoint_ = Checkpoint::from_tensors(random_tensors(specs, dtype, seed, pool),
                                            str_cat("<random ", arch, " in memory>"));
  m->generate_seconds_ =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return m;
}

InMemoryRandomModel::~InMemoryRandomModel() {
  std::error_code ec;
  fs::remove_all(dir_, ec);
}

}  // namespace blip2::bench
