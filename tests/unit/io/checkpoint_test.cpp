#include <gtest/gtest.h>

#include <fstream>

#include "common/test_util.h"
#include "io/checkpoint.h"

namespace blip2 {
namespace {

using test::TempDir;

std::string error_of(const std::function<void()>& fn) {
  try {
    fn();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(Checkpoint, ShardedMixedDtypesLoadAsF32) {
  TempDir dir;
  Tensor a = Tensor::from_floats({0.5f, 1.25f, -3.0f, 8.0f}, {2, 2});
  Tensor b = Tensor::from_floats({1, 2, 3}, {3});
  write_safetensors(dir.file("model-00001-of-00002.safetensors"), {{"enc.a", a.to(DType::kF16)}});
  write_safetensors(dir.file("model-00002-of-00002.safetensors"), {{"enc.b", b.to(DType::kBF16)}});
  std::ofstream(dir.file("model.safetensors.index.json"))
      << R"({"metadata":{"total_size":14},"weight_map":{"enc.a":"model-00001-of-00002.safetensors","enc.b":"model-00002-of-00002.safetensors"}})";
  auto ck = Checkpoint::open(dir.path());
  EXPECT_EQ(ck->files().size(), 2u);
  EXPECT_EQ(ck->names(), (std::vector<std::string>{"enc.a", "enc.b"}));
  WeightLoader w(ck);
  auto enc = w.scope("enc");
  Tensor ga = enc.get("a", {2, 2});
  EXPECT_EQ(ga.dtype(), DType::kF32);
  EXPECT_EQ(ga.data<float>()[1], 1.25f);
  EXPECT_EQ(enc.get_stored("b", {3}).dtype(), DType::kBF16);
  EXPECT_TRUE(w.unused_keys().empty());
}

TEST(Checkpoint, ShapeMismatchNamesFullKeyAndBothShapes) {
  auto ck = Checkpoint::open(test::data_path("opt-tiny"));
  WeightLoader w(ck);
  const std::string msg = error_of([&] {
    w.scope("qformer.encoder.layer", 1).get("attention.attention.query.weight", {768, 768});
  });
  EXPECT_NE(msg.find("qformer.encoder.layer.1.attention.attention.query.weight"), std::string::npos)
      << msg;
  EXPECT_NE(msg.find("[64, 64]"), std::string::npos) << msg;
  EXPECT_NE(msg.find("[768, 768]"), std::string::npos) << msg;
}

TEST(Checkpoint, MissingTensorNamesKey) {
  auto ck = Checkpoint::open(test::data_path("opt-tiny"));
  WeightLoader w(ck);
  const std::string msg = error_of([&] {
    w.scope("language_model").get("lm_head.weight", {1504, 64});
  });
  EXPECT_NE(msg.find("language_model.lm_head.weight"), std::string::npos) << msg;
}

TEST(Checkpoint, MissingFolderAndMissingShard) {
  EXPECT_NE(error_of([] { Checkpoint::open("/nonexistent/model"); }).find("does not exist"),
            std::string::npos);
  TempDir dir;
  EXPECT_NE(error_of([&] { Checkpoint::open(dir.path()); }).find("model.safetensors"),
            std::string::npos);
  std::ofstream(dir.file("model.safetensors.index.json"))
      << R"({"weight_map":{"x":"model-00001-of-00009.safetensors"}})";
  EXPECT_NE(error_of([&] { Checkpoint::open(dir.path()); }).find("missing"), std::string::npos);
  std::ofstream(dir.file("model.safetensors.index.json"))
      << R"({"weight_map":{"x":"../../etc/passwd"}})";
  EXPECT_NE(error_of([&] { Checkpoint::open(dir.path()); }).find("invalid shard"),
            std::string::npos);
  std::ofstream(dir.file("model.safetensors.index.json")) << R"({"weight_map":[1]})";
  EXPECT_NE(error_of([&] { Checkpoint::open(dir.path()); }).find("weight_map"), std::string::npos);
}

TEST(Checkpoint, IndexPointingAtWrongShard) {
  TempDir dir;
  write_safetensors(dir.file("s1.safetensors"), {{"a", Tensor::from_floats({1}, {1})}});
  std::ofstream(dir.file("model.safetensors.index.json"))
      << R"({"weight_map":{"b":"s1.safetensors"}})";
  EXPECT_NE(error_of([&] { Checkpoint::open(dir.path()); }).find("has no such tensor"),
            std::string::npos);
}

}  // namespace
}  // namespace blip2
