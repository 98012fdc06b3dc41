// Format sniffing, size limits and dispatch to the per-format decoders (decode_*.cpp).
#include "image/decode.h"

#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <new>
#include <system_error>
#include <vector>

#include "core/error.h"
#include "image/decoders.h"

namespace blip2 {

namespace {

bool starts_with(std::span<const uint8_t> bytes, std::string_view magic, size_t offset = 0) {
  if (bytes.size() < offset + magic.size()) return false;
  return std::memcmp(bytes.data() + offset, magic.data(), magic.size()) == 0;
}

// Formats we recognise only to refuse them with a precise message.
std::string_view unsupported_format_name(std::span<const uint8_t> bytes) {
  if (starts_with(bytes, "GIF87a") || starts_with(bytes, "GIF89a")) return "GIF";
  if (starts_with(bytes, std::string_view("II*\0", 4)) ||
      starts_with(bytes, std::string_view("MM\0*", 4)))
    return "TIFF";
  if (starts_with(bytes, "ftyp", 4)) return "HEIF/AVIF";
  if (starts_with(bytes, std::string_view("\0\0\0\x0cjP  ", 8))) return "JPEG 2000";
  return {};
}

}  // namespace

ImageFormat sniff_image_format(std::span<const uint8_t> bytes) {
  if (starts_with(bytes, "\xFF\xD8\xFF")) return ImageFormat::kJpeg;
  if (starts_with(bytes, "\x89PNG\r\n\x1A\n")) return ImageFormat::kPng;
  if (starts_with(bytes, "RIFF") && starts_with(bytes, "WEBP", 8)) return ImageFormat::kWebp;
  if (starts_with(bytes, "BM")) return ImageFormat::kBmp;
  return ImageFormat::kUnknown;
}

std::string_view image_format_name(ImageFormat format) {
  switch (format) {
    case ImageFormat::kJpeg:
      return "JPEG";
    case ImageFormat::kPng:
      return "PNG";
    case ImageFormat::kWebp:
      return "WebP";
    case ImageFormat::kBmp:
      return "BMP";
    case ImageFormat::kUnknown:
      break;
  }
  return "unknown";
}

RgbImage decode_image(std::span<const uint8_t> bytes, std::string_view source_name,
                      const DecodeLimits& limits) {
  if (bytes.empty())
    fail(ErrorKind::kFormat, "image ", source_name, " is empty (0 bytes); pass a JPEG, PNG, WebP ",
         "or BMP file");
  if (static_cast<int64_t>(bytes.size()) > limits.max_file_bytes)
    fail(ErrorKind::kResource, "image ", source_name, " is ", bytes.size(),
         " bytes, more than the limit of ", limits.max_file_bytes,
         " bytes; shrink or re-encode it");
  switch (sniff_image_format(bytes)) {
    case ImageFormat::kJpeg:
      return image_detail::decode_jpeg(bytes, source_name, limits);
    case ImageFormat::kPng:
      return image_detail::decode_png(bytes, source_name, limits);
    case ImageFormat::kWebp:
      return image_detail::decode_webp(bytes, source_name, limits);
    case ImageFormat::kBmp:
      return image_detail::decode_bmp(bytes, source_name, limits);
    case ImageFormat::kUnknown:
      break;
  }
  std::string_view known = unsupported_format_name(bytes);
  if (!known.empty())
    fail(ErrorKind::kUnsupported, "image ", source_name, " is a ", known,
         " file, which is not supported; convert it to PNG or JPEG");
  fail(ErrorKind::kUnsupported, "image ", source_name,
       " is not in a supported format (its first bytes match no JPEG, PNG, WebP or BMP ",
       "signature); pass a JPEG, PNG, WebP or BMP file");
}

RgbImage decode_image_file(const std::string& path, const DecodeLimits& limits) {
  std::error_code ec;
  const std::filesystem::file_status status = std::filesystem::status(path, ec);
  if (ec || !std::filesystem::exists(status))
    fail(ErrorKind::kNotFound, "image file ", path, " does not exist; check the path");
  if (std::filesystem::is_directory(status))
    fail(ErrorKind::kInvalidArgument, "image path ", path,
         " is a directory; pass the path of an image file");
  const uintmax_t size = std::filesystem::file_size(path, ec);
  if (ec)
    fail(ErrorKind::kNotFound, "cannot read the size of image file ", path, ": ", ec.message());
  if (size > static_cast<uintmax_t>(limits.max_file_bytes))
    fail(ErrorKind::kResource, "image file ", path, " is ", size, " bytes, more than the limit of ",
         limits.max_file_bytes, " bytes; shrink or re-encode it");
  std::ifstream in(path, std::ios::binary);
  if (!in)
    fail(ErrorKind::kNotFound, "cannot open image file ", path,
         " for reading; check its permissions");
  std::vector<uint8_t> bytes(static_cast<size_t>(size));
  if (size > 0 &&
      !in.read(reinterpret_cast<char*>(bytes.data()), static_cast<std::streamsize>(size)))
    fail(ErrorKind::kFormat, "cannot read all ", size, " bytes of image file ", path,
         " (it changed while being read?)");
  return decode_image(bytes, path, limits);
}

namespace image_detail {

void check_image_dimensions(int64_t width, int64_t height, std::string_view source,
                            std::string_view format, const DecodeLimits& limits) {
  if (width <= 0 || height <= 0)
    fail(ErrorKind::kFormat, format, " image ", source, " has invalid dimensions ", width, "x",
         height, " in its header; the file is corrupt");
  // RgbImage holds int sides; checking them first also keeps the product inside int64.
  if (width > std::numeric_limits<int32_t>::max() || height > std::numeric_limits<int32_t>::max() ||
      width * height > limits.max_pixels)
    fail(ErrorKind::kResource, format, " image ", source, " is ", width, "x", height,
         " pixels, more than the limit of ", limits.max_pixels,
         " pixels (DecodeLimits::max_pixels); downscale it first");
}

RgbImage allocate_rgb_image(int width, int height, std::string_view source) {
  RgbImage image;
  try {
    image.pixels.resize(static_cast<size_t>(width) * static_cast<size_t>(height) * 3);
  } catch (const std::bad_alloc&) {
    fail(ErrorKind::kResource, "out of memory allocating ", width, "x", height,
         " RGB pixels for image ", source);
  }
  image.width = width;
  image.height = height;
  return image;
}

}  // namespace image_detail
}  // namespace blip2
