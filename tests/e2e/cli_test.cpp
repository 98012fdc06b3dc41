// The CLI end to end: the reference's token ids from `blip2 caption --json`, and a one-line error
// with a non-zero exit (never a crash) for every kind of bad input.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "common/cli_runner.h"
#include "io/safetensors.h"

namespace blip2 {
namespace {

using test::run_cli;
namespace fs = std::filesystem;

const std::string kOpt = test::data_path("opt-tiny");

// A one-line error message on stderr, exit code 1 (not a crash: no signal, no abort).
void expect_clean_error(const test::CliResult& r, const std::string& fragment) {
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_NE(r.err.find("error"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find(fragment), std::string::npos) << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << "one line: " << r.err;
}

TEST(Cli, CaptionJsonGivesTheReferenceIds) {
  const auto gen = test::load_json(kOpt + "/expected/generation.json");
  for (const auto& r : gen["results"]) {
    if (r["prompt_index"] != 1) continue;  // "a photo of", every image
    SCOPED_TRACE(r["image_file"].get<std::string>());
    const std::string image = kOpt + "/expected/" + r["image_file"].get<std::string>();
    for (const char* beams : {"1", "3"}) {
      const auto res = run_cli({"caption", "-m", kOpt, "--prompt", r["prompt"], "--max-new-tokens",
                                "20", "--min-new-tokens", "0", "--num-beams", beams, "--threads",
                                "2", "--json", image});
      ASSERT_EQ(res.exit_code, 0) << res.err;
      const auto lines = test::json_lines(res.out);
      ASSERT_EQ(lines.size(), 1u);
      EXPECT_EQ(lines[0]["image"], image);
      EXPECT_EQ(lines[0]["prompt"], r["prompt"]);
      const auto& want = std::string(beams) == "1" ? r["greedy"] : r["beam"];
      EXPECT_EQ(lines[0]["token_ids"].get<std::vector<int32_t>>(),
                want["new_tokens"].get<std::vector<int32_t>>());
      EXPECT_EQ(lines[0]["text"], want["text"]);
      ASSERT_EQ(lines[0]["sequences"].size(), 1u);
    }
  }
}

TEST(Cli, AskUsesTheVqaTemplate) {
  const std::string demo = test::repo_path("models/shapes-demo");
  const auto res = run_cli(
      {"ask", "-m", demo, "--json", demo + "/examples/one_shape.png", "what color is the square?"});
  ASSERT_EQ(res.exit_code, 0) << res.err;
  const auto lines = test::json_lines(res.out);
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(lines[0]["prompt"], "Question: what color is the square? Answer:");
  EXPECT_EQ(lines[0]["text"], " red");
  const auto plain =
      run_cli({"ask", "-m", demo, demo + "/examples/one_shape.png", "what color is the square?"});
  EXPECT_EQ(plain.out, "red\n");
}

TEST(Cli, CaptionSeveralImagesAndMainJob) {
  const std::string demo = test::repo_path("models/shapes-demo");
  const auto res = run_cli(
      {"caption", "-m", demo, demo + "/examples/one_shape.png", demo + "/examples/left_of.png"});
  ASSERT_EQ(res.exit_code, 0) << res.err;
  EXPECT_NE(res.out.find("one_shape.png: a small red square\n"), std::string::npos) << res.out;
  EXPECT_NE(
      res.out.find("left_of.png: a small white diamond to the left of a small yellow diamond\n"),
      std::string::npos)
      << res.out;
}

TEST(Cli, StreamPrintsTheSameTextAsItIsGenerated) {
  const std::string demo = test::repo_path("models/shapes-demo");
  const std::string image = demo + "/examples/left_of.png";
  const auto whole = run_cli({"caption", "-m", demo, "--num-beams", "1", "--json", image});
  ASSERT_EQ(whole.exit_code, 0) << whole.err;
  const std::string text = test::json_lines(whole.out)[0]["text"];
  const auto streamed = run_cli({"caption", "-m", demo, "--num-beams", "1", "--stream", image});
  ASSERT_EQ(streamed.exit_code, 0) << streamed.err;
  EXPECT_EQ(streamed.out, text + "\n");
  expect_clean_error(run_cli({"caption", "-m", demo, "--stream", "--json", image}), "--stream");
}

TEST(Cli, FeaturesWritesTheReferenceTensors) {
  test::TempDir dir;
  const std::string image = kOpt + "/expected/images/img1_rgb_300x500.png";
  const auto res = run_cli(
      {"features", "-m", kOpt, image, "-o", dir.file("f.safetensors"), "--prompt", "a photo of"});
  ASSERT_EQ(res.exit_code, 0) << res.err;
  const auto got = SafetensorsFile::open(dir.file("f.safetensors"));
  const auto want = SafetensorsFile::open(kOpt + "/expected/expected.safetensors");
  for (const char* name : {"pixel_values", "vision_last_hidden_state", "vision_pooler_output",
                           "qformer_last_hidden_state", "language_model_inputs"}) {
    SCOPED_TRACE(name);
    EXPECT_TENSOR_NEAR(got.get(name), want.get(std::string("img1.") + name), 1e-4);
  }
  const Tensor logits = got.get("logits"), ref = want.get("img1.p1.logits");
  ASSERT_EQ(logits.shape(), ref.shape());
  for (int64_t t = 0; t < ref.dim(1); ++t)
    EXPECT_TENSOR_NEAR(logits.select(0, 0).select(0, t), ref.select(0, 0).select(0, t), 1e-4);
}

TEST(Cli, TokenizeAndDetokenize) {
  const auto t = run_cli({"tokenize", "-m", kOpt, "a photo of"});
  ASSERT_EQ(t.exit_code, 0) << t.err;
  EXPECT_EQ(nlohmann::json::parse(t.out), nlohmann::json({2, 68, 369, 277}));
  const auto d = run_cli({"detokenize", "-m", kOpt, "2", "68", "369", "277"});
  EXPECT_EQ(d.out, "a photo of\n");
}

TEST(Cli, InspectPrintsTheArchitecture) {
  const auto r = run_cli({"inspect", "--json", kOpt});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["vision"]["hidden_size"], 64);
  EXPECT_EQ(j["vision"]["num_positions"], 257);
  EXPECT_EQ(j["qformer"]["num_hidden_layers"], 4);
  EXPECT_EQ(j["num_query_tokens"], 32);
  EXPECT_EQ(j["language_model"], "opt");
  EXPECT_EQ(j["text"]["vocab_size"], 1504);
  const auto t5 =
      nlohmann::json::parse(run_cli({"inspect", "--json", test::data_path("t5-tiny")}).out);
  EXPECT_EQ(t5["language_model"], "t5");
  EXPECT_EQ(t5["text"]["d_model"], 64);
  EXPECT_EQ(t5["num_query_tokens"], 16);
}

// A copy of opt-tiny whose weights are rewritten by `edit`.
std::string broken_copy(
    const test::TempDir& dir,
    const std::function<void(std::vector<std::pair<std::string, Tensor>>&)>& edit) {
  const std::string out = dir.file("model");
  fs::create_directories(out);
  for (const auto& f : fs::directory_iterator(kOpt))
    if (f.is_regular_file() && f.path().filename() != "model.safetensors")
      fs::copy_file(f.path(), out + "/" + f.path().filename().string());
  auto st = SafetensorsFile::open(kOpt + "/model.safetensors");
  std::vector<std::pair<std::string, Tensor>> tensors;
  for (const auto& t : st.tensors()) tensors.emplace_back(t.name, st.get(t.name));
  edit(tensors);
  write_safetensors(out + "/model.safetensors", tensors);
  return out;
}

TEST(Cli, BadInputsGiveOneLineErrors) {
  const std::string image = kOpt + "/expected/images/img2_l_64x64.png";
  expect_clean_error(run_cli({"caption", "-m", "/nonexistent/model", image}), "/nonexistent/model");
  expect_clean_error(run_cli({"caption", "-m", kOpt, "/nonexistent/image.png"}),
                     "/nonexistent/image.png");

  test::TempDir dir;
  const std::string missing = broken_copy(dir, [](auto& ts) {
    std::erase_if(ts, [](const auto& p) {
      return p.first == "qformer.encoder.layer.1.attention.output.dense.weight";
    });
  });
  expect_clean_error(run_cli({"caption", "-m", missing, image}),
                     "qformer.encoder.layer.1.attention.output.dense.weight");

  test::TempDir dir2;
  const std::string wrong = broken_copy(dir2, [](auto& ts) {
    for (auto& [name, t] : ts)
      if (name == "language_projection.weight") t = Tensor::empty(DType::kF32, {64, 32});
  });
  expect_clean_error(run_cli({"caption", "-m", wrong, image}), "language_projection.weight");

  // Corrupt and truncated images.
  {
    std::ofstream(dir.file("garbage.jpg")) << "this is not an image";
    const std::string jpeg = read_text_file(kOpt + "/expected/images/img0_rgb_640x480.jpg");
    std::ofstream(dir.file("cut.jpg"), std::ios::binary) << jpeg.substr(0, jpeg.size() / 3);
    const std::string png = read_text_file(image);
    std::ofstream(dir.file("cut.png"), std::ios::binary) << png.substr(0, png.size() / 2);
  }
  expect_clean_error(run_cli({"caption", "-m", kOpt, dir.file("garbage.jpg")}), "garbage.jpg");
  expect_clean_error(run_cli({"caption", "-m", kOpt, dir.file("cut.png")}), "cut.png");
  const auto cut_jpeg = run_cli({"caption", "-m", kOpt, dir.file("cut.jpg")});
  // libjpeg-turbo decodes a truncated JPEG with a warning as PIL does; either way, no crash.
  EXPECT_TRUE(cut_jpeg.exit_code == 0 || cut_jpeg.exit_code == 1) << cut_jpeg.err;

  // A prompt longer than the model's positions (512 for opt-tiny).
  std::string long_prompt;
  for (int i = 0; i < 600; ++i) long_prompt += " photo";
  expect_clean_error(run_cli({"caption", "-m", kOpt, "--prompt", long_prompt, image}), "positions");

  // Unknown flag and invalid values: CLI11's usage error, exit code non-zero.
  const auto unknown = run_cli({"caption", "-m", kOpt, "--no-such-flag", image});
  EXPECT_NE(unknown.exit_code, 0);
  EXPECT_LT(unknown.exit_code, 128) << "not a crash";
  EXPECT_NE(unknown.err.find("no-such-flag"), std::string::npos) << unknown.err;
  expect_clean_error(run_cli({"caption", "-m", kOpt, "--num-beams", "0", image}), "num_beams");
  expect_clean_error(run_cli({"caption", "-m", kOpt, "--top-p", "1.5", "--do-sample", image}),
                     "top_p");
  expect_clean_error(run_cli({"caption", "-m", kOpt, "--num-beams", "3", "--do-sample", image}),
                     "beam-sample");
}

TEST(Cli, OneBadImageAmongManyIsReportedAndTheRestCaptioned) {
  test::TempDir dir;
  std::ofstream(dir.file("bad.png")) << "nope";
  const std::string good = kOpt + "/expected/images/img2_l_64x64.png";
  const auto r = run_cli(
      {"caption", "-m", kOpt, "--json", "--max-new-tokens", "3", good, dir.file("bad.png"), good});
  EXPECT_EQ(r.exit_code, 1);
  const auto lines = test::json_lines(r.out);
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_TRUE(lines[0].contains("text"));
  EXPECT_TRUE(lines[1].contains("error"));
  EXPECT_TRUE(lines[2].contains("text"));
}

}  // namespace
}  // namespace blip2

