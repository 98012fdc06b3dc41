// Image decoding: bytes -> RgbImage, the way the reference (Pillow's
// Image.open(...).convert("RGB")) sees them.
//
// Formats are sniffed from the bytes, never from the file name: JPEG (libjpeg-turbo), PNG (libpng),
// WebP (libwebp; still images), BMP (our own reader: 1/4/8-bit palette, 16/24/32-bit, BI_RGB and
// BI_BITFIELDS; RLE is refused). The conversion to RGB matches PIL convert("RGB"):
//   - alpha is dropped, not composited (RGBA, LA, tRNS, palette alpha);
//   - grey is replicated to R=G=B; palette indices are looked up (indices past the palette are
//     black, as in Pillow's zero-filled palette);
//   - 16-bit PNG channels: RGB/RGBA and grey+alpha keep the high byte (Pillow's "RGB;16B",
//     "RGBA;16B", "LA;16B" unpackers); 16-bit grey opens as "I;16" and convert("RGB") clips it:
//     min(value, 255);
//   - CMYK/YCCK JPEGs are taken as Adobe-inverted ("CMYK;I") and converted with Pillow's formula.
// No EXIF orientation, ICC profile or gamma is applied: the reference applies none.
//
// Decompression bombs: the dimensions are read from the header and checked against
// DecodeLimits::max_pixels BEFORE any pixel buffer is allocated.
//
// Errors: blip2::Error naming the source (file path) and what is wrong: kNotFound (missing file),
// kFormat (empty, truncated, corrupt), kUnsupported (unknown or unsupported format/variant),
// kResource (file or image larger than the limits).
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "image/rgb_image.h"

namespace blip2 {

struct DecodeLimits {
  // Largest width * height accepted (100 MP, e.g. 10000 x 10000). Pillow warns at 89 MP and
  // refuses at 179 MP; 100 MP keeps a decoded image under 300 MB.
  int64_t max_pixels = 100'000'000;
  // Largest encoded file accepted.
  int64_t max_file_bytes = 512 << 20;
};

enum class ImageFormat { kUnknown, kJpeg, kPng, kWebp, kBmp };

// Sniffs the format from the first bytes (magic numbers only).
ImageFormat sniff_image_format(std::span<const uint8_t> bytes);
std::string_view image_format_name(ImageFormat format);

// Reads and decodes an image file. The file size is checked before it is read.
RgbImage decode_image_file(const std::string& path, const DecodeLimits& limits = {});

// Decodes an encoded image held in memory; `source_name` (a path, "request 3 image", ...) is
// used in error messages only.
RgbImage decode_image(std::span<const uint8_t> bytes, std::string_view source_name,
                      const DecodeLimits& limits = {});

}  // namespace blip2
