// Encoders for the image tests: PNG (libpng), WebP (libwebp), JPEG (libjpeg) and BMP (by hand),
// so each test builds exactly the variant it checks.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <csetjmp>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include <jpeglib.h>
#include <png.h>
#include <webp/encode.h>

#include "image/rgb_image.h"

namespace blip2::test {

struct PngSpec {
  int width = 0;
  int height = 0;
  int color_type = PNG_COLOR_TYPE_RGB;
  int bit_depth = 8;
  std::vector<uint8_t> rows;  // packed PNG rows, 16-bit samples big-endian, no filter byte
  std::vector<png_color> palette;
  std::vector<uint8_t> trns_alpha;  // palette alpha (tRNS for palette images)
  bool has_trns_color = false;      // tRNS for grey / RGB images
  png_color_16 trns_color{};
  bool interlace = false;
};

inline std::vector<uint8_t> encode_png(const PngSpec& spec) {
  std::vector<uint8_t> out;
  png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, nullptr, nullptr, nullptr);
  png_infop info = png_create_info_struct(png);
  if (setjmp(png_jmpbuf(png))) {
    png_destroy_write_struct(&png, &info);
    ADD_FAILURE() << "libpng could not write the test PNG";
    return {};
  }
  png_set_write_fn(
      png, &out,
      [](png_structp p, png_bytep data, size_t n) {
        auto* v = static_cast<std::vector<uint8_t>*>(png_get_io_ptr(p));
        v->insert(v->end(), data, data + n);
      },
      nullptr);
  png_set_IHDR(png, info, spec.width, spec.height, spec.bit_depth, spec.color_type,
               spec.interlace ? PNG_INTERLACE_ADAM7 : PNG_INTERLACE_NONE,
               PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
  if (!spec.palette.empty())
    png_set_PLTE(png, info, spec.palette.data(), static_cast<int>(spec.palette.size()));
  if (!spec.trns_alpha.empty())
    png_set_tRNS(png, info, spec.trns_alpha.data(), static_cast<int>(spec.trns_alpha.size()),
                 nullptr);
  if (spec.has_trns_color) png_set_tRNS(png, info, nullptr, 0, &spec.trns_color);
  png_write_info(png, info);
  const size_t row_bytes = spec.rows.size() / spec.height;
  std::vector<png_bytep> rows(spec.height);
  for (int y = 0; y < spec.height; ++y)
    rows[y] = const_cast<png_bytep>(spec.rows.data()) + row_bytes * y;
  png_write_image(png, rows.data());
  png_write_end(png, nullptr);
  png_destroy_write_struct(&png, &info);
  return out;
}

// Lossless WebP of RGBA pixels, keeping the RGB under transparent pixels (exact mode).
inline std::vector<uint8_t> encode_webp_lossless(const std::vector<uint8_t>& rgba, int width,
                                                 int height) {
  WebPConfig config;
  EXPECT_TRUE(WebPConfigInit(&config));
  config.lossless = 1;
  config.exact = 1;
  WebPPicture picture;
  EXPECT_TRUE(WebPPictureInit(&picture));
  picture.use_argb = 1;
  picture.width = width;
  picture.height = height;
  EXPECT_TRUE(WebPPictureImportRGBA(&picture, rgba.data(), width * 4));
  WebPMemoryWriter writer;
  WebPMemoryWriterInit(&writer);
  picture.writer = WebPMemoryWrite;
  picture.custom_ptr = &writer;
  EXPECT_TRUE(WebPEncode(&config, &picture));
  std::vector<uint8_t> out(writer.mem, writer.mem + writer.size);
  WebPMemoryWriterClear(&writer);
  WebPPictureFree(&picture);
  return out;
}

// A baseline JPEG from interleaved samples of `components` channels in `color_space`.
inline std::vector<uint8_t> encode_jpeg(const std::vector<uint8_t>& samples, int width, int height,
                                        int components, J_COLOR_SPACE color_space, int quality,
                                        bool progressive = false) {
  jpeg_compress_struct cinfo;
  jpeg_error_mgr jerr;
  cinfo.err = jpeg_std_error(&jerr);
  jpeg_create_compress(&cinfo);
  unsigned char* buffer = nullptr;
  unsigned long size = 0;
  jpeg_mem_dest(&cinfo, &buffer, &size);
  cinfo.image_width = width;
  cinfo.image_height = height;
  cinfo.input_components = components;
  cinfo.in_color_space = color_space;
  jpeg_set_defaults(&cinfo);
  jpeg_set_quality(&cinfo, quality, TRUE);
  if (progressive) jpeg_simple_progression(&cinfo);
  jpeg_start_compress(&cinfo, TRUE);
  while (cinfo.next_scanline < cinfo.image_height) {
    JSAMPROW row = const_cast<JSAMPROW>(samples.data()) +
                   static_cast<size_t>(cinfo.next_scanline) * width * components;
    jpeg_write_scanlines(&cinfo, &row, 1);
  }
  jpeg_finish_compress(&cinfo);
  std::vector<uint8_t> out(buffer, buffer + size);
  jpeg_destroy_compress(&cinfo);
  free(buffer);
  return out;
}

inline void put_u16(std::vector<uint8_t>& v, size_t at, uint32_t x) {
  v[at] = x & 0xFF;
  v[at + 1] = (x >> 8) & 0xFF;
}
inline void put_u32(std::vector<uint8_t>& v, size_t at, uint32_t x) {
  for (int i = 0; i < 4; ++i) v[at + i] = (x >> (8 * i)) & 0xFF;
}

struct BmpSpec {
  int width = 0;
  int height = 0;  // negative: rows stored top-down
  int bits = 24;
  uint32_t header_size = 40;
  uint32_t compression = 0;
  uint32_t colors = 0;                     // palette entries declared (0: 2^bits)
  std::vector<uint8_t> palette;            // raw entries (BGRX, or BGR for the 12-byte header)
  std::vector<uint32_t> masks;             // r, g, b(, a) for BI_BITFIELDS
  std::vector<std::vector<uint8_t>> rows;  // unpadded pixel bytes, in storage order
};

inline std::vector<uint8_t> encode_bmp(const BmpSpec& spec) {
  const size_t stride = ((static_cast<size_t>(spec.width) * spec.bits + 31) / 32) * 4;
  const size_t header_end = 14 + spec.header_size;
  const size_t masks_bytes = (spec.header_size == 40 && spec.compression == 3) ? 12 : 0;
  const size_t pixels_at = header_end + masks_bytes + spec.palette.size();
  std::vector<uint8_t> v(pixels_at + stride * spec.rows.size(), 0);
  v[0] = 'B';
  v[1] = 'M';
  put_u32(v, 2, static_cast<uint32_t>(v.size()));
  put_u32(v, 10, static_cast<uint32_t>(pixels_at));
  put_u32(v, 14, spec.header_size);
  if (spec.header_size == 12) {
    put_u16(v, 18, spec.width);
    put_u16(v, 20, spec.height);
    put_u16(v, 22, 1);
    put_u16(v, 24, spec.bits);
  } else {
    put_u32(v, 18, static_cast<uint32_t>(spec.width));
    put_u32(v, 22, static_cast<uint32_t>(spec.height));
    put_u16(v, 26, 1);
    put_u16(v, 28, spec.bits);
    put_u32(v, 30, spec.compression);
    put_u32(v, 34, static_cast<uint32_t>(stride * spec.rows.size()));
    put_u32(v, 46, spec.colors);
    for (size_t i = 0; i < spec.masks.size(); ++i) put_u32(v, 54 + 4 * i, spec.masks[i]);
  }
  std::copy(spec.palette.begin(), spec.palette.end(), v.begin() + header_end + masks_bytes);
  for (size_t y = 0; y < spec.rows.size(); ++y)
    std::copy(spec.rows[y].begin(), spec.rows[y].end(), v.begin() + pixels_at + stride * y);
  return v;
}

inline RgbImage make_rgb(int width, int height, std::vector<uint8_t> pixels) {
  RgbImage image;
  image.width = width;
  image.height = height;
  image.pixels = std::move(pixels);
  return image;
}

}  // namespace blip2::test
