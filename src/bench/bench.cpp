#include "bench/bench.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <sstream>
#include <vector>

#include "backend/cpu/kernels.h"
#include "backend/cpu/matmul.h"
#include "bench/arch_configs.h"
#include "bench/machine_limits.h"
#include "bench/model_cost.h"
#include "bench/random_model.h"
#include "bench/synthetic_image.h"
#include "blip2/blip2.h"
#include "core/mapped_file.h"
#include "io/model_path.h"

namespace blip2::bench {

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

double median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

std::vector<uint8_t> read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in)
    fail(ErrorKind::kNotFound, "cannot open image ", path, "; check the path given to --image");
  return std::vector<uint8_t>(std::istreambuf_iterator<char>(in), {});
}

bool same_architecture(const Blip2Config& a, const Blip2Config& b) {
  if (a.vision.hidden_size != b.vision.hidden_size ||
      a.vision.num_hidden_layers != b.vision.num_hidden_layers ||
      a.qformer.hidden_size != b.qformer.hidden_size ||
      a.qformer.num_hidden_layers != b.qformer.num_hidden_layers || a.lm_type != b.lm_type ||
      a.lm_hidden_size() != b.lm_hidden_size() || a.num_query_tokens != b.num_query_tokens)
    return false;
  if (a.lm_type == LanguageModelType::kOpt)
    return a.opt.num_hidden_layers == b.opt.num_hidden_layers && a.opt.ffn_dim == b.opt.ffn_dim;
  return a.t5.num_layers == b.t5.num_layers && a.t5.num_decoder_layers == b.t5.num_decoder_layers &&
         a.t5.d_ff == b.t5.d_ff;
}

// The built-in architecture a model folder's config matches, else a short description.
std::string describe_architecture(const Blip2Config& c) {
  for (const ArchInfo& a : all_archs())
    if (same_architecture(c, blip2_config_from_json(a.config, a.name))) return a.name;
  return str_cat(c.lm_type_name(), " ", c.lm_hidden_size(), "d");
}

std::string format_seconds(double s) {
  char buf[32];
  if (s >= 10)
    std::snprintf(buf, sizeof(buf), "%.1f s", s);
  else if (s >= 1)
    std::snprintf(buf, sizeof(buf), "%.2f s", s);
  else if (s >= 1e-3)
    std::snprintf(buf, sizeof(buf), "%.1f ms", s * 1e3);
  else
    std::snprintf(buf, sizeof(buf), "%.0f us", s * 1e6);
  return buf;
}

std::string format_number(double v, const char* unit, int decimals = 1) {
  char buf[48];
  std::snprintf(buf, sizeof(buf), "%.*f %s", decimals, v, unit);
  return buf;
}

std::string format_percent(double f) {
  char buf[16];
  std::snprintf(buf, sizeof(buf), "%.0f %%", 100 * f);
  return buf;
}

}  // namespace

