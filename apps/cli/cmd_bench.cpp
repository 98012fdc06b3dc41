// blip2 bench (-m DIR | --arch NAME) [--dtype f32|bf16|int8|q4] [--threads N] [--new-tokens N]
//             [--batch N] [--repeats N] [--image FILE] [--max-isa LEVEL] [--json]
// Times each stage of captioning and reports it as a fraction of this machine's measured limits
// (see src/bench/bench.h and docs/performance.md).
#include <iostream>

#include "backend/cpu/kernels.h"
#include "bench/arch_configs.h"
#include "bench/bench.h"
#include "commands.h"
#include "core/dtype.h"
#include "core/error.h"

namespace blip2::cli {

namespace {

struct BenchArgs {
  bench::BenchOptions options;
  std::string dtype = "f32";
  std::string max_isa = "best";
  bool json = false;
  uint64_t mem_buffer_mb = 0;
};

int run_bench_command(BenchArgs& a) {
  const auto format = weight_format_from_string(a.dtype);
  if (!format)
    fail(ErrorKind::kInvalidArgument, "--dtype ", a.dtype,
         " is not a weight format; use f32, bf16, int8 or q4");
  a.options.weights = *format;
  // Process-wide, so set before anything runs: what a machine without the newer units gets.
  cpu::set_max_isa(a.max_isa);
  a.options.bandwidth_buffer_bytes = a.mem_buffer_mb << 20;
  const bench::BenchResult r = bench::run_bench(
      a.options, [](const std::string& line) { std::cerr << "bench: " << line << std::endl; });
  if (a.json)
    std::cout << r.to_json().dump() << "\n";
  else
    std::cout << r.to_table();
  return 0;
}

}  // namespace

void register_bench_command(CLI::App& app, Action& action) {
  auto args = std::make_shared<BenchArgs>();
  bench::BenchOptions& o = args->options;
  CLI::App* c = app.add_subcommand(
      "bench", "Time each stage against this machine's memory bandwidth and GEMM limits");
  auto* model =
      c->add_option("-m,--model", o.model_dir, "BLIP-2 model folder (Hugging Face layout)");
  auto* arch = c->add_option(
      "--arch", o.arch,
      "Architecture with random weights made in memory: " + bench::listed_arch_names());
  model->excludes(arch);
  c->add_option("--dtype", args->dtype, "Compute format of the weights: f32, bf16, int8 or q4")
      ->capture_default_str();
  c->add_option("--threads", o.threads, "Threads (default: one per physical core)")
      ->check(CLI::Range(0, 1024));
  c->add_option("--new-tokens", o.new_tokens,
                "Tokens generated per caption (EOS suppressed until then)")
      ->check(CLI::Range(2, 4096))
      ->capture_default_str();
  c->add_option("--batch", o.batch, "Images per batch for images/s (0: skip)")
      ->check(CLI::Range(0, 256))
      ->capture_default_str();
  c->add_option("--repeats", o.repeats, "Timed runs per measurement (the median is reported)")
      ->check(CLI::Range(1, 100))
      ->capture_default_str();
  c->add_option("--image", o.image, "Image file (default: a synthetic 640x480 JPEG)");
  c->add_option("--prompt", o.prompt, "Prompt the caption continues (default: none)");
  c->add_option("--seed", o.seed, "Seed of the random weights (--arch)")->capture_default_str();
  c->add_option("--max-isa", args->max_isa,
                "Highest instruction set the kernels may use: best, AMX, AVX3, AVX2 or scalar")
      ->capture_default_str();
  c->add_flag("--json", args->json, "Print one JSON object instead of the table");
  c->add_option("--mem-buffer-mb", args->mem_buffer_mb, "Bandwidth buffer in MiB (default: 8x LLC)")
      ->group("");
  c->callback([&action, args] {
    if (args->options.model_dir.empty() && args->options.arch.empty())
      throw CLI::RequiredError("bench needs -m MODEL_DIR or --arch NAME");
    action = [args] { return run_bench_command(*args); };
  });
}

}  // namespace blip2::cli
