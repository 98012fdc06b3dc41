// Bad inputs: each must give a blip2::Error of the right kind whose message names the source,
// never a crash, hang or huge allocation. (Run under valgrind/ASan to be sure: see the report.)
#include <gtest/gtest.h>

#include <chrono>
#include <fstream>
#include <random>

#include "common/test_util.h"
#include "image/decode.h"
#include "image_test_util.h"

namespace blip2 {
namespace {

constexpr const char* kSource = "upload-42.bin";

std::vector<uint8_t> read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// Decodes `bytes`, expecting an Error of `kind` whose message names the source and contains
// `fragment`.
void expect_error(const std::vector<uint8_t>& bytes, ErrorKind kind, const std::string& fragment,
                  const DecodeLimits& limits = {}) {
  try {
    decode_image(bytes, kSource, limits);
    ADD_FAILURE() << "no error; expected one mentioning \"" << fragment << "\"";
  } catch (const Error& e) {
    const std::string message = e.what();
    EXPECT_EQ(e.kind(), kind) << message;
    EXPECT_NE(message.find(kSource), std::string::npos) << "message names the source: " << message;
    EXPECT_NE(message.find(fragment), std::string::npos) << message;
  }
}

std::vector<uint8_t> fixture_jpeg() {
  return read_bytes(test::data_path("opt-tiny/expected/images/img0_rgb_640x480.jpg"));
}
std::vector<uint8_t> fixture_png() {
  return read_bytes(test::data_path("opt-tiny/expected/images/img1_rgb_300x500.png"));
}

void put_be32(std::vector<uint8_t>& v, uint32_t x) {
  for (int i = 3; i >= 0; --i) v.push_back((x >> (8 * i)) & 0xFF);
}

// PNG's CRC-32 (ISO 3309, reflected polynomial 0xEDB88320), bit by bit.
uint32_t png_crc(const std::vector<uint8_t>& bytes) {
  uint32_t crc = 0xFFFFFFFFu;
  for (uint8_t b : bytes) {
    crc ^= b;
    for (int k = 0; k < 8; ++k) crc = (crc >> 1) ^ (0xEDB88320u & (0u - (crc & 1u)));
  }
  return crc ^ 0xFFFFFFFFu;
}

// A PNG chunk with its CRC.
void add_png_chunk(std::vector<uint8_t>& png, const std::string& type,
                   const std::vector<uint8_t>& data) {
  put_be32(png, static_cast<uint32_t>(data.size()));
  std::vector<uint8_t> body(type.begin(), type.end());
  body.insert(body.end(), data.begin(), data.end());
  png.insert(png.end(), body.begin(), body.end());
  put_be32(png, png_crc(body));
}

std::vector<uint8_t> png_claiming(uint32_t width, uint32_t height) {
  std::vector<uint8_t> png = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'};
  std::vector<uint8_t> ihdr;
  put_be32(ihdr, width);
  put_be32(ihdr, height);
  ihdr.insert(ihdr.end(), {8, 2, 0, 0, 0});  // 8-bit RGB
  add_png_chunk(png, "IHDR", ihdr);
  add_png_chunk(png, "IDAT", {0x78, 0x9C, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01});
  add_png_chunk(png, "IEND", {});
  return png;
}

TEST(MalformedImage, EmptyInput) {
  expect_error({}, ErrorKind::kFormat, "empty");
  test::TempDir dir;
  const std::string path = dir.file("empty.png");
  std::ofstream(path).close();
  try {
    decode_image_file(path);
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kFormat);
    EXPECT_NE(std::string(e.what()).find(path), std::string::npos) << e.what();
  }
}

TEST(MalformedImage, MissingFileAndDirectory) {
  try {
    decode_image_file("/nonexistent/dir/cat.jpg");
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kNotFound);
    EXPECT_NE(std::string(e.what()).find("/nonexistent/dir/cat.jpg"), std::string::npos);
  }
  test::TempDir dir;
  EXPECT_THROW(decode_image_file(dir.path()), Error);
}

TEST(MalformedImage, TruncatedJpeg) {
  auto bytes = fixture_jpeg();
  ASSERT_GT(bytes.size(), 1000u);
  for (size_t keep : {bytes.size() / 2, bytes.size() - 100, size_t{400}}) {
    SCOPED_TRACE(keep);
    std::vector<uint8_t> cut(bytes.begin(), bytes.begin() + keep);
    expect_error(cut, ErrorKind::kFormat, "JPEG");
  }
  expect_error({0xFF, 0xD8, 0xFF}, ErrorKind::kFormat, "JPEG");
}

