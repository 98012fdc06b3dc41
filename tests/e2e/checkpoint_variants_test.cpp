// Checkpoints as users download them, made by the test from the fixtures: sharded safetensors
// with an index in fp16 and bf16, the newer hub revisions (image_token_index, an added <image>
// token, processor_config.json), 364 px vision towers, models given as hub repo ids resolved
// through a fake Hugging Face cache, and checkpoints whose files disagree with their config.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>

#include "blip2/blip2.h"
#include "common/test_util.h"
#include "io/checkpoint.h"
#include "io/safetensors.h"
#include "tokenizer/tokenizer.h"

namespace blip2 {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using Tensors = std::vector<std::pair<std::string, Tensor>>;

// ------------------------------------------------------------------ helpers

// Copies a model folder's files except the weights (and the expected/ reference data).
void copy_model_files(const std::string& src, const std::string& dst) {
  fs::create_directories(dst);
  for (const auto& e : fs::directory_iterator(src)) {
    if (!e.is_regular_file()) continue;
    const std::string name = e.path().filename().string();
    if (name.ends_with(".safetensors") || name == "model.safetensors.index.json") continue;
    fs::copy_file(e.path(), fs::path(dst) / name, fs::copy_options::overwrite_existing);
  }
}

Tensors load_tensors(const std::string& dir) {
  auto ckpt = Checkpoint::open(dir);
  Tensors out;
  for (const std::string& name : ckpt->names())
    out.emplace_back(name, ckpt->get(name).to(DType::kF32));
  return out;
}

// Every tensor rounded to `dtype`: stored in that dtype with `keep_dtype`, else converted back to
// f32 (f32 values equal to the rounded ones).
Tensors rounded(const Tensors& in, DType dtype, bool keep_dtype) {
  Tensors out;
  for (const auto& [name, t] : in) {
    Tensor r = t.to(dtype);
    out.emplace_back(name, keep_dtype ? r : r.to(DType::kF32));
  }
  return out;
}

// Writes the tensors as `shards` files model-0000i-of-0000n.safetensors plus the index that
// transformers' save_pretrained writes.
void write_sharded(const std::string& dir, const Tensors& tensors, int shards) {
  json index;
  size_t total = 0;
  std::vector<Tensors> parts(shards);
  for (size_t i = 0; i < tensors.size(); ++i)
    parts[i * shards / tensors.size()].push_back(tensors[i]);
  for (int s = 0; s < shards; ++s) {
    char name[64];
    std::snprintf(name, sizeof(name), "model-%05d-of-%05d.safetensors", s + 1, shards);
    write_safetensors(dir + "/" + name, parts[s], {{"format", "pt"}});
    for (const auto& [t, v] : parts[s]) {
      index["weight_map"][t] = name;
      total += v.nbytes();
    }
  }
  index["metadata"]["total_size"] = total;
  std::ofstream(dir + "/model.safetensors.index.json") << index.dump(2);
}

json read_json(const std::string& path) {
  return test::load_json(path);
}
void write_json(const std::string& path, const json& j) {
  std::ofstream(path) << j.dump(2);
}

const Tensor* find(const std::vector<std::pair<std::string, Tensor>>& v, const std::string& name) {
  for (const auto& [n, t] : v)
    if (n == name) return &t;
  return nullptr;
}

// The fixture's (image, prompt) cases.
struct Case {
  RgbImage image;
  std::string prompt;
  std::string label;
};
std::vector<Case> cases(const std::string& fixture) {
  const std::string dir = test::data_path(fixture);
  std::vector<Case> out;
  const json gen = test::load_json(dir + "/expected/generation.json");
  for (const auto& r : gen["results"]) {
    const std::string file = r["image_file"];
    out.push_back({decode_image_file(dir + "/expected/" + file), r["prompt"],
                   file + " \"" + r["prompt"].get<std::string>() + "\""});
  }
  return out;
}

// Same greedy and beam tokens on every case; with `logits`, the same LM logits too.
void expect_same_outputs(const std::shared_ptr<const Engine>& a,
                         const std::shared_ptr<const Engine>& b, const std::vector<Case>& cs,
                         bool logits, double logits_tol = 0.0) {
  Session sa(a), sb(b);
  GenerationOptions o;
  o.max_new_tokens = 20;
  for (const Case& c : cs) {
    SCOPED_TRACE(c.label);
    for (int64_t beams : {1, 3}) {
      o.num_beams = beams;
      EXPECT_EQ(sa.caption(c.image, c.prompt, o).token_ids,
                sb.caption(c.image, c.prompt, o).token_ids)
          << "beams " << beams;
    }
    if (!logits) continue;
    const auto fa = sa.features(c.image, c.prompt), fb = sb.features(c.image, c.prompt);
    const Tensor* la = find(fa, "logits");
    const Tensor* lb = find(fb, "logits");
    ASSERT_TRUE(la && lb);
    const auto d = test::compare(*la, *lb);
    EXPECT_LE(d.max_abs, logits_tol) << "logits differ by " << d.max_abs << " at " << d.worst;
  }
}

class ScopedEnv {
 public:
  ScopedEnv(const char* name, const std::optional<std::string>& value) : name_(name) {
    if (const char* v = std::getenv(name)) old_ = v;
    if (value) {
      ::setenv(name, value->c_str(), 1);
    } else {
      ::unsetenv(name);
    }
  }
  ~ScopedEnv() {
    if (old_) {
      ::setenv(name_, old_->c_str(), 1);
    } else {
      ::unsetenv(name_);
    }
  }

