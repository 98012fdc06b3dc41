// preprocessor_config.json parsing (defaults, nulls, bad values) and the rescale/normalize
// arithmetic of preprocess_image.
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "common/test_util.h"
#include "core/error.h"
#include "image/preprocess.h"
#include "image/resize.h"
#include "image_test_util.h"

namespace blip2 {
namespace {

ImageProcessorConfig parse(const std::string& text) {
  return image_processor_config_from_json(nlohmann::json::parse(text),
                                          "test/preprocessor_config.json");
}

void expect_config_error(const std::string& text, ErrorKind kind, const std::string& fragment) {
  try {
    parse(text);
    ADD_FAILURE() << "no error for " << text;
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), kind) << e.what();
    const std::string message = e.what();
    EXPECT_NE(message.find(fragment), std::string::npos) << message;
    EXPECT_NE(message.find("test/preprocessor_config.json"), std::string::npos) << message;
  }
}

TEST(ImageProcessorConfig, FixturesParse) {
  for (const std::string& dir : {test::data_path("opt-tiny"), test::data_path("t5-tiny"),
                                 test::repo_path("models/shapes-demo")}) {
    const ImageProcessorConfig c = load_image_processor_config(dir);
    EXPECT_TRUE(c.do_resize);
    EXPECT_EQ(c.height, 224);
    EXPECT_EQ(c.width, 224);
    EXPECT_EQ(c.resample, 3);
    EXPECT_TRUE(c.do_rescale);
    EXPECT_EQ(c.rescale_factor, 1.0 / 255.0);
    EXPECT_TRUE(c.do_normalize);
    EXPECT_TRUE(c.do_convert_rgb);
    EXPECT_EQ(c.image_mean, (std::array<double, 3>{0.48145466, 0.4578275, 0.40821073}));
    EXPECT_EQ(c.image_std, (std::array<double, 3>{0.26862954, 0.26130258, 0.27577711}));
  }
}

TEST(ImageProcessorConfig, AbsentFieldsTakeBlipImageProcessorDefaults) {
  const ImageProcessorConfig c = parse("{}");
  EXPECT_TRUE(c.do_resize);
  EXPECT_EQ(c.height, 384);
  EXPECT_EQ(c.width, 384);
  EXPECT_EQ(c.resample, 3);
  EXPECT_TRUE(c.do_rescale);
  EXPECT_DOUBLE_EQ(c.rescale_factor, 1.0 / 255.0);
  EXPECT_TRUE(c.do_normalize);
  EXPECT_TRUE(c.do_convert_rgb);
  EXPECT_EQ(c.image_mean, (std::array<double, 3>{0.48145466, 0.4578275, 0.40821073}));
  EXPECT_EQ(c.image_std, (std::array<double, 3>{0.26862954, 0.26130258, 0.27577711}));
}

TEST(ImageProcessorConfig, AlternativeSpellings) {
  ImageProcessorConfig c = parse(R"({"size": 364, "image_mean": 0.5, "image_std": [1, 2, 3]})");
  EXPECT_EQ(c.height, 364);
  EXPECT_EQ(c.width, 364);
  EXPECT_EQ(c.image_mean, (std::array<double, 3>{0.5, 0.5, 0.5}));
  EXPECT_EQ(c.image_std, (std::array<double, 3>{1, 2, 3}));
  c = parse(R"({"size": {"height": 100, "width": 50}, "do_normalize": false,
                "image_processor_type": "BlipImageProcessor", "unknown_key": [1]})");
  EXPECT_EQ(c.height, 100);
  EXPECT_EQ(c.width, 50);
  EXPECT_FALSE(c.do_normalize);
  // null: the defaults for values, false for flags (the reference tests `if do_resize:`).
  c = parse(R"({"size": null, "image_mean": null, "resample": null, "do_resize": null})");
  EXPECT_EQ(c.height, 384);
  EXPECT_EQ(c.image_mean[0], 0.48145466);
  EXPECT_FALSE(c.do_resize);
}

TEST(ImageProcessorConfig, BadValuesGiveClearErrors) {
  expect_config_error(R"({"resample": 2})", ErrorKind::kUnsupported, "2 (PIL BILINEAR)");
  expect_config_error(R"({"resample": 0})", ErrorKind::kUnsupported, "NEAREST");
  expect_config_error(R"({"resample": "bicubic"})", ErrorKind::kFormat, "resample");
  expect_config_error(R"({"image_mean": [0.5, 0.5]})", ErrorKind::kFormat, "image_mean");
  expect_config_error(R"({"image_std": [1, 1, 1, 1]})", ErrorKind::kFormat, "has 4 values");
  expect_config_error(R"({"image_std": [1, 0, 1]})", ErrorKind::kFormat, "divide by zero");
  expect_config_error(R"({"image_std": [1, "a", 1]})", ErrorKind::kFormat, "image_std");
  expect_config_error(R"({"size": {"height": 0, "width": 224}})", ErrorKind::kFormat, "height");
  expect_config_error(R"({"size": {"height": 224, "width": -5}})", ErrorKind::kFormat, "width");
  expect_config_error(R"({"size": {"height": 224.5, "width": 224}})", ErrorKind::kFormat, "height");
  expect_config_error(R"({"size": {"shortest_edge": 224}})", ErrorKind::kUnsupported,
                      "shortest_edge");
  expect_config_error(R"({"size": {"height": 224}})", ErrorKind::kFormat, "width");
  expect_config_error(R"({"size": "224"})", ErrorKind::kFormat, "size");
  expect_config_error(R"({"do_resize": "yes"})", ErrorKind::kFormat, "do_resize");
  expect_config_error(R"({"rescale_factor": "1/255"})", ErrorKind::kFormat, "rescale_factor");
  expect_config_error(R"([1, 2])", ErrorKind::kFormat, "JSON object");
}