namespace blip2 {
namespace {

const std::string kT5 = test::data_path("t5-tiny");

TEST(CliT5, FeaturesWritesTheReferenceTensors) {
  test::TempDir dir;
  const auto gen = test::load_json(kT5 + "/expected/generation.json");
  const std::string prompt = gen["prompts"][2];
  const auto res = run_cli({"features", "-m", kT5, kT5 + "/expected/images/img3_rgba_200x150.png",
                            "-o", dir.file("f.safetensors"), "--prompt", prompt});
  ASSERT_EQ(res.exit_code, 0) << res.err;
  const auto got = SafetensorsFile::open(dir.file("f.safetensors"));
  const auto want = SafetensorsFile::open(kT5 + "/expected/expected.safetensors");
  for (const char* name : {"pixel_values", "vision_last_hidden_state", "qformer_last_hidden_state",
                           "language_model_inputs"}) {
    SCOPED_TRACE(name);
    EXPECT_TENSOR_NEAR(got.get(name), want.get(std::string("img3.") + name), 1e-4);
  }
  EXPECT_TENSOR_NEAR(got.get("encoder_last_hidden_state"),
                     want.get("img3.p2.encoder_last_hidden_state"), 1e-4);
  const Tensor ids = got.get("decoder_input_ids"), ref_ids = want.get("img3.p2.decoder_input_ids");
  ASSERT_EQ(ids.shape(), ref_ids.shape());
  for (int64_t i = 0; i < ids.numel(); ++i)
    EXPECT_EQ(ids.data<int64_t>()[i], ref_ids.data<int64_t>()[i]);
  const Tensor logits = got.get("logits"), ref = want.get("img3.p2.logits");
  ASSERT_EQ(logits.shape(), ref.shape());
  for (int64_t t = 0; t < ref.dim(1); ++t)
    EXPECT_TENSOR_NEAR(logits.select(0, 0).select(0, t), ref.select(0, 0).select(0, t), 1e-4);
}

TEST(CliT5, CaptionAskTokenizeOnT5) {
  const auto gen = test::load_json(kT5 + "/expected/generation.json");
  const auto& r = gen["results"][1];  // image 0, "a photo of"
  const std::string image = kT5 + "/expected/" + r["image_file"].get<std::string>();
  const auto res = run_cli({"caption", "-m", kT5, "--prompt", r["prompt"], "--max-new-tokens", "20",
                            "--min-new-tokens", "0", "--num-beams", "3", "--json", image});
  ASSERT_EQ(res.exit_code, 0) << res.err;
  EXPECT_EQ(test::json_lines(res.out).at(0)["token_ids"].get<std::vector<int32_t>>(),
            r["beam"]["new_tokens"].get<std::vector<int32_t>>());
  const auto ask = run_cli({"ask", "-m", kT5, "--json", image, "what is this?"});
  ASSERT_EQ(ask.exit_code, 0) << ask.err;
  EXPECT_EQ(test::json_lines(ask.out).at(0)["prompt"], "Question: what is this? Short answer:");
  const auto tok = run_cli({"tokenize", "-m", kT5, r["prompt"]});
  EXPECT_EQ(nlohmann::json::parse(tok.out), r["input_ids"]);
  const auto no_special = run_cli({"tokenize", "-m", kT5, "--no-special-tokens", r["prompt"]});
  auto ids = r["input_ids"].get<std::vector<int>>();
  ids.pop_back();  // without the appended </s>
  EXPECT_EQ(nlohmann::json::parse(no_special.out), nlohmann::json(ids));
}

TEST(CliT5, MissingSentencePieceModelIsAClearError) {
  test::TempDir dir;
  const std::string copy = dir.file("t5");
  fs::create_directories(copy);
  for (const auto& f : fs::directory_iterator(kT5))
    if (f.is_regular_file() && f.path().filename() != "spiece.model")
      fs::copy_file(f.path(), copy + "/" + f.path().filename().string());
  expect_clean_error(run_cli({"caption", "-m", copy, kT5 + "/expected/images/img2_l_64x64.png"}),
                     "spiece.model");
}

}  // namespace
}  // namespace blip2