 private:
  const char* name_;
  std::optional<std::string> old_;
};

// Every variable the cache lookup reads, pointed away from the real cache.
struct IsolatedHubEnv {
  explicit IsolatedHubEnv(const std::string& home)
      : hub(("HF_HUB_CACHE"), std::nullopt),
        legacy("HUGGINGFACE_HUB_CACHE", std::nullopt),
        hf_home("HF_HOME", std::nullopt),
        xdg("XDG_CACHE_HOME", std::nullopt),
        home_env("HOME", home) {}
  ScopedEnv hub, legacy, hf_home, xdg, home_env;
};

std::string error_of(const std::function<void()>& f, ErrorKind* kind = nullptr) {
  try {
    f();
  } catch (const Error& e) {
    if (kind) *kind = e.kind();
    return e.what();
  }
  return "(no error)";
}

// ------------------------------------------------------------------ dtypes and shards

class ReducedPrecision : public ::testing::TestWithParam<std::tuple<std::string, DType>> {};

// A sharded fp16 (bf16) copy computes in f32 exactly what an unsharded f32 copy holding the same
// rounded values computes: same tokens, same logits bit for bit.
TEST_P(ReducedPrecision, ShardedCopyEqualsF32CopyOfTheRoundedWeights) {
  const auto [fixture, dtype] = GetParam();
  const std::string src = test::data_path(fixture);
  test::TempDir tmp;
  const Tensors original = load_tensors(src);
  const std::string sharded = tmp.file("sharded"), f32 = tmp.file("f32");
  copy_model_files(src, sharded);
  copy_model_files(src, f32);
  write_sharded(sharded, rounded(original, dtype, /*keep_dtype=*/true), 3);
  write_safetensors(f32 + "/model.safetensors", rounded(original, dtype, /*keep_dtype=*/false));

  // The copy really is sharded and stored in the reduced dtype.
  const auto ckpt = Checkpoint::open(sharded);
  EXPECT_EQ(ckpt->files().size(), 3u);
  for (const std::string& name : ckpt->names()) EXPECT_EQ(ckpt->find(name)->dtype, dtype) << name;

  auto a = Engine::load(sharded, test::two_threads());
  auto b = Engine::load(f32, test::two_threads());
  expect_same_outputs(a, b, cases(fixture), /*logits=*/true, /*logits_tol=*/0.0);
}

INSTANTIATE_TEST_SUITE_P(Checkpoints, ReducedPrecision,
                         ::testing::Combine(::testing::Values("opt-tiny", "t5-tiny"),
                                            ::testing::Values(DType::kF16, DType::kBF16)),
                         [](const auto& info) {  // e.g. opt_tiny_F16
                           std::string name = std::get<0>(info.param) + "_" +
                                              std::string(dtype_name(std::get<1>(info.param)));
                           std::replace(name.begin(), name.end(), '-', '_');
                           return name;
                         });

TEST(Shards, AnIndexNamingAMissingShardIsRefusedNamingIt) {
  test::TempDir tmp;
  const std::string dir = tmp.file("m");
  copy_model_files(test::data_path("opt-tiny"), dir);
  write_sharded(dir, load_tensors(test::data_path("opt-tiny")), 2);
  fs::remove(dir + "/model-00002-of-00002.safetensors");
  const std::string msg = error_of([&] { Engine::load(dir); });
  EXPECT_NE(msg.find("model-00002-of-00002.safetensors"), std::string::npos) << msg;
}

// ------------------------------------------------------------------ newer hub revisions

// transformers >= 4.47 re-saved the hub checkpoints: config.json gains image_token_index and
// num_query_tokens, the tokenizer an added "<image>" token, and processor_config.json appears.
// The language model's input is the same [queries; BOS; prompt], so the tokens are the same.
class NewStyle : public ::testing::TestWithParam<std::string> {};

TEST_P(NewStyle, CopyWithImageTokenGivesTheSameTokens) {
  const std::string fixture = GetParam();
  const std::string src = test::data_path(fixture);
  test::TempDir tmp;
  const std::string dir = tmp.file("new-style");
  copy_model_files(src, dir);
  fs::copy_file(src + "/model.safetensors", dir + "/model.safetensors");

  auto original = Engine::load(src, test::two_threads());
  const int32_t image_token =
      static_cast<int32_t>(original->tokenizer().size());  // the next free id
  json config = read_json(dir + "/config.json");
  config["image_token_index"] = image_token;
  config["num_query_tokens"] = original->config().num_query_tokens;
  write_json(dir + "/config.json", config);
  json tok = read_json(dir + "/tokenizer_config.json");
  tok["added_tokens_decoder"][std::to_string(image_token)] = {
      {"content", "<image>"}, {"lstrip", false},      {"normalized", false},
      {"rstrip", false},      {"single_word", false}, {"special", true}};
  write_json(dir + "/tokenizer_config.json", tok);
  write_json(dir + "/processor_config.json",
             {{"num_query_tokens", original->config().num_query_tokens},
              {"processor_class", "Blip2Processor"}});

  auto fresh = Engine::load(dir, test::two_threads());
  EXPECT_EQ(fresh->config().image_token_index, image_token);
  EXPECT_EQ(fresh->tokenizer().size(), original->tokenizer().size() + 1);
  // The added token is one id in text...
  const std::vector<int32_t> ids =
      fresh->tokenizer().encode("<image>", /*add_special_tokens=*/false);
  EXPECT_EQ(ids, std::vector<int32_t>{image_token});
  // ...and prompts without it tokenize as before.
  for (const Case& c : cases(fixture))
    EXPECT_EQ(fresh->prompt_ids(c.prompt), original->prompt_ids(c.prompt));
  expect_same_outputs(original, fresh, cases(fixture), /*logits=*/false);
}

INSTANTIATE_TEST_SUITE_P(Checkpoints, NewStyle, ::testing::Values("opt-tiny", "t5-tiny"));

// ------------------------------------------------------------------ 364 px

// A copy of opt-tiny with image_size 364: (364 / 14)^2 + 1 = 677 positions.
std::string make_364_copy(const std::string& dir, int64_t positions) {
  const std::string src = test::data_path("opt-tiny");
  copy_model_files(src, dir);
  json config = read_json(dir + "/config.json");
  config["vision_config"]["image_size"] = 364;
  write_json(dir + "/config.json", config);
  json pre = read_json(dir + "/preprocessor_config.json");
  pre["size"] = {{"height", 364}, {"width", 364}};
  write_json(dir + "/preprocessor_config.json", pre);
  Tensors t = load_tensors(src);
  std::mt19937 rng(364);
  std::normal_distribution<float> normal(0.0f, 0.5f);
  for (auto& [name, v] : t) {
    if (name != "vision_model.embeddings.position_embedding") continue;
    std::vector<float> values(positions * v.dim(2));
    for (float& x : values) x = normal(rng);
    v = Tensor::from_floats(values, {1, positions, v.dim(2)});
  }
  write_safetensors(dir + "/model.safetensors", t);
  return dir;
}

TEST(ImageSize364, LoadsAndRunsWithThePositionEmbeddingOfTheConfig) {
  test::TempDir tmp;
  const std::string dir = make_364_copy(tmp.file("coco"), 677);
  auto engine = Engine::load(dir, test::two_threads());
  EXPECT_EQ(engine->image_size(), 364);
  Session session(engine);
  const RgbImage im =
      decode_image_file(test::data_path("opt-tiny/expected/images/img1_rgb_300x500.png"));
  const auto features = session.features(im, std::string("a photo of"));
  EXPECT_EQ(shape_to_string(find(features, "pixel_values")->shape()),
            shape_to_string({1, 3, 364, 364}));
  EXPECT_EQ(find(features, "vision_last_hidden_state")->dim(1), 677);
  GenerationOptions o;
  o.max_new_tokens = 8;
  const CaptionResult r = session.caption(im, "", o);
  EXPECT_FALSE(r.token_ids.empty());
  o.num_beams = 3;
  EXPECT_FALSE(session.caption(im, "", o).token_ids.empty());
}

TEST(ImageSize364, AWrongPositionCountIsRefusedNamingTheTensor) {
  test::TempDir tmp;
  const std::string dir = make_364_copy(tmp.file("coco"), 257);  // the 224 px count
  ErrorKind kind{};
  const std::string msg = error_of([&] { Engine::load(dir); }, &kind);
  EXPECT_EQ(kind, ErrorKind::kFormat) << msg;
  EXPECT_NE(msg.find("vision_model.embeddings.position_embedding"), std::string::npos) << msg;
  EXPECT_NE(msg.find("677"), std::string::npos) << msg;
}

// ------------------------------------------------------------------ hub cache

// A cache laid out as huggingface_hub does: models--ORG--NAME/{refs/main, snapshots/<rev>/,
// blobs/}, snapshot files being symlinks into blobs. An older snapshot with a broken config.json
// is there too: refs/main must win over it.
void make_cache(const std::string& hub, const std::string& repo_folder,
                const std::string& fixture) {
  const fs::path repo = fs::path(hub) / repo_folder;
  const fs::path snap = repo / "snapshots" / "0123456789abcdef";
  fs::create_directories(snap);
  fs::create_directories(repo / "blobs");
  fs::create_directories(repo / "refs");
  int blob = 0;
  for (const auto& e : fs::directory_iterator(test::data_path(fixture))) {
    if (!e.is_regular_file()) continue;
    const fs::path b = repo / "blobs" / ("blob" + std::to_string(blob++));
    fs::copy_file(e.path(), b);
    fs::create_symlink(fs::path("../../blobs") / b.filename(), snap / e.path().filename());
  }
  std::ofstream(repo / "refs" / "main") << "0123456789abcdef";  // no newline, as the hub writes it
  const fs::path old = repo / "snapshots" / "fedcba9876543210";
  fs::create_directories(old);
  std::ofstream(old / "config.json") << "{ broken";
  fs::last_write_time(old, fs::file_time_type::clock::now() + std::chrono::hours(1));  // newest
}

TEST(HubCache, RepoIdResolvesThroughHfHubCache) {
  test::TempDir tmp;
  IsolatedHubEnv env(tmp.file("home"));
  make_cache(tmp.file("hub"), "models--test-org--opt-tiny", "opt-tiny");
  ScopedEnv cache("HF_HUB_CACHE", tmp.file("hub"));
  auto engine = Engine::load("test-org/opt-tiny", test::two_threads());
  EXPECT_EQ(fs::path(engine->model_dir()).filename(), "0123456789abcdef");
  expect_same_outputs(Engine::load(test::data_path("opt-tiny"), test::two_threads()), engine,
                      {cases("opt-tiny").front()}, /*logits=*/false);
}

TEST(HubCache, RepoIdResolvesThroughHfHomeAndHome) {
  test::TempDir tmp;
  {
    IsolatedHubEnv env(tmp.file("home"));
    make_cache(tmp.file("hf-home/hub"), "models--test-org--t5-tiny", "t5-tiny");
    ScopedEnv home("HF_HOME", tmp.file("hf-home"));
    auto engine = Engine::load("test-org/t5-tiny", test::two_threads());
    EXPECT_EQ(engine->config().lm_type, LanguageModelType::kT5);
  }
  {
    IsolatedHubEnv env(tmp.file("home"));  // ~/.cache/huggingface/hub
    make_cache(tmp.file("home/.cache/huggingface/hub"), "models--other--opt-tiny", "opt-tiny");
    auto engine = Engine::load("other/opt-tiny", test::two_threads());
    EXPECT_EQ(fs::path(engine->model_dir()).filename(), "0123456789abcdef");
  }
}

TEST(HubCache, MissingRepoIdSaysWhereItLookedAndHowToGetIt) {
  test::TempDir tmp;
  IsolatedHubEnv env(tmp.file("home"));
  ScopedEnv cache("HF_HUB_CACHE", tmp.file("hub"));
  ErrorKind kind{};
  const std::string msg = error_of([&] { Engine::load("Salesforce/blip2-opt-2.7b"); }, &kind);
  EXPECT_EQ(kind, ErrorKind::kNotFound);
  EXPECT_NE(msg.find(tmp.file("hub") + "/models--Salesforce--blip2-opt-2.7b"), std::string::npos)
      << msg;
  EXPECT_NE(
      msg.find(tmp.file("home") + "/.cache/huggingface/hub/models--Salesforce--blip2-opt-2.7b"),
      std::string::npos)
      << msg;
  EXPECT_NE(msg.find("huggingface-cli download Salesforce/blip2-opt-2.7b"), std::string::npos)
      << msg;
  // A plain path that does not exist is not a repo id.
  const std::string path_msg = error_of([&] { Engine::load(tmp.file("no/such/model")); }, &kind);
  EXPECT_EQ(kind, ErrorKind::kNotFound);
  EXPECT_NE(path_msg.find("no/such/model"), std::string::npos) << path_msg;
  // A weights file instead of its folder.
  const std::string file_msg =
      error_of([&] { Engine::load(test::data_path("opt-tiny/model.safetensors")); }, &kind);
  EXPECT_EQ(kind, ErrorKind::kInvalidArgument);
  EXPECT_NE(file_msg.find("is a file"), std::string::npos) << file_msg;
}

// ------------------------------------------------------------------ files that disagree

class Disagreeing : public ::testing::Test {
 protected:
  // A copy of opt-tiny after `edit_tensors` and `edit_config`; returns the load error.
  std::string load_error(const std::function<void(Tensors&)>& edit_tensors,
                         const std::function<void(json&)>& edit_config = {}) {
    const std::string dir = tmp_.file(std::to_string(n_++));
    copy_model_files(test::data_path("opt-tiny"), dir);
    Tensors t = load_tensors(test::data_path("opt-tiny"));
    edit_tensors(t);
    write_safetensors(dir + "/model.safetensors", t);
    if (edit_config) {
      json c = read_json(dir + "/config.json");
      edit_config(c);
      write_json(dir + "/config.json", c);
    }
    return error_of([&] { Engine::load(dir); });
  }
  test::TempDir tmp_;
  int n_ = 0;
};

TEST_F(Disagreeing, MissingTensorIsNamed) {
  const std::string msg = load_error([](Tensors& t) {
    std::erase_if(t, [](const auto& p) { return p.first == "language_projection.weight"; });
  });
  EXPECT_NE(msg.find("language_projection.weight"), std::string::npos) << msg;
}

TEST_F(Disagreeing, WrongShapeIsNamedWithBothShapes) {
  const std::string name = "qformer.encoder.layer.0.attention.attention.query.weight";
  const std::string msg = load_error([&](Tensors& t) {
    for (auto& [n, v] : t)
      if (n == name) v = Tensor::empty(DType::kF32, {64, 32});
  });
  EXPECT_NE(msg.find(name), std::string::npos) << msg;
  EXPECT_NE(msg.find("32"), std::string::npos) << msg;
}

TEST_F(Disagreeing, WrongVocabSizeIsNamed) {
  for (int vocab : {1600, 1400}) {
    const std::string msg =
        load_error([](Tensors&) {}, [&](json& c) { c["text_config"]["vocab_size"] = vocab; });
    EXPECT_NE(msg.find("language_model.model.decoder.embed_tokens.weight"), std::string::npos)
        << vocab << ": " << msg;
  }
}

TEST_F(Disagreeing, TokenizerLargerThanTheVocabularyIsRefused) {
  // The embedding matrix shrunk with the config: weights and config agree, the tokenizer does not.
  const std::string msg = load_error(
      [](Tensors& t) {
        for (auto& [n, v] : t)
          if (n == "language_model.model.decoder.embed_tokens.weight")
            v = v.slice(0, 0, 1400).contiguous();
      },
      [](json& c) { c["text_config"]["vocab_size"] = 1400; });
  EXPECT_NE(msg.find("tokenizer"), std::string::npos) << msg;
  EXPECT_NE(msg.find("1400"), std::string::npos) << msg;
}

}  // namespace
}  // namespace blip2
