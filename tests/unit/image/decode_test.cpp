// Decoding every supported variant made by the test itself, against what Pillow's
// Image.open(...).convert("RGB") gives for it (the rules are in src/image/decode.h).
#include <gtest/gtest.h>

#include <random>

#include "common/test_util.h"
#include "image/decode.h"
#include "image_test_util.h"

namespace blip2 {
namespace {

using test::encode_bmp;
using test::encode_png;
using test::PngSpec;

RgbImage decode(const std::vector<uint8_t>& bytes) {
  return decode_image(bytes, "test image");
}

std::vector<uint8_t> grey_to_rgb(const std::vector<uint8_t>& grey) {
  std::vector<uint8_t> out;
  for (uint8_t v : grey) out.insert(out.end(), {v, v, v});
  return out;
}

void expect_image(const RgbImage& got, int width, int height, const std::vector<uint8_t>& rgb) {
  EXPECT_EQ(got.width, width);
  EXPECT_EQ(got.height, height);
  EXPECT_EQ(got.pixels, rgb);
}

TEST(Sniff, RecognisesFormatsByContentNotName) {
  EXPECT_EQ(sniff_image_format(std::vector<uint8_t>{0xFF, 0xD8, 0xFF, 0xE0}), ImageFormat::kJpeg);
  EXPECT_EQ(sniff_image_format(std::vector<uint8_t>{0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'}),
            ImageFormat::kPng);
  const std::string webp("RIFF\x10\0\0\0WEBPVP8L", 16);
  EXPECT_EQ(
      sniff_image_format(std::span(reinterpret_cast<const uint8_t*>(webp.data()), webp.size())),
      ImageFormat::kWebp);
  EXPECT_EQ(sniff_image_format(std::vector<uint8_t>{'B', 'M', 0, 0}), ImageFormat::kBmp);
  EXPECT_EQ(sniff_image_format(std::vector<uint8_t>{'G', 'I', 'F', '8', '9', 'a'}),
            ImageFormat::kUnknown);
  EXPECT_EQ(sniff_image_format(std::vector<uint8_t>{}), ImageFormat::kUnknown);
  EXPECT_EQ(image_format_name(ImageFormat::kWebp), "WebP");

  // A PNG saved under a .jpg name is still decoded as PNG.
  test::TempDir dir;
  PngSpec spec{.width = 2, .height = 1, .rows = {1, 2, 3, 4, 5, 6}};
  const auto bytes = encode_png(spec);
  const std::string path = dir.file("really_a_png.jpg");
  std::FILE* f = std::fopen(path.c_str(), "wb");
  ASSERT_NE(f, nullptr);
  std::fwrite(bytes.data(), 1, bytes.size(), f);
  std::fclose(f);
  expect_image(decode_image_file(path), 2, 1, {1, 2, 3, 4, 5, 6});
}

// ---------------------------------------------------------------- PNG

TEST(DecodePng, Rgb8IsCopied) {
  PngSpec spec{.width = 3,
               .height = 2,
               .rows = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18}};
  expect_image(decode(encode_png(spec)), 3, 2, spec.rows);
}

TEST(DecodePng, Rgb16KeepsHighBytes) {
  // Pillow's "RGB;16B" unpacker takes the high byte of each sample (no rounding).
  PngSpec spec{.width = 2,
               .height = 1,
               .bit_depth = 16,
               .rows = {0x12, 0xFF, 0x00, 0x80, 0xFF, 0xFF, 0x7F, 0xFF, 0x80, 0x00, 0x01, 0x02}};
  expect_image(decode(encode_png(spec)), 2, 1, {0x12, 0x00, 0xFF, 0x7F, 0x80, 0x01});
}

TEST(DecodePng, RgbaDropsAlphaWithoutCompositing) {
  PngSpec spec{.width = 3,
               .height = 1,
               .color_type = PNG_COLOR_TYPE_RGB_ALPHA,
               .rows = {10, 20, 30, 0, 40, 50, 60, 128, 70, 80, 90, 255}};
  expect_image(decode(encode_png(spec)), 3, 1, {10, 20, 30, 40, 50, 60, 70, 80, 90});
}

TEST(DecodePng, Rgba16KeepsHighBytesAndDropsAlpha) {
  PngSpec spec{.width = 1,
               .height = 1,
               .color_type = PNG_COLOR_TYPE_RGB_ALPHA,
               .bit_depth = 16,
               .rows = {0xAB, 0xCD, 0x01, 0xFF, 0x80, 0x80, 0x00, 0x00}};
  expect_image(decode(encode_png(spec)), 1, 1, {0xAB, 0x01, 0x80});
}

TEST(DecodePng, Grey8IsReplicated) {
  PngSpec spec{
      .width = 4, .height = 1, .color_type = PNG_COLOR_TYPE_GRAY, .rows = {0, 1, 128, 255}};
  expect_image(decode(encode_png(spec)), 4, 1, grey_to_rgb({0, 1, 128, 255}));
}

TEST(DecodePng, Grey16ClipsLikePillowI16ToRgb) {
  // Pillow opens 16-bit grey as "I;16"; convert("RGB") maps v to min(v, 255).
  PngSpec spec{.width = 6,
               .height = 1,
               .color_type = PNG_COLOR_TYPE_GRAY,
               .bit_depth = 16,
               .rows = {0x00, 0x00, 0x00, 0x01, 0x00, 0xFF, 0x01, 0x00, 0x03, 0xE8, 0xFF, 0xFF}};
  expect_image(decode(encode_png(spec)), 6, 1, grey_to_rgb({0, 1, 255, 255, 255, 255}));
}

TEST(DecodePng, LowBitGreyIsScaledTo8Bits) {
  // 1-bit: 0/255; 2-bit: v * 0x55; 4-bit: v * 0x11 (Pillow's "1", "L;2", "L;4").
  PngSpec one{.width = 3,
              .height = 1,
              .color_type = PNG_COLOR_TYPE_GRAY,
              .bit_depth = 1,
              .rows = {0b10100000}};
  expect_image(decode(encode_png(one)), 3, 1, grey_to_rgb({255, 0, 255}));
  PngSpec two{.width = 4,
              .height = 1,
              .color_type = PNG_COLOR_TYPE_GRAY,
              .bit_depth = 2,
              .rows = {0b00011011}};
  expect_image(decode(encode_png(two)), 4, 1, grey_to_rgb({0, 0x55, 0xAA, 0xFF}));
  PngSpec four{.width = 3,
               .height = 1,
               .color_type = PNG_COLOR_TYPE_GRAY,
               .bit_depth = 4,
               .rows = {0x1F, 0x70}};
  expect_image(decode(encode_png(four)), 3, 1, grey_to_rgb({0x11, 0xFF, 0x77}));
}

TEST(DecodePng, GreyAlphaDropsAlpha) {
  PngSpec spec{
      .width = 2, .height = 1, .color_type = PNG_COLOR_TYPE_GRAY_ALPHA, .rows = {77, 0, 200, 255}};
  expect_image(decode(encode_png(spec)), 2, 1, grey_to_rgb({77, 200}));
  // 16-bit grey+alpha opens as RGBA from the high bytes ("LA;16B").
  PngSpec wide{.width = 2,
               .height = 1,
               .color_type = PNG_COLOR_TYPE_GRAY_ALPHA,
               .bit_depth = 16,
               .rows = {0x12, 0x34, 0x00, 0x00, 0xFE, 0xFF, 0xFF, 0xFF}};
  expect_image(decode(encode_png(wide)), 2, 1, grey_to_rgb({0x12, 0xFE}));
}

TEST(DecodePng, TransparencyColourIsIgnored) {
  PngSpec grey{.width = 2,
               .height = 1,
               .color_type = PNG_COLOR_TYPE_GRAY,
               .rows = {9, 10},
               .has_trns_color = true};
  grey.trns_color.gray = 9;
  expect_image(decode(encode_png(grey)), 2, 1, grey_to_rgb({9, 10}));
  PngSpec rgb{.width = 1, .height = 1, .rows = {1, 2, 3}, .has_trns_color = true};
  rgb.trns_color.red = 1;
  rgb.trns_color.green = 2;
  rgb.trns_color.blue = 3;
  expect_image(decode(encode_png(rgb)), 1, 1, {1, 2, 3});
}

TEST(DecodePng, PaletteIsLookedUp) {
  const std::vector<png_color> palette = {{255, 0, 0}, {0, 255, 0}, {0, 0, 255}, {10, 20, 30}};
  PngSpec spec{.width = 4,
               .height = 1,
               .color_type = PNG_COLOR_TYPE_PALETTE,
               .rows = {3, 2, 1, 0},
               .palette = palette};
  const std::vector<uint8_t> want = {10, 20, 30, 0, 0, 255, 0, 255, 0, 255, 0, 0};
  expect_image(decode(encode_png(spec)), 4, 1, want);
  // With tRNS (alpha per entry) the colours are unchanged: convert("RGB") drops the alpha.
  spec.trns_alpha = {0, 128, 255};
  expect_image(decode(encode_png(spec)), 4, 1, want);
}

TEST(DecodePng, LowBitPaletteIndicesAreUnpacked) {
  std::vector<png_color> palette;
  for (int i = 0; i < 16; ++i)
    palette.push_back(
        {static_cast<png_byte>(i), static_cast<png_byte>(100 + i), static_cast<png_byte>(200 + i)});
  PngSpec four{.width = 3,
               .height = 1,
               .color_type = PNG_COLOR_TYPE_PALETTE,
               .bit_depth = 4,
               .rows = {0x5F, 0x20},
               .palette = palette};
  expect_image(decode(encode_png(four)), 3, 1, {5, 105, 205, 15, 115, 215, 2, 102, 202});
  PngSpec one{.width = 9,
              .height = 1,
              .color_type = PNG_COLOR_TYPE_PALETTE,
              .bit_depth = 1,
              .rows = {0b01000000, 0b10000000},
              .palette = {{1, 2, 3}, {4, 5, 6}}};
  expect_image(decode(encode_png(one)), 9, 1,
               {1, 2, 3, 4, 5, 6, 1, 2, 3, 1, 2, 3, 1, 2, 3, 1, 2, 3, 1, 2, 3, 1, 2, 3, 4, 5, 6});
}

TEST(DecodePng, IndexPastThePaletteIsBlack) {
  PngSpec spec{.width = 2,
               .height = 1,
               .color_type = PNG_COLOR_TYPE_PALETTE,
               .rows = {0, 7},
               .palette = {{9, 8, 7}, {6, 5, 4}}};
  expect_image(decode(encode_png(spec)), 2, 1, {9, 8, 7, 0, 0, 0});
}

TEST(DecodePng, InterlacedMatchesNonInterlaced) {
  std::mt19937 rng(4);
  PngSpec spec{.width = 13, .height = 11, .color_type = PNG_COLOR_TYPE_RGB_ALPHA, .bit_depth = 16};
  spec.rows.resize(13 * 11 * 8);
  for (auto& b : spec.rows) b = rng() & 0xFF;
  const RgbImage plain = decode(encode_png(spec));
  spec.interlace = true;
  const RgbImage interlaced = decode(encode_png(spec));
  EXPECT_EQ(interlaced.pixels, plain.pixels);
  for (int i = 0; i < 13 * 11; ++i)
    for (int c = 0; c < 3; ++c) ASSERT_EQ(plain.pixels[3 * i + c], spec.rows[8 * i + 2 * c]);
}

// ---------------------------------------------------------------- BMP

TEST(DecodeBmp, Bgr24BottomUpWithRowPadding) {
  // Width 3 -> 9 bytes per row, padded to 12. Stored bottom row first.
  test::BmpSpec spec{.width = 3,
                     .height = 2,
                     .bits = 24,
                     .rows = {{1, 2, 3, 4, 5, 6, 7, 8, 9}, {10, 11, 12, 13, 14, 15, 16, 17, 18}}};
  expect_image(decode(encode_bmp(spec)), 3, 2,
               {12, 11, 10, 15, 14, 13, 18, 17, 16, 3, 2, 1, 6, 5, 4, 9, 8, 7});
}

TEST(DecodeBmp, NegativeHeightIsTopDown) {
  test::BmpSpec spec{.width = 1, .height = -2, .bits = 24, .rows = {{1, 2, 3}, {4, 5, 6}}};
  expect_image(decode(encode_bmp(spec)), 1, 2, {3, 2, 1, 6, 5, 4});
}

TEST(DecodeBmp, Bgrx32IgnoresTheFourthByte) {
  test::BmpSpec spec{.width = 2, .height = 1, .bits = 32, .rows = {{1, 2, 3, 99, 4, 5, 6, 0}}};
  expect_image(decode(encode_bmp(spec)), 2, 1, {3, 2, 1, 6, 5, 4});
}

TEST(DecodeBmp, Bitfields32Layouts) {
  // V5 header, RGBA byte order (R in the lowest byte), alpha dropped.
  test::BmpSpec rgba{.width = 2,
                     .height = 1,
                     .bits = 32,
                     .header_size = 124,
                     .compression = 3,
                     .masks = {0xFF, 0xFF00, 0xFF0000, 0xFF000000},
                     .rows = {{1, 2, 3, 0, 4, 5, 6, 255}}};
  expect_image(decode(encode_bmp(rgba)), 2, 1, {1, 2, 3, 4, 5, 6});
  // 40-byte header with the three masks after it: XBGR (R in the highest byte).
  test::BmpSpec xbgr{.width = 1,
                     .height = 1,
                     .bits = 32,
                     .compression = 3,
                     .masks = {0xFF000000, 0xFF0000, 0xFF00},
                     .rows = {{0, 30, 20, 10}}};
  expect_image(decode(encode_bmp(xbgr)), 1, 1, {10, 20, 30});
  // A layout Pillow does not support is refused.
  test::BmpSpec odd{.width = 1,
                    .height = 1,
                    .bits = 32,
                    .header_size = 124,
                    .compression = 3,
                    .masks = {0x3FF00000, 0xFFC00, 0x3FF, 0},
                    .rows = {{0, 0, 0, 0}}};
  EXPECT_THROW(decode(encode_bmp(odd)), Error);
}

TEST(DecodeBmp, Palette8WithShortPalette) {
  // 3 entries (BGRX); index 200 is past the palette: black.
  test::BmpSpec spec{.width = 4,
                     .height = 1,
                     .bits = 8,
                     .colors = 3,
                     .palette = {0, 0, 255, 0, 0, 255, 0, 0, 255, 0, 0, 0},
                     .rows = {{0, 1, 2, 200}}};
  expect_image(decode(encode_bmp(spec)), 4, 1, {255, 0, 0, 0, 255, 0, 0, 0, 255, 0, 0, 0});
}

TEST(DecodeBmp, GreyRampPaletteReadsIndicesAsLevels) {
  // Pillow loads an 8-bit BMP whose palette is exactly i -> (i, i, i) as mode "L".
  std::vector<uint8_t> palette;
  for (int i = 0; i < 16; ++i)
    palette.insert(palette.end(), {uint8_t(i), uint8_t(i), uint8_t(i), 0});
  test::BmpSpec spec{
      .width = 3, .height = 1, .bits = 8, .colors = 16, .palette = palette, .rows = {{3, 15, 200}}};
  expect_image(decode(encode_bmp(spec)), 3, 1, grey_to_rgb({3, 15, 200}));
}

TEST(DecodeBmp, Palette4And1Bit) {
  std::vector<uint8_t> palette;
  for (int i = 0; i < 16; ++i) palette.insert(palette.end(), {uint8_t(i), uint8_t(16 * i), 7, 0});
  test::BmpSpec four{
      .width = 3, .height = 1, .bits = 4, .palette = palette, .rows = {{0x1F, 0x20}}};
  expect_image(decode(encode_bmp(four)), 3, 1, {7, 16, 1, 7, 240, 15, 7, 32, 2});
  test::BmpSpec one{.width = 10,
                    .height = 1,
                    .bits = 1,
                    .palette = {0, 0, 0, 0, 255, 255, 255, 0},
                    .rows = {{0b10000001, 0b01000000}}};
  expect_image(decode(encode_bmp(one)), 10, 1, grey_to_rgb({255, 0, 0, 0, 0, 0, 0, 255, 0, 255}));
}

TEST(DecodeBmp, Rgb16Variants) {
  // 5-5-5 (BI_RGB): r = 31, g = 16, b = 1 -> 255, 16 * 255 / 31 = 131, 8.
  const uint16_t p555 = (31 << 10) | (16 << 5) | 1;
  test::BmpSpec s555{
      .width = 1, .height = 1, .bits = 16, .rows = {{uint8_t(p555 & 0xFF), uint8_t(p555 >> 8)}}};
  expect_image(decode(encode_bmp(s555)), 1, 1, {255, 131, 8});
  // 5-6-5 (BI_BITFIELDS): r = 1, g = 63, b = 30 -> 8, 255, 246.
  const uint16_t p565 = (1 << 11) | (63 << 5) | 30;
  test::BmpSpec s565{.width = 1,
                     .height = 1,
                     .bits = 16,
                     .compression = 3,
                     .masks = {0xF800, 0x7E0, 0x1F},
                     .rows = {{uint8_t(p565 & 0xFF), uint8_t(p565 >> 8)}}};
  expect_image(decode(encode_bmp(s565)), 1, 1, {8, 255, 246});
}

TEST(DecodeBmp, Os2CoreHeader) {
  test::BmpSpec spec{
      .width = 2, .height = 1, .bits = 24, .header_size = 12, .rows = {{1, 2, 3, 4, 5, 6}}};
  expect_image(decode(encode_bmp(spec)), 2, 1, {3, 2, 1, 6, 5, 4});
}

// ---------------------------------------------------------------- WebP

TEST(DecodeWebp, LosslessRoundTripIsExact) {
  std::mt19937 rng(7);
  const int w = 31, h = 17;
  std::vector<uint8_t> rgba(w * h * 4), rgb;
  for (size_t i = 0; i < rgba.size(); ++i) {
    rgba[i] = rng() & 0xFF;
    if (i % 4 == 3) rgba[i] = (i / 4) % 3 == 0 ? 0 : rgba[i];  // some fully transparent pixels
    if (i % 4 != 3) rgb.push_back(rgba[i]);
  }
  expect_image(decode(test::encode_webp_lossless(rgba, w, h)), w, h, rgb);
}

TEST(DecodeWebp, LossyDecodesCloseToTheSource) {
  const int w = 32, h = 16;
  std::vector<uint8_t> rgb;
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x) rgb.insert(rgb.end(), {uint8_t(8 * x), uint8_t(16 * y), 128});
  uint8_t* out = nullptr;
  const size_t size = WebPEncodeRGB(rgb.data(), w, h, w * 3, 95, &out);
  ASSERT_GT(size, 0u);
  const std::vector<uint8_t> bytes(out, out + size);
  WebPFree(out);
  const RgbImage image = decode(bytes);
  ASSERT_EQ(image.width, w);
  ASSERT_EQ(image.height, h);
  double err = 0;
  for (size_t i = 0; i < rgb.size(); ++i) err += std::abs(int{image.pixels[i]} - int{rgb[i]});
  EXPECT_LT(err / rgb.size(), 4.0);
}

// ---------------------------------------------------------------- JPEG

TEST(DecodeJpeg, GreyIsReplicated) {
  std::vector<uint8_t> grey(16 * 8);
  for (size_t i = 0; i < grey.size(); ++i) grey[i] = static_cast<uint8_t>(i * 2);
  const RgbImage image = decode(test::encode_jpeg(grey, 16, 8, 1, JCS_GRAYSCALE, 100));
  ASSERT_EQ(image.width, 16);
  ASSERT_EQ(image.height, 8);
  for (size_t i = 0; i < grey.size(); ++i) {
    EXPECT_EQ(image.pixels[3 * i], image.pixels[3 * i + 1]);
    EXPECT_EQ(image.pixels[3 * i], image.pixels[3 * i + 2]);
    EXPECT_NEAR(image.pixels[3 * i], grey[i], 2);
  }
}

TEST(DecodeJpeg, CmykIsTakenAsAdobeInverted) {
  // Flat CMYK samples survive quality-100 JPEG nearly unchanged. Pillow reads them as "CMYK;I"
  // (inverted) and convert("RGB") gives nk - nk * c' / 255 with c' = 255 - c and nk = k.
  const uint8_t c = 40, m = 200, y = 0, k = 230;
  std::vector<uint8_t> cmyk;
  for (int i = 0; i < 16 * 16; ++i) cmyk.insert(cmyk.end(), {c, m, y, k});
  const RgbImage image = decode(test::encode_jpeg(cmyk, 16, 16, 4, JCS_CMYK, 100));
  auto expected = [&](int ch) {
    const int inv = 255 - ch, nk = k;
    return nk - (nk * inv + 127) / 255;
  };
  ASSERT_EQ(image.width, 16);
  for (int i = 0; i < 16 * 16; ++i) {
    EXPECT_NEAR(image.pixels[3 * i + 0], expected(c), 2) << i;
    EXPECT_NEAR(image.pixels[3 * i + 1], expected(m), 2) << i;
    EXPECT_NEAR(image.pixels[3 * i + 2], expected(y), 2) << i;
  }
}

TEST(DecodeJpeg, ProgressiveEqualsBaselineOfTheSameData) {
  std::mt19937 rng(11);
  std::vector<uint8_t> rgb(40 * 24 * 3);
  for (auto& b : rgb) b = rng() & 0xFF;
  const RgbImage baseline = decode(test::encode_jpeg(rgb, 40, 24, 3, JCS_RGB, 90));
  const RgbImage progressive = decode(test::encode_jpeg(rgb, 40, 24, 3, JCS_RGB, 90, true));
  // Same quantised coefficients, same IDCT: identical pixels.
  EXPECT_EQ(progressive.pixels, baseline.pixels);
}

TEST(DecodeJpeg, MissingEndMarkerIsAccepted) {
  // Pillow decodes a JPEG whose image data is complete but whose EOI marker is missing.
  std::vector<uint8_t> rgb(16 * 16 * 3, 100);
  auto bytes = test::encode_jpeg(rgb, 16, 16, 3, JCS_RGB, 90);
  const RgbImage full = decode(bytes);
  ASSERT_EQ(bytes[bytes.size() - 2], 0xFF);
  ASSERT_EQ(bytes[bytes.size() - 1], 0xD9);
  bytes.resize(bytes.size() - 2);
  EXPECT_EQ(decode(bytes).pixels, full.pixels);
}

}  // namespace
}  // namespace blip2
