// blip2 make-random --arch opt-2.7b|opt-6.7b|flan-t5-xl -o DIR [--dtype f32|f16|bf16] [--seed N]
// A full-size BLIP-2 checkpoint with random weights in the Hugging Face layout, for benchmarks
// (see src/bench/random_model.h).
#include <algorithm>
#include <cstdio>
#include <iostream>

#include "bench/arch_configs.h"
#include "bench/random_model.h"
#include "commands.h"
#include "core/dtype.h"
#include "core/error.h"
#include "progress.h"

namespace blip2::cli {

namespace {

struct MakeRandomArgs {
  std::string arch;
  std::string out;
  std::string dtype = "f32";
  uint64_t seed = 0;
  size_t threads = 0;
  bool overwrite = false;
  uint64_t shard_mb = 0;  // hidden: smaller shards, so the tests exercise the sharded layout
};

int run_make_random(const MakeRandomArgs& a) {
  const bench::ArchInfo& arch = bench::find_arch(a.arch);
  const auto dtype = dtype_from_user_string(a.dtype);
  if (!dtype || *dtype == DType::kF64)
    fail(ErrorKind::kInvalidArgument, "--dtype ", a.dtype,
         " is not a weight dtype; use f32, f16 or bf16");
  bench::RandomModelOptions o;
  o.arch = arch.name;
  o.dtype = *dtype;
  o.seed = a.seed;
  o.overwrite = a.overwrite;
  if (a.shard_mb > 0) o.max_shard_bytes = a.shard_mb << 20;
  ThreadPool pool(a.threads);
  std::cerr << "making " << arch.description << " with random weights (" << a.dtype << ", seed "
            << a.seed << ") in " << a.out << "\n";
  constexpr uint64_t kMiB = 1 << 20;
  std::unique_ptr<Progress> progress;
  int64_t shown = 0;
  const bench::RandomModelSummary s =
      bench::write_random_model(a.out, o, pool, [&](uint64_t done, uint64_t total) {
        const auto total_mib = static_cast<int64_t>((total + kMiB - 1) / kMiB);
        if (!progress) progress = std::make_unique<Progress>("writing weights (MiB)", total_mib);
        const int64_t now = done >= total ? total_mib : static_cast<int64_t>(done / kMiB);
        if (now > shown) progress->advance(now - shown);
        shown = std::max(shown, now);
      });
  if (progress) progress->finish();
  std::printf(
      "wrote %s: %s, %.3f B parameters, %.2f GB of %s weights in %zu file%s, tokenizer of %lld "
      "tokens\n",
      a.out.c_str(), arch.name.c_str(), static_cast<double>(s.params) / 1e9,
      static_cast<double>(s.weight_bytes) / 1e9, a.dtype.c_str(), s.shards,
      s.shards == 1 ? "" : "s", static_cast<long long>(s.tokenizer_size));
  return 0;
}

}  // namespace

void register_make_random_command(CLI::App& app, Action& action) {
  auto args = std::make_shared<MakeRandomArgs>();
  CLI::App* c = app.add_subcommand(
      "make-random", "Write a full-size BLIP-2 checkpoint with random weights (benchmarks)");
  c->add_option("--arch", args->arch, "Architecture: " + bench::listed_arch_names())->required();
  c->add_option("-o,--output", args->out, "Output folder (new or empty)")->required();
  c->add_option("--dtype", args->dtype, "Stored dtype: f32, f16 or bf16")->capture_default_str();
  c->add_option("--seed", args->seed, "Random seed (the weights are a function of it)")
      ->capture_default_str();
  c->add_option("--threads", args->threads, "Threads (default: one per physical core)")
      ->check(CLI::Range(0, 1024));
  c->add_flag("--overwrite", args->overwrite,
              "Replace the model files of a non-empty output folder");
  c->add_option("--shard-size-mb", args->shard_mb, "Largest shard in MiB (default 4 GB)")
      ->group("");
  c->callback([&action, args] { action = [args] { return run_make_random(*args); }; });
}

}  // namespace blip2::cli