BenchResult run_bench(const BenchOptions& o, const BenchLog& log_fn) {
  auto log = [&](const std::string& s) {
    if (log_fn) log_fn(s);
  };
  if (o.model_dir.empty() == o.arch.empty())
    fail(ErrorKind::kInvalidArgument,
         "bench needs either a model folder (-m) or an architecture (--arch), not ",
         o.model_dir.empty() ? "neither" : "both");
  if (o.new_tokens < 2)
    fail(ErrorKind::kInvalidArgument,
         "--new-tokens must be at least 2 (the first token comes from the prefill), got ",
         o.new_tokens);
  if (o.repeats < 1)
    fail(ErrorKind::kInvalidArgument, "--repeats must be at least 1, got ", o.repeats);
  if (o.batch < 0) fail(ErrorKind::kInvalidArgument, "--batch must be >= 0, got ", o.batch);

  BenchResult r;
  r.dtype = std::string(weight_format_name(o.weights));
  r.new_tokens = o.new_tokens;
  r.batch = o.batch;
  r.repeats = o.repeats;
  r.machine = machine_description();
  r.isa = cpu::active_isa() + ", matmul " + cpu::active_matmul_isa();

  // The config first: the limits are measured at the model's own shapes.
  const Blip2Config config = o.arch.empty()
                                 ? load_blip2_config(resolve_model_path(o.model_dir))
                                 : blip2_config_from_json(find_arch(o.arch).config, o.arch);
  r.arch = o.arch.empty() ? describe_architecture(config) : o.arch;
  r.model = o.arch.empty() ? o.model_dir : "random weights in memory";

  // 1. The machine's limits, with a pool like the engine's.
  {
    ThreadPool pool(o.threads);
    r.threads = pool.num_threads();
    log("measuring memory read bandwidth...");
    const MemoryBandwidth bw = measure_read_bandwidth(pool, o.bandwidth_buffer_bytes);
    r.mem_read_gbs = bw.gb_per_s;
    r.mem_read_buffer_bytes = bw.buffer_bytes;
    log("measuring f32 GEMM throughput...");
    const GemmThroughput g =
        measure_gemm(pool, config.vision.num_positions(), config.vision.intermediate_size,
                     config.vision.hidden_size);
    r.gemm_gflops = g.gflops;
    r.gemm_m = g.m;
    r.gemm_n = g.n;
    r.gemm_k = g.k;
  }
  r.peak_rss_reset = reset_peak_rss();

  // A folder written by `blip2 quantize` is used as stored, whatever --dtype says; count its
  // work and bytes in its own format.
  WeightFormat format = o.weights;
  if (o.arch.empty()) {
    const auto cfg = nlohmann::json::parse(
        read_text_file(
            (std::filesystem::path(resolve_model_path(o.model_dir)) / "config.json").string()),
        nullptr, /*allow_exceptions=*/false);
    if (cfg.is_object() && cfg.contains("quantization") && cfg["quantization"].is_object())
      if (const auto f = weight_format_from_string(cfg["quantization"].value("format", "")))
        format = *f;
  }
  r.dtype = std::string(weight_format_name(format));

  // 2. Load.
  std::unique_ptr<InMemoryRandomModel> random;
  EngineOptions eo;
  eo.threads = o.threads;
  eo.weights = o.weights;
  std::string model_dir = o.model_dir;
  if (!o.arch.empty()) {
    // Stored f32 for an f32 run; bf16 otherwise (half the memory, and converted at load like a
    // published bf16/f16 checkpoint).
    const DType stored = o.weights == WeightFormat::kF32 ? DType::kF32 : DType::kBF16;
    log(str_cat("making random ", o.arch, " weights (", dtype_name(stored), ") in memory..."));
    ThreadPool pool(o.threads);
    random = InMemoryRandomModel::create(o.arch, stored, o.seed, pool);
    r.generate_s = random->generate_seconds();
    eo.checkpoint = random->checkpoint();
    model_dir = random->dir();
  }
  log("loading...");
  const auto t_load = Clock::now();
  std::shared_ptr<const Engine> engine = Engine::load(model_dir, eo);
  r.load_s = seconds_since(t_load);
  {
    const auto ck = eo.checkpoint ? eo.checkpoint : Checkpoint::open(engine->model_dir());
    for (const std::string& name : ck->names()) r.params += checked_numel(ck->find(name)->shape);
  }
  r.weight_bytes = model_weight_bytes(config, format);

  // 3. Captions of one image, exactly new_tokens tokens each.
  const std::vector<uint8_t> image_bytes = o.image.empty() ? synthetic_jpeg() : read_bytes(o.image);
  r.image = o.image.empty() ? "synthetic 640x480 JPEG" : o.image;
  GenerationOptions g;
  g.num_beams = 1;
  g.do_sample = false;
  g.max_new_tokens = o.new_tokens;
  g.min_new_tokens = o.new_tokens;  // EOS suppressed: every run decodes the same number of tokens
  r.prompt_tokens = static_cast<int64_t>(engine->prompt_ids(o.prompt).size());

  Session session(engine);
  auto caption_once = [&](StageTimings& t, double& image_decode_s) {
    const auto t0 = Clock::now();
    const RgbImage image = decode_image(image_bytes, r.image, engine->options().image_limits);
    image_decode_s = seconds_since(t0);
    const CaptionResult c = session.caption(image, o.prompt, g);
    const double total = seconds_since(t0);
    t = session.timings();
    if (t.decode_steps != o.new_tokens - 1)
      fail(ErrorKind::kInternal, "the benchmark caption ran ", t.decode_steps,
           " decode steps, expected ", o.new_tokens - 1, " (", o.new_tokens, " forced tokens)");
    r.caption = c.text;
    return total;
  };
  log("warm-up caption...");
  {
    StageTimings t;
    double d = 0;
    caption_once(t, d);
  }
  std::vector<double> pre, vis, qf, pf, dec, cap;
  for (int i = 0; i < o.repeats; ++i) {
    log(str_cat("caption ", i + 1, "/", o.repeats, "..."));
    StageTimings t;
    double image_decode_s = 0;
    cap.push_back(caption_once(t, image_decode_s));
    pre.push_back(image_decode_s + t.preprocess_s);
    vis.push_back(t.vision_s);
    qf.push_back(t.qformer_s);
    pf.push_back(t.prefill_s);
    dec.push_back(t.decode_s / static_cast<double>(t.decode_steps));
  }
  r.preprocess_s = median(pre);
  r.vision_s = median(vis);
  r.qformer_s = median(qf);
  r.prefill_s = median(pf);
  r.decode_s_per_token = median(dec);
  r.caption_s = median(cap);

  // 4. A batch.
  if (o.batch > 0) {
    std::vector<double> times;
    for (int i = 0; i < o.repeats; ++i) {
      log(str_cat("batch of ", o.batch, ", run ", i + 1, "/", o.repeats, "..."));
      const auto t0 = Clock::now();
      std::vector<RgbImage> images;
      for (int64_t b = 0; b < o.batch; ++b)
        images.push_back(decode_image(image_bytes, r.image, engine->options().image_limits));
      std::vector<CaptionRequest> requests;
      for (const RgbImage& im : images) requests.push_back({&im, o.prompt});
      session.generate(requests, g);
      times.push_back(seconds_since(t0));
    }
    r.batch_s = median(times);
    r.images_per_s = static_cast<double>(o.batch) / r.batch_s;
  }
  r.peak_rss_bytes = peak_rss_bytes();

  // Work and fractions of the limits.
  r.vision_flop = vision_flops(config, 1);
  r.qformer_flop = qformer_flops(config, 1);
  r.prefill_flop = prefill_flops(config, r.prompt_tokens);
  r.decode_bytes_per_token = decode_weight_bytes(config, format);
  const double gemm = r.gemm_gflops * 1e9, bw = r.mem_read_gbs * 1e9;
  r.vision_gemm_fraction = r.vision_flop / r.vision_s / gemm;
  r.qformer_gemm_fraction = r.qformer_flop / r.qformer_s / gemm;
  r.prefill_gemm_fraction = r.prefill_flop / r.prefill_s / gemm;
  r.decode_bandwidth_fraction = r.decode_bytes_per_token / r.decode_s_per_token / bw;
  return r;
}

