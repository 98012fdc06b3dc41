// The bicubic resize beyond the fixtures: hand-computed cases (Pillow's algorithm evaluated by
// hand, see the comments), properties every correct implementation has, and the fast
// implementation against its scalar twin on many shapes.
#include <gtest/gtest.h>

#include <chrono>
#include <random>
#include <vector>

#include "core/error.h"
#include "image/resize.h"

namespace blip2 {
namespace {

RgbImage random_image(int width, int height, uint32_t seed) {
  std::mt19937 rng(seed);
  RgbImage image;
  image.width = width;
  image.height = height;
  image.pixels.resize(static_cast<size_t>(width) * height * 3);
  for (auto& p : image.pixels) p = static_cast<uint8_t>(rng() & 0xFF);
  return image;
}

RgbImage constant_image(int width, int height, uint8_t r, uint8_t g, uint8_t b) {
  RgbImage image;
  image.width = width;
  image.height = height;
  for (int i = 0; i < width * height; ++i) image.pixels.insert(image.pixels.end(), {r, g, b});
  return image;
}

// A grey image from rows of levels.
RgbImage grey_image(const std::vector<std::vector<uint8_t>>& rows) {
  RgbImage image;
  image.height = static_cast<int>(rows.size());
  image.width = static_cast<int>(rows[0].size());
  for (const auto& row : rows)
    for (uint8_t v : row) image.pixels.insert(image.pixels.end(), {v, v, v});
  return image;
}

std::vector<std::vector<uint8_t>> grey_rows(const RgbImage& image) {
  std::vector<std::vector<uint8_t>> rows(image.height);
  for (int y = 0; y < image.height; ++y)
    for (int x = 0; x < image.width; ++x) {
      const uint8_t* p = image.pixel(x, y);
      EXPECT_EQ(p[0], p[1]);
      EXPECT_EQ(p[0], p[2]);
      rows[y].push_back(p[0]);
    }
  return rows;
}

using Rows = std::vector<std::vector<uint8_t>>;

// Pillow's weights for 2 -> 4 (upscaling, support 2): output 0 has centre 0.25, taps at input 0
// and 1 with bicubic(0.25) = 0.8671875 and bicubic(1.25) = -0.0703125, normalised by their sum
// 0.796875 and scaled by 2^22: 4564390 and -370086.
TEST(BicubicTaps, UpscaleTwoToFourByHand) {
  const ResampleTaps taps = bicubic_taps(2, 4);
  EXPECT_EQ(taps.ksize, 5);
  const std::vector<std::vector<int32_t>> want = {
      {4564390, -370086}, {3325484, 868820}, {868820, 3325484}, {-370086, 4564390}};
  for (int i = 0; i < 4; ++i) {
    EXPECT_EQ(taps.first[i], 0);
    ASSERT_EQ(taps.count[i], 2);
    for (int t = 0; t < 2; ++t) EXPECT_EQ(taps.weights[i * taps.ksize + t], want[i][t]) << i;
  }
}

TEST(BicubicTaps, DownscaleWidensSupportAndWeightsSumToOne) {
  const ResampleTaps taps = bicubic_taps(640, 224);  // scale 2.857: support 5.71, ksize 13
  EXPECT_EQ(taps.ksize, 13);
  for (int i = 0; i < 224; ++i) {
    ASSERT_GT(taps.count[i], 0);
    ASSERT_LE(taps.count[i], taps.ksize);
    ASSERT_GE(taps.first[i], 0);
    ASSERT_LE(taps.first[i] + taps.count[i], 640);
    int64_t sum = 0;
    for (int t = 0; t < taps.count[i]; ++t) sum += taps.weights[i * taps.ksize + t];
    EXPECT_NEAR(sum, 1 << 22, 8) << i;  // each weight is rounded on its own
  }
  EXPECT_EQ(taps.first[0], 0);
  EXPECT_EQ(taps.first[223] + taps.count[223], 640);
}

// Each expected row was computed by hand from Pillow's algorithm (the weights as above, the sum
// plus 2^21 shifted right by 22 and clipped), e.g. [100, 200] -> 4: 91 = (2^21 + 100 * 4564390 -
// 200 * 370086) >> 22.
TEST(ResizeBicubic, HandComputedRows) {
  EXPECT_EQ(grey_rows(resize_bicubic(grey_image({{100, 200}}), 4, 1)), (Rows{{91, 121, 179, 209}}));
  EXPECT_EQ(grey_rows(resize_bicubic(grey_image({{0, 255, 0, 255}}), 2, 1)), (Rows{{107, 148}}));
  EXPECT_EQ(grey_rows(resize_bicubic(grey_image({{10, 50, 90, 130, 250}}), 3, 1)),
            (Rows{{24, 87, 203}}));
  EXPECT_EQ(grey_rows(resize_bicubic(grey_image({{0, 0, 255, 255, 0, 0, 255, 255, 10}}), 4, 1)),
            (Rows{{47, 181, 90, 168}}));
  EXPECT_EQ(grey_rows(resize_bicubic(grey_image({{200, 30, 70}}), 7, 1)),
            (Rows{{216, 184, 102, 30, 36, 65, 74}}));
}

TEST(ResizeBicubic, HandComputedColumnsUseTheSameFilter) {
  EXPECT_EQ(grey_rows(resize_bicubic(grey_image({{100}, {200}}), 1, 4)),
            (Rows{{91}, {121}, {179}, {209}}));
  EXPECT_EQ(grey_rows(resize_bicubic(grey_image({{10}, {50}, {90}, {130}, {250}}), 1, 3)),
            (Rows{{24}, {87}, {203}}));
}

// Both passes, each rounded and clipped to 8 bits before the next: [[10, 200, 40], [250, 0, 120]]
// to 2x4 is the 3 -> 2 horizontal pass on both rows, then 2 -> 4 down each column.
TEST(ResizeBicubic, HandComputedTwoPasses) {
  EXPECT_EQ(grey_rows(resize_bicubic(grey_image({{10, 200, 40}, {250, 0, 120}}), 2, 4)),
            (Rows{{76, 107}, {99, 97}, {142, 75}, {165, 65}}));
}

TEST(ResizeBicubic, ChannelsAreIndependent) {
  RgbImage image = grey_image({{100, 200}});
  image.pixels = {100, 7, 0, 200, 7, 255};
  const RgbImage out = resize_bicubic(image, 4, 1);
  // Blue [0, 255] with the same weights: (255 * 868820 + 2^21) >> 22 = 53, ... 202, then clipped.
  EXPECT_EQ(out.pixels, (std::vector<uint8_t>{91, 7, 0, 121, 7, 53, 179, 7, 202, 209, 7, 255}));
}

TEST(ResizeBicubic, SameSizeReturnsInputUnchanged) {
  const RgbImage image = random_image(37, 23, 1);
  const RgbImage out = resize_bicubic(image, 37, 23);
  EXPECT_EQ(out.width, 37);
  EXPECT_EQ(out.height, 23);
  EXPECT_EQ(out.pixels, image.pixels);
  EXPECT_EQ(resize_bicubic_reference(image, 37, 23).pixels, image.pixels);
}

// A pass is skipped when its dimension is unchanged, so resizing only the width leaves every
// column's vertical profile to the horizontal filter alone: rows stay independent.
TEST(ResizeBicubic, WidthOnlyResizeTreatsRowsIndependently) {
  const RgbImage image = random_image(50, 9, 2);
  const RgbImage out = resize_bicubic(image, 17, 9);
  for (int y = 0; y < 9; ++y) {
    RgbImage row;
    row.width = 50;
    row.height = 1;
    row.pixels.assign(image.pixels.begin() + y * 150, image.pixels.begin() + (y + 1) * 150);
    const RgbImage out_row = resize_bicubic(row, 17, 1);
    EXPECT_TRUE(
        std::equal(out_row.pixels.begin(), out_row.pixels.end(), out.pixels.begin() + y * 51))
        << "row " << y;
  }
}

TEST(ResizeBicubic, ConstantImageStaysConstant) {
  for (auto [w, h, ow, oh] : std::vector<std::array<int, 4>>{{640, 480, 224, 224},
                                                             {64, 64, 224, 224},
                                                             {1, 1, 224, 224},
                                                             {3000, 2, 224, 224},
                                                             {2, 3000, 224, 224},
                                                             {7, 5, 1, 1},
                                                             {224, 224, 223, 225}}) {
    const RgbImage out = resize_bicubic(constant_image(w, h, 255, 0, 77), ow, oh);
    ASSERT_EQ(out.pixels.size(), static_cast<size_t>(ow) * oh * 3);
    for (size_t i = 0; i < out.pixels.size(); i += 3) {
      ASSERT_EQ(out.pixels[i], 255) << w << "x" << h;
      ASSERT_EQ(out.pixels[i + 1], 0) << w << "x" << h;
      ASSERT_EQ(out.pixels[i + 2], 77) << w << "x" << h;
    }
  }
}

// Mirroring the input mirrors the output: Pillow's windows are symmetric about the centre.
TEST(ResizeBicubic, MirrorSymmetric) {
  const RgbImage image = random_image(91, 1, 3);
  RgbImage mirrored = image;
  for (int x = 0; x < 91; ++x)
    std::copy_n(image.pixel(90 - x, 0), 3, mirrored.pixels.begin() + 3 * x);
  const RgbImage a = resize_bicubic(image, 30, 1);
  const RgbImage b = resize_bicubic(mirrored, 30, 1);
  for (int x = 0; x < 30; ++x)
    for (int c = 0; c < 3; ++c) EXPECT_EQ(a.pixel(x, 0)[c], b.pixel(29 - x, 0)[c]) << x;
}

// The fast path against the scalar twin: downscaling, upscaling, 1xN, Nx1, extreme aspect ratios,
// odd sizes, each axis alone.
TEST(ResizeBicubic, FastMatchesScalarTwin) {
  const std::vector<std::array<int, 4>> cases = {
      {640, 480, 224, 224}, {300, 500, 224, 224}, {64, 64, 224, 224},  {200, 150, 224, 224},
      {1, 1, 224, 224},     {1, 57, 224, 224},    {57, 1, 224, 224},   {1, 300, 1, 224},
      {300, 1, 224, 1},     {5000, 3, 224, 224},  {3, 5000, 224, 224}, {224, 224, 384, 384},
      {224, 300, 224, 224}, {300, 224, 224, 224}, {17, 13, 5, 29},     {13, 17, 29, 5},
      {999, 2, 1, 1},       {2, 2, 1000, 3},      {101, 99, 100, 100}, {7, 9, 7, 8}};
  uint32_t seed = 10;
  for (auto [w, h, ow, oh] : cases) {
    const RgbImage image = random_image(w, h, ++seed);
    const RgbImage fast = resize_bicubic(image, ow, oh);
    const RgbImage slow = resize_bicubic_reference(image, ow, oh);
    ASSERT_EQ(fast.width, ow);
    ASSERT_EQ(fast.height, oh);
    ASSERT_EQ(slow.width, ow);
    ASSERT_EQ(slow.height, oh);
    EXPECT_EQ(fast.pixels, slow.pixels) << w << "x" << h << " -> " << ow << "x" << oh;
  }
}

// Saturated edges overshoot with bicubic's negative lobes; the result must clip, not wrap.
TEST(ResizeBicubic, OvershootClipsInsteadOfWrapping) {
  const RgbImage out = resize_bicubic(grey_image({{0, 0, 255, 255, 0, 0}}), 24, 1);
  const auto rows = grey_rows(out);
  bool saw_0 = false, saw_255 = false;
  for (uint8_t v : rows[0]) {
    saw_0 |= v == 0;
    saw_255 |= v == 255;
  }
  EXPECT_TRUE(saw_0);
  EXPECT_TRUE(saw_255);
  // Monotone ramp up from the left edge to the plateau: no wrap-around to small values.
  EXPECT_EQ(rows[0][11], 255);
  EXPECT_EQ(rows[0][12], 255);
}

TEST(ResizeBicubic, RejectsBadSizes) {
  const RgbImage image = random_image(4, 4, 5);
  for (auto [w, h] : std::vector<std::pair<int, int>>{{0, 4}, {4, 0}, {-1, 5}}) {
    try {
      resize_bicubic(image, w, h);
      ADD_FAILURE() << "no error for " << w << "x" << h;
    } catch (const Error& e) {
      EXPECT_EQ(e.kind(), ErrorKind::kInvalidArgument);
    }
  }
  RgbImage broken = image;
  broken.pixels.pop_back();
  EXPECT_THROW(resize_bicubic(broken, 2, 2), Error);
  EXPECT_THROW(resize_bicubic(RgbImage{}, 2, 2), Error);
}

// A guard against accidental slowness, far looser than the target (about a millisecond for
// 640x480 -> 224x224 on one core): debug or sanitizer builds must pass it too.
TEST(ResizeBicubic, IsFastEnough) {
  const RgbImage image = random_image(640, 480, 9);
  const auto start = std::chrono::steady_clock::now();
  constexpr int kRuns = 10;
  for (int i = 0; i < kRuns; ++i) {
    const RgbImage out = resize_bicubic(image, 224, 224);
    ASSERT_EQ(out.width, 224);
  }
  const double ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count() /
      kRuns;
  RecordProperty("resize_640x480_to_224_ms", std::to_string(ms));
  EXPECT_LT(ms, 100.0);
}

}  // namespace
}  // namespace blip2