TEST(MalformedImage, TruncatedProgressiveJpeg) {
  std::mt19937 rng(5);
  std::vector<uint8_t> rgb(64 * 64 * 3);
  for (auto& b : rgb) b = rng() & 0xFF;
  auto bytes = test::encode_jpeg(rgb, 64, 64, 3, JCS_RGB, 90, true);
  bytes.resize(bytes.size() * 2 / 3);
  expect_error(bytes, ErrorKind::kFormat, "truncated");
}

// A valid progressive JPEG with 694 scans (every AC coefficient in its own band, refined one bit
// at a time): refused as a CPU-burning file rather than decoded 694 times over.
TEST(MalformedImage, JpegWithTooManyScans) {
  std::vector<uint8_t> grey(32 * 32);
  for (size_t i = 0; i < grey.size(); ++i) grey[i] = static_cast<uint8_t>(i * 7);
  std::vector<jpeg_scan_info> scans;
  scans.push_back({1, {0}, 0, 0, 0, 0});  // DC, full precision
  for (int band = 1; band < 64; ++band) {
    scans.push_back({1, {0}, band, band, 0, 10});
    for (int al = 9; al >= 0; --al) scans.push_back({1, {0}, band, band, al + 1, al});
  }
  ASSERT_EQ(scans.size(), 694u);
  jpeg_compress_struct cinfo;
  jpeg_error_mgr jerr;
  cinfo.err = jpeg_std_error(&jerr);
  jpeg_create_compress(&cinfo);
  unsigned char* buffer = nullptr;
  unsigned long size = 0;
  jpeg_mem_dest(&cinfo, &buffer, &size);
  cinfo.image_width = 32;
  cinfo.image_height = 32;
  cinfo.input_components = 1;
  cinfo.in_color_space = JCS_GRAYSCALE;
  jpeg_set_defaults(&cinfo);
  cinfo.scan_info = scans.data();
  cinfo.num_scans = static_cast<int>(scans.size());
  jpeg_start_compress(&cinfo, TRUE);
  while (cinfo.next_scanline < cinfo.image_height) {
    JSAMPROW row = grey.data() + cinfo.next_scanline * 32;
    jpeg_write_scanlines(&cinfo, &row, 1);
  }
  jpeg_finish_compress(&cinfo);
  const std::vector<uint8_t> bytes(buffer, buffer + size);
  jpeg_destroy_compress(&cinfo);
  free(buffer);
  expect_error(bytes, ErrorKind::kFormat, "more than 500 scans");
}

TEST(MalformedImage, CorruptJpeg) {
  std::vector<uint8_t> bytes = {0xFF, 0xD8, 0xFF, 0xC0, 0x00, 0x02};  // SOF with a bad length
  for (int i = 0; i < 64; ++i) bytes.push_back(static_cast<uint8_t>(i * 37));
  expect_error(bytes, ErrorKind::kFormat, "corrupt");
}

TEST(MalformedImage, TruncatedPng) {
  auto bytes = fixture_png();
  for (size_t keep : {bytes.size() / 2, size_t{40}, size_t{8}}) {
    SCOPED_TRACE(keep);
    std::vector<uint8_t> cut(bytes.begin(), bytes.begin() + keep);
    expect_error(cut, ErrorKind::kFormat, "PNG");
  }
}

TEST(MalformedImage, PngWithBadCrc) {
  auto bytes = png_claiming(4, 4);
  bytes[8 + 8 + 13] ^= 0xFF;  // the IHDR CRC
  expect_error(bytes, ErrorKind::kFormat, "corrupt");
}

TEST(MalformedImage, PngWithCorruptImageData) {
  auto bytes = png_claiming(4, 4);  // its IDAT holds an empty zlib stream: no rows at all
  expect_error(bytes, ErrorKind::kFormat, "PNG");
}

TEST(MalformedImage, GarbageBytes) {
  std::mt19937 rng(1);
  std::vector<uint8_t> bytes(4096);
  for (auto& b : bytes) b = rng() & 0xFF;
  bytes[0] = 0x00;  // make sure no signature matches by chance
  expect_error(bytes, ErrorKind::kUnsupported, "not in a supported format");
  expect_error({'h', 'e', 'l', 'l', 'o'}, ErrorKind::kUnsupported, "not in a supported format");
}

TEST(MalformedImage, KnownButUnsupportedFormats) {
  expect_error({'G', 'I', 'F', '8', '9', 'a', 1, 0, 1, 0, 0, 0, 0}, ErrorKind::kUnsupported, "GIF");
  expect_error({'I', 'I', '*', 0, 8, 0, 0, 0}, ErrorKind::kUnsupported, "TIFF");
}

