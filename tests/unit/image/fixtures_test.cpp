// Every fixture image through decode -> convert RGB -> resize -> rescale/normalize, against the
// reference's tensors (transformers 4.40.2 BlipImageProcessor on Pillow): decoded_rgb (JPEG) and
// resized_rgb exact, pixel_values exact (tolerance 1e-6 only to report near misses readably).
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "common/test_util.h"
#include "image/image.h"
#include "io/safetensors.h"

namespace blip2 {
namespace {

struct ByteDiff {
  int64_t mismatches = 0;
  int max_abs = 0;
  int64_t first = -1;
};

ByteDiff compare_bytes(const std::vector<uint8_t>& got, const Tensor& want) {
  ByteDiff d;
  const uint8_t* w = want.data<uint8_t>();
  for (size_t i = 0; i < got.size(); ++i) {
    const int e = std::abs(int{got[i]} - int{w[i]});
    if (e != 0) {
      if (d.first < 0) d.first = static_cast<int64_t>(i);
      ++d.mismatches;
      d.max_abs = std::max(d.max_abs, e);
    }
  }
  return d;
}

void check_case(const std::string& case_name) {
  const std::string dir = test::data_path(case_name);
  const nlohmann::json generation = test::load_json(dir + "/expected/generation.json");
  const SafetensorsFile expected = SafetensorsFile::open(dir + "/expected/expected.safetensors");
  const ImageProcessorConfig config = load_image_processor_config(dir);
  ASSERT_EQ(config.height, 224);
  ASSERT_EQ(config.width, 224);
  ASSERT_EQ(generation["images"].size(), 4u);

  for (const auto& entry : generation["images"]) {
    const int index = entry["index"].get<int>();
    const std::string file = dir + "/expected/" + entry["file"].get<std::string>();
    const std::string prefix = "img" + std::to_string(index) + ".";
    SCOPED_TRACE(case_name + " " + file);

    const RgbImage image = decode_image_file(file);
    EXPECT_EQ(image.width, entry["width"].get<int>());
    EXPECT_EQ(image.height, entry["height"].get<int>());

    if (const TensorInfo* info = expected.find(prefix + "decoded_rgb")) {
      const Tensor want = expected.get(prefix + "decoded_rgb");
      ASSERT_EQ(want.shape(), (Shape{image.height, image.width, 3}));
      const ByteDiff d = compare_bytes(image.pixels, want);
      EXPECT_EQ(d.mismatches, 0) << "decoded_rgb: max diff " << d.max_abs << " first at "
                                 << d.first;
      (void)info;
    }

    const Tensor want_resized = expected.get(prefix + "resized_rgb");
    ASSERT_EQ(want_resized.shape(), (Shape{224, 224, 3}));
    const RgbImage resized = resize_bicubic(image, 224, 224);
    const ByteDiff dr = compare_bytes(resized.pixels, want_resized);
    EXPECT_EQ(dr.mismatches, 0) << "resized_rgb: max diff " << dr.max_abs << " first at "
                                << dr.first;
    // The scalar twin agrees too (it is the oracle of the resize tests).
    EXPECT_EQ(resize_bicubic_reference(image, 224, 224).pixels, resized.pixels);

    const Tensor want_pixels = expected.get(prefix + "pixel_values");
    ASSERT_EQ(want_pixels.shape(), (Shape{1, 3, 224, 224}));
    ASSERT_EQ(preprocessed_numel(image, config), 3 * 224 * 224);
    std::vector<float> got(3 * 224 * 224);
    preprocess_image(image, config, got.data());
    const float* w = want_pixels.data<float>();
    double max_diff = 0;
    int64_t exact = 0;
    for (size_t i = 0; i < got.size(); ++i) {
      max_diff = std::max(max_diff, std::fabs(double{got[i]} - w[i]));
      exact += got[i] == w[i];
    }
    EXPECT_LE(max_diff, 1e-6) << "pixel_values";
    EXPECT_EQ(exact, static_cast<int64_t>(got.size())) << "pixel_values are not bit-exact";
  }
}

TEST(ImageFixtures, OptTinyImagesMatchReference) {
  check_case("opt-tiny");
}
TEST(ImageFixtures, T5TinyImagesMatchReference) {
  check_case("t5-tiny");
}

// The demo model's examples: the reference recorded the float64 sum and the first 8 values
// (rounded to 6 decimals) of each pixel_values.
TEST(ImageFixtures, ShapesDemoExamplesMatchReference) {
  const std::string dir = test::repo_path("models/shapes-demo");
  const nlohmann::json generation = test::load_json(dir + "/expected/generation.json");
  const ImageProcessorConfig config = load_image_processor_config(dir);
  ASSERT_EQ(generation["examples"].size(), 5u);
  for (const auto& example : generation["examples"]) {
    const std::string file = dir + "/" + example["file"].get<std::string>();
    SCOPED_TRACE(file);
    const RgbImage image = decode_image_file(file);
    std::vector<float> got(preprocessed_numel(image, config));
    ASSERT_EQ(got.size(), 3u * 224 * 224);
    preprocess_image(image, config, got.data());
    double sum = 0;
    for (float v : got) sum += v;
    EXPECT_NEAR(sum, example["pixel_values"]["sum"].get<double>(), 1e-3);
    const auto& first8 = example["pixel_values"]["first8"];
    ASSERT_EQ(first8.size(), 8u);
    for (size_t i = 0; i < 8; ++i) EXPECT_NEAR(got[i], first8[i].get<double>(), 1e-6) << i;
  }
}

}  // namespace
}  // namespace blip2