TEST(ImageProcessorConfig, MissingOrBrokenFile) {
  test::TempDir dir;
  try {
    load_image_processor_config(dir.path());
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kNotFound);
    EXPECT_NE(std::string(e.what()).find(dir.path()), std::string::npos);
  }
  const ImageProcessorConfig fallback = load_image_processor_config(dir.path(), 224);
  EXPECT_EQ(fallback.height, 224);
  EXPECT_EQ(fallback.width, 224);
  EXPECT_EQ(fallback.image_std[2], 0.27577711);

  std::ofstream(dir.file("preprocessor_config.json")) << "{\"size\": ";
  try {
    load_image_processor_config(dir.path());
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kFormat);
    EXPECT_NE(std::string(e.what()).find("preprocessor_config.json"), std::string::npos);
  }
}

// The arithmetic of one sample, spelled out: float32(v * (1/255) in double), then
// (x - float32(mean)) / float32(std) in float32.
TEST(PreprocessImage, RescaleAndNormalizeArithmetic) {
  ImageProcessorConfig config;
  config.height = 1;
  config.width = 2;
  const RgbImage image = test::make_rgb(2, 1, {0, 128, 255, 1, 2, 3});
  std::vector<float> out(6);
  preprocess_image(image, config, out.data());
  auto expected = [&](int v, int c) {
    const float x = static_cast<float>(v * (1.0 / 255.0));
    return (x - static_cast<float>(config.image_mean[c])) / static_cast<float>(config.image_std[c]);
  };
  // Channels-first: [R0, R1, G0, G1, B0, B1].
  EXPECT_EQ(out[0], expected(0, 0));
  EXPECT_EQ(out[1], expected(1, 0));
  EXPECT_EQ(out[2], expected(128, 1));
  EXPECT_EQ(out[3], expected(2, 1));
  EXPECT_EQ(out[4], expected(255, 2));
  EXPECT_EQ(out[5], expected(3, 2));
  EXPECT_FLOAT_EQ(out[0], -0.48145466f / 0.26862954f);

  config.do_normalize = false;
  preprocess_image(image, config, out.data());
  EXPECT_EQ(out[2], static_cast<float>(128 / 255.0));
  EXPECT_EQ(out[4], 1.0f);
  config.do_rescale = false;
  preprocess_image(image, config, out.data());
  EXPECT_EQ(out, (std::vector<float>{0, 1, 128, 2, 255, 3}));
}

TEST(PreprocessImage, ResizesOnlyWhenAsked) {
  ImageProcessorConfig config;
  config.height = 6;
  config.width = 4;
  config.do_normalize = false;
  config.do_rescale = false;
  std::vector<uint8_t> pixels;
  for (int i = 0; i < 3 * 5 * 3; ++i) pixels.push_back(static_cast<uint8_t>(i * 5));
  const RgbImage image = test::make_rgb(3, 5, pixels);
  ASSERT_EQ(preprocessed_numel(image, config), 3 * 6 * 4);
  std::vector<float> out(3 * 6 * 4);
  preprocess_image(image, config, out.data());
  const RgbImage resized = resize_bicubic(image, 4, 6);
  for (int i = 0; i < 24; ++i)
    for (int c = 0; c < 3; ++c) EXPECT_EQ(out[c * 24 + i], resized.pixels[3 * i + c]);

  config.do_resize = false;
  EXPECT_EQ(preprocessed_size(image, config), (std::array<int, 2>{5, 3}));
  std::vector<float> same(3 * 15);
  preprocess_image(image, config, same.data());
  for (int i = 0; i < 15; ++i)
    for (int c = 0; c < 3; ++c) EXPECT_EQ(same[c * 15 + i], image.pixels[3 * i + c]);
}

TEST(PreprocessImage, RejectsUnusableInput) {
  ImageProcessorConfig config;
  std::vector<float> out(3 * 384 * 384);
  EXPECT_THROW(preprocess_image(RgbImage{}, config, out.data()), Error);
  config.image_std = {1, 0, 1};
  EXPECT_THROW(preprocess_image(test::make_rgb(1, 1, {1, 2, 3}), config, out.data()), Error);
  config = {};
  config.resample = 2;
  EXPECT_THROW(preprocess_image(test::make_rgb(1, 1, {1, 2, 3}), config, out.data()), Error);
}

}  // namespace
}  // namespace blip2