// Decompression bombs: a few hundred bytes claiming 10^10 pixels must be refused from the header,
// at once, without allocating the pixels.
TEST(MalformedImage, HugeDimensionsAreRefusedBeforeDecoding) {
  const auto start = std::chrono::steady_clock::now();
  expect_error(png_claiming(100000, 100000), ErrorKind::kResource, "100000x100000");

  auto jpeg = fixture_jpeg();  // patch the SOF0 frame size to 60000 x 60000
  bool patched = false;
  for (size_t i = 2; i + 9 < jpeg.size(); ++i) {
    if (jpeg[i] == 0xFF && (jpeg[i + 1] == 0xC0 || jpeg[i + 1] == 0xC2)) {
      jpeg[i + 5] = 60000 >> 8;
      jpeg[i + 6] = 60000 & 0xFF;
      jpeg[i + 7] = 60000 >> 8;
      jpeg[i + 8] = 60000 & 0xFF;
      patched = true;
      break;
    }
  }
  ASSERT_TRUE(patched);
  expect_error(jpeg, ErrorKind::kResource, "60000x60000");

  test::BmpSpec bmp{.width = 100000, .height = 100000, .bits = 24, .rows = {}};
  expect_error(test::encode_bmp(bmp), ErrorKind::kResource, "100000x100000");

  // A lossless WebP header patched to 16384 x 16384 (the format's largest).
  std::vector<uint8_t> rgba(4 * 4 * 4, 200);
  auto webp = test::encode_webp_lossless(rgba, 4, 4);
  ASSERT_EQ(std::string(webp.begin() + 12, webp.begin() + 16), "VP8L");
  const uint32_t dims = (16383u) | (16383u << 14);  // 14 bits each, minus one
  for (int i = 0; i < 3; ++i) webp[21 + i] = (dims >> (8 * i)) & 0xFF;
  webp[24] = static_cast<uint8_t>((webp[24] & 0xF0) | ((dims >> 24) & 0x0F));
  expect_error(webp, ErrorKind::kResource, "16384x16384");

  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_LT(seconds, 1.0);
}

TEST(MalformedImage, LimitsAreConfigurable) {
  DecodeLimits small;
  small.max_pixels = 1000;
  expect_error(fixture_png(), ErrorKind::kResource, "300x500", small);
  DecodeLimits tiny_file;
  tiny_file.max_file_bytes = 100;
  expect_error(fixture_jpeg(), ErrorKind::kResource, "bytes", tiny_file);
}

TEST(MalformedImage, BmpWithBadOffsetsAndHeaders) {
  test::BmpSpec spec{.width = 4, .height = 4, .bits = 24, .rows = {{0}, {0}, {0}, {0}}};
  auto good = test::encode_bmp(spec);
  ASSERT_NO_THROW(decode_image(good, kSource));

  auto bad_offset = good;
  test::put_u32(bad_offset, 10, 0x7FFFFFF0);  // pixel data offset past the end of the file
  expect_error(bad_offset, ErrorKind::kFormat, "pixel data");

  auto short_pixels = good;
  short_pixels.resize(short_pixels.size() - 20);
  expect_error(short_pixels, ErrorKind::kFormat, "pixel data");

  auto bad_header = good;
  test::put_u32(bad_header, 14, 33);  // no such info header size
  expect_error(bad_header, ErrorKind::kUnsupported, "info header");

  expect_error({'B', 'M', 1, 2, 3}, ErrorKind::kFormat, "truncated");
  std::vector<uint8_t> header_only(good.begin(), good.begin() + 30);
  expect_error(header_only, ErrorKind::kFormat, "truncated");

  auto zero_width = good;
  test::put_u32(zero_width, 18, 0);
  expect_error(zero_width, ErrorKind::kFormat, "dimensions");

  auto bad_depth = good;
  test::put_u16(bad_depth, 28, 7);
  expect_error(bad_depth, ErrorKind::kUnsupported, "pixel depth");

  test::BmpSpec pal{.width = 2,
                    .height = 1,
                    .bits = 8,
                    .colors = 1000000,
                    .palette = {1, 2, 3, 0},
                    .rows = {{0, 0}}};
  expect_error(test::encode_bmp(pal), ErrorKind::kFormat, "palette");
  test::BmpSpec short_palette{
      .width = 2, .height = 1, .bits = 8, .colors = 200, .palette = {1, 2, 3, 0}, .rows = {{0, 0}}};
  auto sp = test::encode_bmp(short_palette);
  sp.resize(14 + 40 + 100);  // palette cut off
  expect_error(sp, ErrorKind::kFormat, "palette");
}

