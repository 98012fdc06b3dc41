// BMP: our own reader, every read bounds-checked, following Pillow's BmpImagePlugin so that the
// RGB result is what Image.open(...).convert("RGB") gives:
//   - headers: OS/2 core (12 bytes) and Windows v3-v5 (40, 52, 56, 64, 108, 124 bytes);
//   - 1/4/8-bit palette images (BGR or BGRX entries), rows bottom-up or top-down (negative height);
//     an 8-bit image whose palette is exactly the grey ramp i -> (i, i, i) is read as grey
//     ("L"), so its indices are the grey levels even past the palette's end; otherwise indices past
//     the palette are black;
//   - 16-bit (5-5-5, or 5-6-5 with BI_BITFIELDS; each channel scaled v * 255 / max),
//     24-bit BGR, 32-bit BGRX (BI_RGB) or any of Pillow's BI_BITFIELDS byte layouts (alpha
//     dropped).
// RLE4/RLE8 and embedded JPEG/PNG are refused with kUnsupported.
#include <algorithm>
#include <array>
#include <cstring>

#include "core/error.h"
#include "image/decoders.h"

namespace blip2::image_detail {

namespace {

constexpr uint32_t kBiRgb = 0;
constexpr uint32_t kBiRle8 = 1;
constexpr uint32_t kBiRle4 = 2;
constexpr uint32_t kBiBitfields = 3;

class ByteReader {
 public:
  ByteReader(std::span<const uint8_t> bytes, std::string_view source)
      : bytes_(bytes), source_(source) {}

  uint32_t u16(size_t offset, std::string_view what) const {
    require(offset, 2, what);
    return bytes_[offset] | (uint32_t{bytes_[offset + 1]} << 8);
  }
  uint32_t u32(size_t offset, std::string_view what) const {
    require(offset, 4, what);
    return bytes_[offset] | (uint32_t{bytes_[offset + 1]} << 8) |
           (uint32_t{bytes_[offset + 2]} << 16) | (uint32_t{bytes_[offset + 3]} << 24);
  }
  // Throws kFormat unless [offset, offset + count) lies inside the file.
  void require(uint64_t offset, uint64_t count, std::string_view what) const {
    if (offset > bytes_.size() || count > bytes_.size() - offset)
      fail(ErrorKind::kFormat, "BMP image ", source_, " is truncated or has a bad offset: its ",
           what, " (bytes ", offset, " to ", offset + count, ") lies past the end of the ",
           bytes_.size(), "-byte file; re-encode it");
  }
  const uint8_t* at(size_t offset) const { return bytes_.data() + offset; }
  size_t size() const { return bytes_.size(); }

