// Full-size BLIP-2 checkpoints with random weights, for benchmarks (the real ones cannot be
// downloaded here). The architecture is real (arch_configs.h), the weights are random but of a
// realistic scale, and the layout is exactly Hugging Face's, so everything that loads a published
// checkpoint loads these.
//
//   // On disk: config.json, generation_config.json, preprocessor_config.json, tokenizer files,
//   // model-0000N-of-0000M.safetensors (4 GB shards) + model.safetensors.index.json.
//   RandomModelOptions o;
//   o.arch = "opt-2.7b";
//   write_random_model("/work/big/opt-2.7b", o, pool);
//
//   // In memory, for `blip2 bench --arch`: the small files go to a temporary folder.
//   auto m = InMemoryRandomModel::create("flan-t5-xl", DType::kBF16, /*seed=*/0, pool);
//   EngineOptions e;
//   e.checkpoint = m->checkpoint();
//   auto engine = Engine::load(m->dir(), e);
//
// Weights (deterministic in the seed and the tensor's name, whatever the thread count):
//   - Linear weights N(0, 1/sqrt(in_features)): each product keeps its input's scale, and at the
//     published widths this is the familiar ~0.02 (0.027 for 1408, 0.020 for 2560, 0.0099 for
//     10240); T5 as transformers initialises it (q also takes the missing 1/sqrt(d_kv), `shared`
//     N(0, 1)); embeddings, position embeddings and query tokens N(0, 0.02); biases N(0, 0.02);
//   - the language model's attention output projections scaled down (OPT 0.05, T5 0.3) and OPT's
//     fc2 with rows summing to zero (kPairedNormal): without them the random model's greedy
//     decoding collapses to one repeated token (attention averages every position towards the
//     same vector; ReLU's positive mean makes fc2 add a fixed vector everywhere);
//   - LayerNorm / T5 RMS norm weights 1 + N(0, 0.02);
//   - the vision attention's key bias is 0 (the real checkpoints store q_bias and v_bias only);
//   - embedding and LM-head rows of ids the tokenizer does not have are 0, as in the published
//     checkpoints (50272 rows for a 50265-token tokenizer), so they are never generated.
// "N(0, s)" is an Irwin-Hall approximation (sum of four uniforms, rescaled): same mean and
// variance, bounded at 3.5 s, and about 1 ns per value, which matters for 4 billion of them.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "core/dtype.h"
#include "core/tensor.h"
#include "core/thread_pool.h"
#include "io/checkpoint.h"
#include "io/config.h"

namespace blip2::bench {

enum class Init : uint8_t {
  kNormal,   // N(0, std)
  kOnes,     // 1 + N(0, std)
  kQkvBias,  // N(0, std) with the middle third (the key bias) zero
  // N(0, std) with element 2k+1 = -element 2k: rows of even length sum to zero, so a matrix
  // applied after ReLU (whose output has a positive mean) adds no fixed vector.
  kPairedNormal,
};

struct TensorSpec {
  std::string name;
  Shape shape;
  Init init = Init::kNormal;
  float std = 0.02f;
  int64_t zero_rows_from = -1;  // rows [zero_rows_from, shape[0]) are zero; -1: none

  int64_t numel() const;
};

// Every tensor of transformers 4.40.2's Blip2ForConditionalGeneration.state_dict() for `config`
// that save_pretrained stores (tied copies left out: OPT's lm_head, T5's encoder/decoder
// embed_tokens), sorted by name. Vocabulary rows >= tokenizer_size are zero.
// Error(kUnsupported) for configurations the engine does not run either (OPT with
// word_embed_proj_dim != hidden_size, ...).
std::vector<TensorSpec> blip2_tensor_specs(const Blip2Config& config, int64_t tokenizer_size);

// Elements [first, first + n) of the tensor (row-major), converted to `dtype` (F32, F16 or BF16)
// and written to `out`; split over the pool. Element i depends only on (seed, spec.name, i).
void generate_values(const TensorSpec& spec, uint64_t seed, int64_t first, int64_t n, DType dtype,
                     void* out, ThreadPool& pool);

// Writes config.json (with torch_dtype set to the stored dtype), generation_config.json,
// preprocessor_config.json and the tokenizer files of architecture `arch` into `dir` (created if
// needed). Returns the tokenizer's size.
int64_t write_model_metadata(const std::string& arch, const std::string& dir, DType dtype,
                             size_t threads = 1);

struct RandomModelOptions {
  std::string arch = "opt-2.7b";
  DType dtype = DType::kF32;  // F32, F16 or BF16
  uint64_t seed = 0;
  // Largest shard (bytes of tensor data). transformers' default is 5 GB; 4 GB keeps each shard
  // under the 4 GiB that some tools still choke on. One shard -> model.safetensors, no index.
  uint64_t max_shard_bytes = 4'000'000'000ull;
  // Replace the model files of an existing non-empty folder instead of refusing it.
  bool overwrite = false;
};

struct RandomModelSummary {
  int64_t params = 0;
  uint64_t weight_bytes = 0;  // tensor data over all shards
  size_t shards = 0;
  int64_t tokenizer_size = 0;
  std::vector<std::string> files;  // the weight files written, in order
};

// Bytes done and total, called after each chunk written.
using WriteProgress = std::function<void(uint64_t done, uint64_t total)>;

// Writes a complete model folder. The weights are generated chunk by chunk (64 MB) while they are
// written, so memory stays small whatever the model's size; each shard is written under a
// temporary name and renamed when complete. Checks the free disk space first
// (Error(kResource)). Error(kInvalidArgument) for a non-empty folder without `overwrite`.
RandomModelSummary write_random_model(const std::string& dir, const RandomModelOptions& options,
                                      ThreadPool& pool, const WriteProgress& on_progress = {});

// The weights as tensors in memory (owned, `dtype`), for Checkpoint::from_tensors.
std::vector<std::pair<std::string, Tensor>> random_tensors(const std::vector<TensorSpec>& specs,
                                                           DType dtype, uint64_t seed,
                                                           ThreadPool& pool);

// A random model held in memory: a temporary folder with the small files (removed with the
// object) and a Checkpoint serving the weights from memory.
class InMemoryRandomModel {
 public:
  static std::unique_ptr<InMemoryRandomModel> create(const std::string& arch, DType dtype,
                                                     uint64_t seed, ThreadPool& pool);
  ~InMemoryRandomModel();
  InMemoryRandomModel(const InMemoryRandomModel&) = delete;
  InMemoryRandomModel& operator=(const InMemoryRandomModel&) = delete;

  const std::string& dir() const { return dir_; }
  const std::shared_ptr<const Checkpoint>& checkpoint() const { return checkpoint_; }
  int64_t params() const { return params_; }
  double generate_seconds() const { return generate_seconds_; }

 private:
  InMemoryRandomModel() = default;
  std::string dir_;
  std::shared_ptr<const Checkpoint> checkpoint_;
  int64_t params_ = 0;
  double generate_seconds_ = 0;
};

}  // namespace blip2::bench