TEST(MalformedImage, BmpRleIsRefused) {
  test::BmpSpec spec{.width = 2,
                     .height = 1,
                     .bits = 8,
                     .compression = 1,
                     .palette = {0, 0, 0, 0},
                     .rows = {{2, 0, 0, 1}}};
  expect_error(test::encode_bmp(spec), ErrorKind::kUnsupported, "RLE");
}

TEST(MalformedImage, TruncatedAndCorruptWebp) {
  std::mt19937 rng(2);
  std::vector<uint8_t> rgba(32 * 32 * 4);
  for (auto& b : rgba) b = rng() & 0xFF;
  const auto webp = test::encode_webp_lossless(rgba, 32, 32);
  std::vector<uint8_t> cut(webp.begin(), webp.begin() + webp.size() / 2);
  expect_error(cut, ErrorKind::kFormat, "WebP");
  std::vector<uint8_t> header_only(webp.begin(), webp.begin() + 12);
  expect_error(header_only, ErrorKind::kFormat, "WebP");
  auto corrupt = webp;
  for (size_t i = 30; i < corrupt.size(); ++i) corrupt[i] = static_cast<uint8_t>(rng());
  expect_error(corrupt, ErrorKind::kFormat, "WebP");
}

TEST(MalformedImage, AnimatedWebpIsRefused) {
  // RIFF/WEBP with a VP8X chunk whose animation flag is set, then an empty ANIM chunk.
  std::vector<uint8_t> v = {'R', 'I', 'F', 'F', 0, 0, 0,    0, 'W', 'E', 'B', 'P', 'V', 'P',
                            '8', 'X', 10,  0,   0, 0, 0x02, 0, 0,   0,   9,   0,   0,   9,
                            0,   0,  // canvas 10 x 10
                            'A', 'N', 'I', 'M', 6, 0, 0,    0, 0,   0,   0,   0,   0,   0};
  test::put_u32(v, 4, static_cast<uint32_t>(v.size() - 8));
  expect_error(v, ErrorKind::kUnsupported, "animated");
}

// Random corruption of valid files of every format: any outcome but a crash is acceptable (most
// still decode, since the damage can land in pixels). Sanitizers make this test meaningful.
TEST(MalformedImage, RandomCorruptionNeverCrashes) {
  std::mt19937 rng(3);
  std::vector<uint8_t> rgba(24 * 16 * 4);
  for (auto& b : rgba) b = rng() & 0xFF;
  std::vector<uint8_t> rgb;
  for (size_t i = 0; i < rgba.size(); ++i)
    if (i % 4 != 3) rgb.push_back(rgba[i]);
  test::PngSpec png{.width = 24, .height = 16, .rows = rgb};
  test::BmpSpec bmp{.width = 24, .height = 16, .bits = 24};
  for (int y = 0; y < 16; ++y)
    bmp.rows.emplace_back(rgb.begin() + y * 72, rgb.begin() + (y + 1) * 72);
  const std::vector<std::vector<uint8_t>> originals = {
      test::encode_png(png), test::encode_bmp(bmp), test::encode_webp_lossless(rgba, 24, 16),
      test::encode_jpeg(rgb, 24, 16, 3, JCS_RGB, 80),
      test::encode_jpeg(rgb, 24, 16, 3, JCS_RGB, 80, true)};
  DecodeLimits limits;
  limits.max_pixels = 1'000'000;  // a flipped size byte must not make a test allocate gigabytes
  int errors = 0, decoded = 0;
  for (const auto& original : originals) {
    for (int trial = 0; trial < 200; ++trial) {
      auto bytes = original;
      const int flips = 1 + static_cast<int>(rng() % 8);
      for (int f = 0; f < flips; ++f) bytes[2 + rng() % (bytes.size() - 2)] = rng() & 0xFF;
      if (trial % 4 == 0) bytes.resize(2 + rng() % (bytes.size() - 2));
      try {
        const RgbImage image = decode_image(bytes, kSource, limits);
        EXPECT_EQ(image.pixels.size(), static_cast<size_t>(image.width) * image.height * 3);
        ++decoded;
      } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find(kSource), std::string::npos) << e.what();
        ++errors;
      }
    }
  }
  EXPECT_GT(errors, 0);
  EXPECT_GT(decoded, 0);
}

}  // namespace
}  // namespace blip2