 private:
  std::span<const uint8_t> bytes_;
  std::string_view source_;
};

enum class BmpLayout { kPalette, kGreyIndex, kRgb555, kRgb565, kBgr24, kBytes32 };

struct BmpInfo {
  int64_t width = 0;
  int64_t height = 0;
  bool top_down = false;
  int bits = 0;
  BmpLayout layout = BmpLayout::kPalette;
  std::array<int, 3> byte_of_channel{2, 1, 0};  // kBytes32: byte index of R, G, B in a pixel
  std::array<uint8_t, 256 * 3> palette{};       // zero: indices past the palette are black
};

// Byte index of an 8-bit channel mask (0xFF << 8k), or -1.
int mask_byte(uint32_t mask) {
  for (int k = 0; k < 4; ++k)
    if (mask == (0xFFu << (8 * k))) return k;
  return -1;
}

// Pillow's supported 32-bit BI_BITFIELDS layouts (r, g, b, a masks).
bool supported_mask32(uint32_t r, uint32_t g, uint32_t b, uint32_t a) {
  static constexpr std::array<std::array<uint32_t, 4>, 8> kSupported{{
      {0xFF0000, 0xFF00, 0xFF, 0x0},
      {0xFF000000, 0xFF0000, 0xFF00, 0x0},
      {0xFF000000, 0xFF00, 0xFF, 0x0},
      {0xFF000000, 0xFF0000, 0xFF00, 0xFF},
      {0xFF, 0xFF00, 0xFF0000, 0xFF000000},
      {0xFF0000, 0xFF00, 0xFF, 0xFF000000},
      {0xFF000000, 0xFF00, 0xFF, 0xFF0000},
      {0x0, 0x0, 0x0, 0x0},
  }};
  for (const auto& m : kSupported)
    if (m[0] == r && m[1] == g && m[2] == b && m[3] == a) return true;
  return false;
}

}  // namespace

RgbImage decode_bmp(std::span<const uint8_t> bytes, std::string_view source,
                    const DecodeLimits& limits) {
  const ByteReader in(bytes, source);
  uint64_t offset = in.u32(10, "file header");
  const uint32_t header_size = in.u32(14, "info header size");
  static constexpr std::array<uint32_t, 7> kHeaderSizes{12, 40, 52, 56, 64, 108, 124};
  if (std::find(kHeaderSizes.begin(), kHeaderSizes.end(), header_size) == kHeaderSizes.end())
    fail(ErrorKind::kUnsupported, "BMP image ", source, " has an unsupported info header of ",
         header_size, " bytes (supported: 12, 40, 52, 56, 64, 108, 124); re-encode it as PNG");
  in.require(14, header_size, "info header");

  BmpInfo info;
  uint32_t compression = kBiRgb;
  uint64_t colors = 0;
  int entry_bytes = 4;
  std::array<uint32_t, 4> masks{0, 0, 0, 0};
  uint64_t after_header = 14 + uint64_t{header_size};
  if (header_size == 12) {
    info.width = in.u16(18, "width");
    info.height = in.u16(20, "height");
    info.bits = static_cast<int>(in.u16(24, "bit count"));
    entry_bytes = 3;
  } else {
    info.width = static_cast<int32_t>(in.u32(18, "width"));
    const uint32_t raw_height = in.u32(22, "height");
    info.top_down = (raw_height >> 24) == 0xFF;  // a negative height: rows stored top-down
    info.height = info.top_down ? (int64_t{1} << 32) - raw_height : raw_height;
    info.bits = static_cast<int>(in.u16(28, "bit count"));
    compression = in.u32(30, "compression");
    colors = in.u32(46, "palette size");
    if (compression == kBiBitfields) {
      // The masks follow a 40-byte header; longer headers hold them at the same place.
      for (int i = 0; i < 3; ++i) masks[i] = in.u32(54 + 4 * i, "bitfield masks");
      if (header_size >= 56) masks[3] = in.u32(66, "alpha mask");
      if (header_size == 40) after_header += 12;
    }
  }
  check_image_dimensions(info.width, info.height, source, "BMP", limits);

  if (compression == kBiRle8 || compression == kBiRle4)
    fail(ErrorKind::kUnsupported, "BMP image ", source, " is RLE-compressed (RLE",
         compression == kBiRle8 ? 8 : 4, "), which is not supported; re-encode it as PNG");
  if (compression != kBiRgb && compression != kBiBitfields)
    fail(ErrorKind::kUnsupported, "BMP image ", source, " uses compression ", compression,
         " (4 = embedded JPEG, 5 = embedded PNG), which is not supported; re-encode it as PNG");

  switch (info.bits) {
    case 1:
    case 4:
    case 8:
      info.layout = BmpLayout::kPalette;
      break;
    case 16:
      info.layout = BmpLayout::kRgb555;
      break;
    case 24:
      info.layout = BmpLayout::kBgr24;
      break;
    case 32:
      info.layout = BmpLayout::kBytes32;
      break;
    default:
      fail(ErrorKind::kUnsupported, "BMP image ", source, " has an unsupported pixel depth of ",
           info.bits, " bits (supported: 1, 4, 8, 16, 24, 32)");
  }
  if (compression == kBiBitfields) {
    const auto [r, g, b, a] = masks;
    bool ok = false;
    if (info.bits == 32 && supported_mask32(r, g, b, a)) {
      ok = true;
      if (r != 0 || g != 0 || b != 0)
        info.byte_of_channel = {mask_byte(r), mask_byte(g), mask_byte(b)};
    } else if (info.bits == 24 && r == 0xFF0000 && g == 0xFF00 && b == 0xFF) {
      ok = true;
    } else if (info.bits == 16 && r == 0xF800 && g == 0x7E0 && b == 0x1F) {
      ok = true;
      info.layout = BmpLayout::kRgb565;
    } else if (info.bits == 16 && r == 0x7C00 && g == 0x3E0 && b == 0x1F) {
      ok = true;
    }
    if (!ok)
      fail(ErrorKind::kUnsupported, "BMP image ", source, " has an unsupported ", info.bits,
           "-bit BI_BITFIELDS layout (masks R 0x", std::hex, r, " G 0x", g, " B 0x", b, " A 0x", a,
           std::dec, "); re-encode it as PNG");
  }

  if (info.layout == BmpLayout::kPalette) {
    if (colors == 0) colors = uint64_t{1} << info.bits;
    if (colors > 65536)
      fail(ErrorKind::kFormat, "BMP image ", source, " declares ", colors,
           " palette entries (at most 65536 are valid); the file is corrupt");
    // Pillow's quirk: a pixel offset pointing at the palette means the pixels follow it.
    if (offset == 14 + uint64_t{header_size}) offset += entry_bytes * colors;
    const uint64_t used = std::min<uint64_t>(colors, 256);
    in.require(after_header, used * entry_bytes, "palette");
    bool grey_ramp = true;
    for (uint64_t i = 0; i < used; ++i) {
      const uint8_t* e = in.at(after_header + i * entry_bytes);
      info.palette[3 * i + 0] = e[2];  // stored B, G, R(, X)
      info.palette[3 * i + 1] = e[1];
      info.palette[3 * i + 2] = e[0];
      if (e[0] != i || e[1] != i || e[2] != i) grey_ramp = false;
    }
    if (grey_ramp && info.bits == 8 && colors != 2 && colors <= 256)
      info.layout = BmpLayout::kGreyIndex;
  }
  if (offset == 0) offset = after_header;  // Pillow: no offset means "right here"

  const int width = static_cast<int>(info.width);
  const int height = static_cast<int>(info.height);
  const uint64_t stride = ((uint64_t(width) * info.bits + 31) >> 3) & ~uint64_t{3};
  const uint64_t row_data = (uint64_t(width) * info.bits + 7) / 8;
  // The last row's padding may be missing (Pillow does not need it either).
  in.require(offset, stride * (height - 1) + row_data, "pixel data");

  RgbImage image = allocate_rgb_image(width, height, source);
  for (int y = 0; y < height; ++y) {
    const uint8_t* src = in.at(offset + stride * (info.top_down ? y : height - 1 - y));
    uint8_t* dst = image.pixels.data() + image.row_bytes() * y;
    switch (info.layout) {
      case BmpLayout::kPalette: {
        const int per_byte = 8 / info.bits;
        const int mask = (1 << info.bits) - 1;
        for (int x = 0; x < width; ++x) {
          const int shift = 8 - info.bits * (x % per_byte + 1);
          const int index = (src[x / per_byte] >> shift) & mask;
          std::memcpy(dst + 3 * x, &info.palette[3 * index], 3);
        }
        break;
      }
      case BmpLayout::kGreyIndex:
        for (int x = 0; x < width; ++x) dst[3 * x] = dst[3 * x + 1] = dst[3 * x + 2] = src[x];
        break;
      case BmpLayout::kRgb555:
      case BmpLayout::kRgb565: {
        const bool g6 = info.layout == BmpLayout::kRgb565;
        for (int x = 0; x < width; ++x) {
          const int p = src[2 * x] | (src[2 * x + 1] << 8);
          const int b = p & 31;
          const int g = g6 ? (p >> 5) & 63 : (p >> 5) & 31;
          const int r = g6 ? (p >> 11) & 31 : (p >> 10) & 31;
          dst[3 * x + 0] = static_cast<uint8_t>(r * 255 / 31);
          dst[3 * x + 1] = static_cast<uint8_t>(g6 ? g * 255 / 63 : g * 255 / 31);
          dst[3 * x + 2] = static_cast<uint8_t>(b * 255 / 31);
        }
        break;
      }
      case BmpLayout::kBgr24:
        for (int x = 0; x < width; ++x) {
          dst[3 * x + 0] = src[3 * x + 2];
          dst[3 * x + 1] = src[3 * x + 1];
          dst[3 * x + 2] = src[3 * x + 0];
        }
        break;
      case BmpLayout::kBytes32: {
        const auto [r, g, b] = info.byte_of_channel;
        for (int x = 0; x < width; ++x) {
          dst[3 * x + 0] = src[4 * x + r];
          dst[3 * x + 1] = src[4 * x + g];
          dst[3 * x + 2] = src[4 * x + b];
        }
        break;
      }
    }
  }
  return image;
}

}  // namespace blip2::image_detail
