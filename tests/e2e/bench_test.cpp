// Random benchmark models (`blip2 make-random`, src/bench/random_model.h) and `blip2 bench`, on the
// tiny test architectures so everything runs in seconds: the layout is the reference's (names and
// shapes equal the fixtures'), the weights are deterministic and of the promised scale, the
// folders load and caption, and the bench's JSON carries every key with a usable value.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <set>

#include "bench/arch_configs.h"
#include "bench/machine_limits.h"
#include "bench/model_cost.h"
#include "bench/random_model.h"
#include "bench/random_tokenizer.h"
#include "blip2/blip2.h"
#include "common/cli_runner.h"
#include "common/test_util.h"
#include "image/decode.h"
#include "io/checkpoint.h"
#include "tokenizer/tokenizer.h"

namespace blip2::test {
namespace {

namespace fs = std::filesystem;

const char* kImage = "opt-tiny/expected/images/img0_rgb_640x480.jpg";

// name -> shape of every tensor of a checkpoint.
std::map<std::string, Shape> layout(const Checkpoint& c) {
  std::map<std::string, Shape> m;
  for (const std::string& n : c.names()) m[n] = c.find(n)->shape;
  return m;
}

GenerationOptions greedy(int64_t tokens) {
  GenerationOptions g;
  g.num_beams = 1;
  g.max_new_tokens = tokens;
  return g;
}

CaptionResult caption_of(const std::shared_ptr<const Engine>& engine, int64_t tokens = 20) {
  Session s(engine);
  return s.caption(decode_image_file(data_path(kImage)), "", greedy(tokens));
}

// ------------------------------------------------------------------------------ layout and values

TEST(RandomModel, TensorListIsTheFixturesLayout) {
  // tiny-opt / tiny-t5 have the fixtures' configs, so the lists must be the reference's
  // state_dict exactly (names, shapes; tied copies left out).
  for (const auto& [arch, fixture] :
       {std::pair{"tiny-opt", "opt-tiny"}, std::pair{"tiny-t5", "t5-tiny"}}) {
    const bench::ArchInfo& a = bench::find_arch(arch);
    const Blip2Config c = blip2_config_from_json(a.config, a.name);
    std::map<std::string, Shape> ours;
    for (const bench::TensorSpec& s : bench::blip2_tensor_specs(c, c.lm_vocab_size()))
      ours[s.name] = s.shape;
    EXPECT_EQ(ours, layout(*Checkpoint::open(data_path(fixture)))) << arch;
  }
}

TEST(RandomModel, FullSizeArchitecturesHaveThePublishedSizes) {
  auto params = [](const char* arch) {
    const bench::ArchInfo& a = bench::find_arch(arch);
    const Blip2Config c = blip2_config_from_json(a.config, a.name);
    int64_t n = 0;
    for (const bench::TensorSpec& s : bench::blip2_tensor_specs(c, 100)) n += s.numel();
    return n;
  };
  // ViT-g (985.9M) + Q-Former with queries and projection; OPT-2.7b 2.65B; FlanT5-XL 2.85B.
  EXPECT_NEAR(params("opt-2.7b") / 1e9, 3.745, 0.01);
  EXPECT_NEAR(params("opt-6.7b") / 1e9, 7.75, 0.02);
  EXPECT_NEAR(params("flan-t5-xl") / 1e9, 3.94, 0.02);
  const Blip2Config c = blip2_config_from_json(bench::find_arch("opt-2.7b").config, "opt-2.7b");
  EXPECT_EQ(c.vision.hidden_size, 1408);
  EXPECT_EQ(c.vision.num_hidden_layers, 39);
  EXPECT_EQ(c.opt.hidden_size, 2560);
  EXPECT_EQ(c.opt.num_hidden_layers, 32);
  EXPECT_EQ(c.opt.ffn_dim, 10240);
  EXPECT_EQ(c.opt.vocab_size, 50272);
  const Blip2Config t = blip2_config_from_json(bench::find_arch("flan-t5-xl").config, "flan-t5-xl");
  EXPECT_EQ(t.t5.d_model, 2048);
  EXPECT_EQ(t.t5.d_ff, 5120);
  EXPECT_EQ(t.t5.num_layers, 24);
  EXPECT_EQ(t.t5.num_decoder_layers, 24);
}

TEST(RandomModel, ValuesAreDeterministicAndOfTheStatedScale) {
  const Blip2Config c = blip2_config_from_json(bench::find_arch("tiny-opt").config, "tiny-opt");
  const auto specs = bench::blip2_tensor_specs(c, /*tokenizer_size=*/1000);
  ThreadPool one(1), two(2);
  const auto a = bench::random_tensors(specs, DType::kF32, 7, one);
  const auto b = bench::random_tensors(specs, DType::kF32, 7, two);
  const auto other = bench::random_tensors(specs, DType::kF32, 8, two);
  ASSERT_EQ(a.size(), specs.size());
  for (size_t i = 0; i < specs.size(); ++i) {
    const bench::TensorSpec& s = specs[i];
    const float* x = a[i].second.data<float>();
    const float* y = b[i].second.data<float>();
    const float* z = other[i].second.data<float>();
    const int64_t n = s.numel();
    ASSERT_EQ(std::memcmp(x, y, static_cast<size_t>(n) * 4), 0)
        << s.name << " depends on the thread count";
    EXPECT_NE(std::memcmp(x, z, static_cast<size_t>(n) * 4), 0) << s.name << " ignores the seed";
    // Mean and spread of the values that are not forced to zero.
    const int64_t row = s.shape.size() >= 2 ? n / s.shape[0] : n;
    const int64_t third = n / 3;
    double sum = 0, sq = 0;
    int64_t count = 0;
    for (int64_t k = 0; k < n; ++k) {
      ASSERT_TRUE(std::isfinite(x[k])) << s.name;
      const bool zero = (s.init == bench::Init::kQkvBias && k >= third && k < 2 * third) ||
                        (s.zero_rows_from >= 0 && k / row >= s.zero_rows_from);
      if (zero) {
        ASSERT_EQ(x[k], 0.0f) << s.name << " element " << k;
        continue;
      }
      sum += x[k];
      sq += static_cast<double>(x[k]) * x[k];
      ++count;
    }
    if (s.init == bench::Init::kPairedNormal) {
      for (int64_t k = 0; k + 1 < n; k += 2) {
        ASSERT_EQ(x[k + 1], -x[k]) << s.name << ": rows must sum to zero";
      }
    }
    if (count < 2000) continue;  // too few for the statistics below
    const double mean = sum / count, sd = std::sqrt(sq / count - mean * mean);
    // 5 sigma: the seed is fixed, so this is deterministic; a bias in the generator would show.
    EXPECT_NEAR(mean, s.init == bench::Init::kOnes ? 1.0 : 0.0, 5 * s.std / std::sqrt(count) + 1e-6)
        << s.name;
    EXPECT_NEAR(sd, s.std, 0.05 * s.std) << s.name;
  }
  // OPT's fc2 rows sum to zero; its attention output is scaled down (0.05 / sqrt(64)).
  for (const bench::TensorSpec& s : specs) {
    if (s.name.find("language_model") == std::string::npos) continue;
    if (s.name.find("fc2.weight") != std::string::npos) {
      EXPECT_EQ(s.init, bench::Init::kPairedNormal) << s.name;
    }
    if (s.name.find("out_proj.weight") != std::string::npos) {
      EXPECT_FLOAT_EQ(s.std, 0.05f / 8) << s.name;
    }
  }
  // The vocabulary rows the tokenizer lacks are zero (as in the published checkpoints).
  const auto embed = std::find_if(specs.begin(), specs.end(), [](const auto& s) {
    return s.name == "language_model.model.decoder.embed_tokens.weight";
  });
  ASSERT_NE(embed, specs.end());
  EXPECT_EQ(embed->zero_rows_from, 1000);
}

TEST(RandomModel, DecodeBytesCountWhatAStepReads) {
  // Independent of model_cost.cpp's formulas: sum the spec list by the rule "every LM weight a
  // decode step multiplies by, one row of each table it looks up".
  for (const char* arch : {"opt-2.7b", "flan-t5-xl", "tiny-opt", "tiny-t5"}) {
    const Blip2Config c = blip2_config_from_json(bench::find_arch(arch).config, arch);
    double elements = 0;
    const int64_t D = c.lm_hidden_size();
    for (const bench::TensorSpec& s : bench::blip2_tensor_specs(c, c.lm_vocab_size())) {
      const std::string& n = s.name;
      if (n.rfind("language_model.", 0) != 0) continue;
      if (c.lm_type == LanguageModelType::kOpt) {
        if (n.find("embed_positions") != std::string::npos)
          elements += static_cast<double>(D);
        else
          elements += static_cast<double>(s.numel());  // embed_tokens = the tied LM head
        if (n.find("embed_tokens") != std::string::npos)
          elements += static_cast<double>(D);  // its row
      } else {
        if (n == "language_model.shared.weight")
          elements += static_cast<double>(D);
        else if (n == "language_model.lm_head.weight")
          elements += static_cast<double>(s.numel());
        else if (n.rfind("language_model.decoder.", 0) == 0 &&
                 n.find("relative_attention_bias") == std::string::npos &&
                 n.find("EncDecAttention.k.") == std::string::npos &&
                 n.find("EncDecAttention.v.") == std::string::npos)
          elements += static_cast<double>(s.numel());
      }
    }
    EXPECT_DOUBLE_EQ(bench::decode_weight_bytes(c, WeightFormat::kF32), 4 * elements) << arch;
    EXPECT_LT(bench::decode_weight_bytes(c, WeightFormat::kInt8),
              bench::decode_weight_bytes(c, WeightFormat::kBF16));
    EXPECT_LT(bench::decode_weight_bytes(c, WeightFormat::kQ4),
              bench::decode_weight_bytes(c, WeightFormat::kInt8));
  }
  // OPT-2.7b decode reads ~10.6 GB in f32: 32 layers x 78.7M + the 50272 x 2560 head.
  const Blip2Config c = blip2_config_from_json(bench::find_arch("opt-2.7b").config, "opt-2.7b");
  EXPECT_NEAR(bench::decode_weight_bytes(c, WeightFormat::kF32) / 1e9, 10.6, 0.1);
  // Vision: 39 x (2 * 257 * 25.2M + attention) + patch embedding = ~515 GFLOP per image.
  EXPECT_NEAR(bench::vision_flops(c) / 1e9, 515, 10);
}

// ------------------------------------------------------------------------------ tokenizers

TEST(RandomModel, TokenizersRoundTripText) {
  for (const char* arch : {"tiny-opt", "tiny-t5", "opt-2.7b", "flan-t5-xl"}) {
    TempDir dir;
    const int64_t size = bench::write_model_metadata(arch, dir.path(), DType::kF32, 2);
    const Blip2Config c = load_blip2_config(dir.path());
    EXPECT_LE(size, c.lm_vocab_size()) << arch;
    EXPECT_GT(size, 500) << arch;
    const auto tok = Tokenizer::load(dir.path());
    EXPECT_EQ(tok->size(), size) << arch;
    const std::string text = "a small red dog sitting on the beach, looking at 3 birds!";
    const std::vector<int32_t> ids = tok->encode(text);
    EXPECT_LT(ids.size(), text.size() / 2) << arch << ": the merges/pieces should shorten the text";
    EXPECT_EQ(tok->decode(ids), text) << arch;
    if (c.lm_type == LanguageModelType::kT5) {
      EXPECT_EQ(tok->token_to_id("<extra_id_0>"), size - 1);
      EXPECT_EQ(ids.back(), 1);  // </s>
    } else {
      EXPECT_EQ(ids.front(), 2);                                       // </s> as BOS
      EXPECT_EQ(tok->encode("\n", false), std::vector<int32_t>{202});  // the tiny config's EOS
    }
  }
}

// ------------------------------------------------------------------------------ folders

TEST(RandomModel, WrittenFolderLoadsAndCaptions) {
  TempDir dir;
  const std::string out = dir.file("t5");
  ThreadPool pool(2);
  bench::RandomModelOptions o;
  o.arch = "tiny-t5";
  o.seed = 3;
  o.max_shard_bytes = 1 << 20;  // several shards + index
  uint64_t last = 0, total = 0;
  const auto s = bench::write_random_model(out, o, pool, [&](uint64_t d, uint64_t t) {
    EXPECT_GE(d, last);
    last = d;
    total = t;
  });
  EXPECT_GT(s.shards, 1u);
  EXPECT_EQ(last, total);
  EXPECT_EQ(total, s.weight_bytes);
  EXPECT_TRUE(fs::exists(fs::path(out) / "model.safetensors.index.json"));
  for (const std::string& f : s.files) EXPECT_TRUE(fs::exists(fs::path(out) / f)) << f;
  EXPECT_EQ(layout(*Checkpoint::open(out)), layout(*Checkpoint::open(data_path("t5-tiny"))));

  const auto engine = Engine::load(out, two_threads());
  const CaptionResult r = caption_of(engine);
  EXPECT_FALSE(r.text.empty());
  // Not degenerate: a random model of the right scale does not repeat one token.
  EXPECT_GE(std::set<int32_t>(r.token_ids.begin(), r.token_ids.end()).size(), 3u) << r.text;

  // The same seed in memory gives the same model: the same caption.
  auto m = bench::InMemoryRandomModel::create("tiny-t5", DType::kF32, 3, pool);
  EngineOptions eo = two_threads();
  eo.checkpoint = m->checkpoint();
  const CaptionResult again = caption_of(Engine::load(m->dir(), eo));
  EXPECT_EQ(again.token_ids, r.token_ids);
  EXPECT_EQ(m->params(), s.params);
  const std::string tmp = m->dir();
  m.reset();
  EXPECT_FALSE(fs::exists(tmp)) << "the in-memory model's folder is removed with it";
}

TEST(RandomModel, StoredDtypesLoad) {
  ThreadPool pool(2);
  for (DType t : {DType::kF16, DType::kBF16}) {
    TempDir dir;
    bench::RandomModelOptions o;
    o.arch = "tiny-opt";
    o.dtype = t;
    const auto s = bench::write_random_model(dir.file("m"), o, pool);
    EXPECT_EQ(s.shards, 1u);
    const auto ck = Checkpoint::open(dir.file("m"));
    EXPECT_EQ(ck->find("query_tokens")->dtype, t);
    EXPECT_EQ(load_json(dir.file("m/config.json"))["torch_dtype"],
              t == DType::kF16 ? "float16" : "bfloat16");
    const CaptionResult r = caption_of(Engine::load(dir.file("m"), two_threads()));
    EXPECT_GE(std::set<int32_t>(r.token_ids.begin(), r.token_ids.end()).size(), 3u) << r.text;
  }
}

// ------------------------------------------------------------------------------ machine limits

TEST(MachineLimits, MeasuresSomethingPlausible) {
  ThreadPool pool(2);
  const auto bw = bench::measure_read_bandwidth(pool, 64 << 20, 2);
  EXPECT_GT(bw.gb_per_s, 0.1);
  EXPECT_LT(bw.gb_per_s, 10000);
  EXPECT_GE(bw.buffer_bytes, 60u << 20);
  EXPECT_FALSE(bw.isa.empty());
  const auto g = bench::measure_gemm(pool, 64, 256, 128, 2);
  EXPECT_GT(g.gflops, 0.01);
  EXPECT_LT(g.gflops, 1e6);
  EXPECT_GT(bench::peak_rss_bytes(), 1u << 20);
  EXPECT_FALSE(bench::machine_description().empty());
}

// ------------------------------------------------------------------------------ CLI

TEST(MakeRandomCli, WritesALoadableFolderAndRefusesToClobber) {
  TempDir dir;
  const std::string out = dir.file("opt");
  CliResult r =
      run_cli({"make-random", "--arch", "tiny-opt", "-o", out, "--seed", "5", "--threads", "2"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  for (const char* f : {"config.json", "generation_config.json", "preprocessor_config.json",
                        "vocab.json", "merges.txt", "tokenizer_config.json", "model.safetensors"})
    EXPECT_TRUE(fs::exists(fs::path(out) / f)) << f;
  const CaptionResult c = caption_of(Engine::load(out, two_threads()));
  EXPECT_GE(std::set<int32_t>(c.token_ids.begin(), c.token_ids.end()).size(), 3u) << c.text;

  r = run_cli({"make-random", "--arch", "tiny-opt", "-o", out});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("--overwrite"), std::string::npos) << r.err;
  r = run_cli({"make-random", "--arch", "tiny-opt", "-o", out, "--overwrite", "--seed", "5"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(caption_of(Engine::load(out, two_threads())).token_ids, c.token_ids)
      << "same seed, same weights";

  r = run_cli({"make-random", "--arch", "opt-175b", "-o", dir.file("x")});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("opt-2.7b, opt-6.7b, flan-t5-xl"), std::string::npos) << r.err;
  r = run_cli({"make-random", "--arch", "tiny-opt", "-o", dir.file("x"), "--dtype", "int8"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_FALSE(fs::exists(dir.file("x/model.safetensors")));
}

void expect_bench_json(const nlohmann::json& j, int64_t batch) {
  for (const char* key :
       {"load_s", "preprocess_s", "vision_s", "qformer_s", "prefill_s", "decode_s_per_token",
        "caption_s", "peak_rss_bytes", "mem_read_gbs", "gemm_gflops", "decode_bandwidth_fraction",
        "vision_gemm_fraction", "images_per_s", "params", "weight_bytes", "prefill_gemm_fraction",
        "decode_bytes_per_token"}) {
    ASSERT_TRUE(j.contains(key)) << key << " missing in " << j.dump();
    ASSERT_TRUE(j[key].is_number()) << key;
    const double v = j[key].get<double>();
    EXPECT_TRUE(std::isfinite(v) && v > 0) << key << " = " << v;
  }
  EXPECT_EQ(j["threads"], 2);
  EXPECT_EQ(j["batch"], batch);
  EXPECT_EQ(j["statistic"], "median");
  // The caption is made of parts: its time is at least the sum of the stages'.
  const double stages = j["preprocess_s"].get<double>() + j["vision_s"].get<double>() +
                        j["qformer_s"].get<double>() + j["prefill_s"].get<double>() +
                        (j["new_tokens"].get<double>() - 1) * j["decode_s_per_token"].get<double>();
  EXPECT_GE(j["caption_s"].get<double>(), 0.5 * stages);
}

TEST(BenchCli, RandomArchitectureInMemory) {
  const CliResult r =
      run_cli({"bench", "--arch", "tiny-opt", "--new-tokens", "4", "--batch", "2", "--repeats", "1",
               "--threads", "2", "--mem-buffer-mb", "64", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto lines = json_lines(r.out);
  ASSERT_EQ(lines.size(), 1u) << r.out;
  const nlohmann::json& j = lines[0];
  expect_bench_json(j, 2);
  EXPECT_EQ(j["arch"], "tiny-opt");
  EXPECT_EQ(j["dtype"], "f32");
  EXPECT_EQ(j["new_tokens"], 4);
  // The same parameters as the fixture with these shapes.
  int64_t params = 0;
  const auto ck = Checkpoint::open(data_path("opt-tiny"));
  for (const std::string& n : ck->names()) params += checked_numel(ck->find(n)->shape);
  EXPECT_EQ(j["params"], params);
  EXPECT_DOUBLE_EQ(j["weight_bytes"].get<double>(), 4.0 * static_cast<double>(params));
}

TEST(BenchCli, ModelFolderWithTable) {
  CliResult r = run_cli({"bench", "-m", data_path("t5-tiny"), "--new-tokens", "3", "--batch", "1",
                         "--repeats", "2", "--threads", "2", "--mem-buffer-mb", "64", "--json",
                         "--image", data_path(kImage)});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto lines = json_lines(r.out);
  ASSERT_EQ(lines.size(), 1u) << r.out;
  expect_bench_json(lines[0], 1);
  EXPECT_EQ(lines[0]["arch"], "tiny-t5");  // recognised from the config
  EXPECT_EQ(lines[0]["image"], data_path(kImage));

  r = run_cli({"bench", "-m", data_path("opt-tiny"), "--new-tokens", "2", "--batch", "0",
               "--repeats", "1", "--threads", "2", "--mem-buffer-mb", "64"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  for (const char* row : {"load", "vision encoder", "Q-Former", "LM prefill", "decode / token",
                          "caption", "peak RSS"})
    EXPECT_NE(r.out.find(row), std::string::npos) << row << " missing in\n" << r.out;
}

TEST(BenchCli, RefusesBadOptions) {
  CliResult r = run_cli({"bench"});
  EXPECT_NE(r.exit_code, 0);
  r = run_cli({"bench", "--arch", "tiny-opt", "-m", data_path("opt-tiny")});
  EXPECT_NE(r.exit_code, 0);
  r = run_cli({"bench", "--arch", "tiny-opt", "--dtype", "f8"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("int8"), std::string::npos) << r.err;
  r = run_cli({"bench", "--arch", "gpt-5", "--mem-buffer-mb", "64"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("flan-t5-xl"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace blip2::test
