// `blip2 bench`: loads a model (timed), times each stage of captioning separately, measures the
// machine's own limits in the same process, and reports each stage as a fraction of its limit.
//
//   BenchOptions o;
//   o.arch = "opt-2.7b";                 // random weights in memory; or o.model_dir = "DIR"
//   o.weights = WeightFormat::kInt8;
//   BenchResult r = run_bench(o, [](const std::string& line) { std::cerr << line << "\n"; });
//   std::cout << r.to_json().dump(2) << "\n" << r.to_table();
//
// Method (docs/performance.md):
//   1. machine limits first (memory read bandwidth, f32 GEMM at the vision MLP's shape), then
//      their buffers are freed and the peak-RSS counter is reset, so peak_rss_bytes is the model's;
//   2. load (load_s: Engine::load, including the conversion to the compute format);
//   3. one untimed warm-up caption (pages in mapped weights, sizes the caches), then `repeats`
//      captions of one image: greedy, exactly `new_tokens` tokens (EOS suppressed until then);
//      each stage's time is the median over the repeats;
//   4. `repeats` runs of a batch of `batch` copies of the image: images_per_s from the median.
// preprocess_s is image decode + resize + normalise; caption_s is the whole caption from the
// encoded image bytes to the text.
#pragma once

#include <cstdint>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>

#include "core/dtype.h"

namespace blip2::bench {

struct BenchOptions {
  std::string model_dir;  // a model folder (Hugging Face layout), or
  std::string arch;       // an architecture (arch_configs.h) made with random weights in memory
  WeightFormat weights = WeightFormat::kF32;
  size_t threads = 0;  // 0: one per physical core
  int64_t new_tokens = 20;
  int64_t batch = 4;  // images per batch for images_per_s; 0 skips the batch run
  int repeats = 3;
  std::string image;                    // an image file; empty: a synthetic 640x480 JPEG
  std::string prompt;                   // "" for plain captioning
  uint64_t seed = 0;                    // random weights
  uint64_t bandwidth_buffer_bytes = 0;  // 0: 8x the last-level cache, at least 1 GiB
};

struct BenchResult {
  // What ran.
  std::string arch, model, dtype, image, machine, isa, statistic = "median";
  size_t threads = 0;
  int64_t new_tokens = 0, batch = 0, repeats = 0, prompt_tokens = 0, params = 0;
  double weight_bytes = 0;  // all weights in the compute format (model_cost.h)
  double generate_s = 0;    // making the random weights in memory (--arch only)
  std::string caption;      // the text of the last timed caption

  // Times (seconds; medians over the repeats).
  double load_s = 0, preprocess_s = 0, vision_s = 0, qformer_s = 0, prefill_s = 0,
         decode_s_per_token = 0, caption_s = 0, batch_s = 0, images_per_s = 0;
  uint64_t peak_rss_bytes = 0;
  bool peak_rss_reset = false;  // false: the peak includes the limit measurements' buffers

  // Machine limits.
  double mem_read_gbs = 0, gemm_gflops = 0;
  uint64_t mem_read_buffer_bytes = 0;
  int64_t gemm_m = 0, gemm_n = 0, gemm_k = 0;

  // Work per stage and fractions of the limits.
  double vision_flop = 0, qformer_flop = 0, prefill_flop = 0, decode_bytes_per_token = 0;
  double vision_gemm_fraction = 0, qformer_gemm_fraction = 0, prefill_gemm_fraction = 0,
         decode_bandwidth_fraction = 0;

  // One object with every field above (the keys the issue asks for first).
  nlohmann::ordered_json to_json() const;
  // An aligned, human-readable table.
  std::string to_table() const;
};

// Progress lines ("loading...", "warm-up caption") for stderr.
using BenchLog = std::function<void(const std::string&)>;

// Throws blip2::Error for bad options (kInvalidArgument), a model that does not load, an image
// that does not decode.
BenchResult run_bench(const BenchOptions& options, const BenchLog& log = {});

}  // namespace blip2::bench