nlohmann::ordered_json BenchResult::to_json() const {
  nlohmann::ordered_json j;
  j["load_s"] = load_s;
  j["preprocess_s"] = preprocess_s;
  j["vision_s"] = vision_s;
  j["qformer_s"] = qformer_s;
  j["prefill_s"] = prefill_s;
  j["decode_s_per_token"] = decode_s_per_token;
  j["caption_s"] = caption_s;
  j["peak_rss_bytes"] = peak_rss_bytes;
  j["mem_read_gbs"] = mem_read_gbs;
  j["gemm_gflops"] = gemm_gflops;
  j["decode_bandwidth_fraction"] = decode_bandwidth_fraction;
  j["vision_gemm_fraction"] = vision_gemm_fraction;
  j["images_per_s"] = images_per_s;
  j["dtype"] = dtype;
  j["threads"] = threads;
  j["arch"] = arch;
  j["params"] = params;
  j["weight_bytes"] = weight_bytes;
  j["model"] = model;
  j["statistic"] = statistic;
  j["repeats"] = repeats;
  j["new_tokens"] = new_tokens;
  j["prompt_tokens"] = prompt_tokens;
  j["batch"] = batch;
  j["batch_s"] = batch_s;
  j["decode_tokens_per_s"] = decode_s_per_token > 0 ? 1 / decode_s_per_token : 0;
  j["decode_bytes_per_token"] = decode_bytes_per_token;
  j["decode_gbs"] = decode_s_per_token > 0 ? decode_bytes_per_token / decode_s_per_token / 1e9 : 0;
  j["vision_gflop"] = vision_flop / 1e9;
  j["vision_gflops"] = vision_s > 0 ? vision_flop / vision_s / 1e9 : 0;
  j["qformer_gflop"] = qformer_flop / 1e9;
  j["qformer_gemm_fraction"] = qformer_gemm_fraction;
  j["prefill_gflop"] = prefill_flop / 1e9;
  j["prefill_gflops"] = prefill_s > 0 ? prefill_flop / prefill_s / 1e9 : 0;
  j["prefill_gemm_fraction"] = prefill_gemm_fraction;
  j["mem_read_buffer_bytes"] = mem_read_buffer_bytes;
  j["gemm_shape"] = {gemm_m, gemm_n, gemm_k};
  j["peak_rss_reset"] = peak_rss_reset;
  j["generate_s"] = generate_s;
  j["image"] = image;
  j["caption"] = caption;
  j["isa"] = isa;
  j["machine"] = machine;
  return j;
}

std::string BenchResult::to_table() const {
  std::ostringstream os;
  os << "blip2 bench: " << arch << " (" << model << "), weights " << dtype << ", " << threads
     << " threads, " << new_tokens << " new tokens forced, " << statistic << " of " << repeats
     << " runs\n";
  os << "machine: " << machine << "; SIMD " << isa << "\n";
  char line[256];
  std::snprintf(line, sizeof(line),
                "limits: memory read %.1f GB/s (%.1f GiB buffer), f32 GEMM %.1f GFLOP/s at [%lld x "
                "%lld] x [%lld x %lld]^T\n",
                mem_read_gbs, static_cast<double>(mem_read_buffer_bytes) / (1ull << 30),
                gemm_gflops, static_cast<long long>(gemm_m), static_cast<long long>(gemm_k),
                static_cast<long long>(gemm_n), static_cast<long long>(gemm_k));
  os << line << "\n";
  auto row = [&](const std::string& stage, const std::string& time, const std::string& work,
                 const std::string& rate, const std::string& fraction) {
    std::snprintf(line, sizeof(line), "%-22s %12s %14s %16s %10s\n", stage.c_str(), time.c_str(),
                  work.c_str(), rate.c_str(), fraction.c_str());
    os << line;
  };
  row("stage", "time", "work", "rate", "of limit");
  row("load", format_seconds(load_s), format_number(weight_bytes / 1e9, "GB"), "", "");
  row("image decode+preproc", format_seconds(preprocess_s), "", "", "");
  row("vision encoder", format_seconds(vision_s), format_number(vision_flop / 1e9, "GFLOP"),
      format_number(vision_flop / vision_s / 1e9, "GFLOP/s"), format_percent(vision_gemm_fraction));
  row("Q-Former + proj", format_seconds(qformer_s), format_number(qformer_flop / 1e9, "GFLOP"),
      format_number(qformer_flop / qformer_s / 1e9, "GFLOP/s"),
      format_percent(qformer_gemm_fraction));
  row("LM prefill", format_seconds(prefill_s), format_number(prefill_flop / 1e9, "GFLOP"),
      format_number(prefill_flop / prefill_s / 1e9, "GFLOP/s"),
      format_percent(prefill_gemm_fraction));
  row("decode / token", format_seconds(decode_s_per_token),
      format_number(decode_bytes_per_token / 1e9, "GB", 2),
      format_number(decode_bytes_per_token / decode_s_per_token / 1e9, "GB/s"),
      format_percent(decode_bandwidth_fraction));
  row("caption (1 image)", format_seconds(caption_s),
      format_number(static_cast<double>(new_tokens), "tokens", 0),
      format_number(1 / decode_s_per_token, "tokens/s"), "");
  if (batch > 0)
    row(str_cat("batch of ", batch), format_seconds(batch_s), "",
        format_number(images_per_s, "images/s", 2), "");
  row("peak RSS", format_number(static_cast<double>(peak_rss_bytes) / 1e9, "GB", 2), "", "", "");
  os << "\nvision/Q-Former/prefill: FLOPs / time / GEMM limit; decode: weight bytes read per token "
        "/ time / "
        "memory bandwidth\n";
  if (!peak_rss_reset)
    os << "note: the peak RSS could not be reset after the limit measurements; it includes their "
          "buffers\n";
  return os.str();
}

}  // namespace blip2::bench
