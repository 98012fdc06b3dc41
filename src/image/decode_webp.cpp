// WebP via libwebp (still images, lossy or lossless, with or without alpha). Pillow decodes WebP
// into non-premultiplied RGBA (or RGBX) and convert("RGB") drops the alpha, so decoding straight
// to MODE_RGB gives the same samples. Animated files are refused (Pillow would take the first
// frame composited on the canvas; libwebp's still-image decoder cannot).
#include <webp/decode.h>

#include "core/error.h"
#include "image/decoders.h"

namespace blip2::image_detail {

namespace {

std::string_view webp_status_text(VP8StatusCode status) {
  switch (status) {
    case VP8_STATUS_OK:
      return "ok";
    case VP8_STATUS_OUT_OF_MEMORY:
      return "out of memory";
    case VP8_STATUS_INVALID_PARAM:
      return "invalid parameter";
    case VP8_STATUS_BITSTREAM_ERROR:
      return "bitstream error";
    case VP8_STATUS_UNSUPPORTED_FEATURE:
      return "unsupported feature";
    case VP8_STATUS_SUSPENDED:
      return "suspended";
    case VP8_STATUS_USER_ABORT:
      return "aborted";
    case VP8_STATUS_NOT_ENOUGH_DATA:
      return "not enough data";
  }
  return "unknown error";
}

[[noreturn]] void fail_webp(VP8StatusCode status, std::string_view source) {
  if (status == VP8_STATUS_NOT_ENOUGH_DATA)
    fail(ErrorKind::kFormat, "WebP image ", source,
         " is truncated (the file ends before the image data is complete); re-download or "
         "re-encode it");
  if (status == VP8_STATUS_UNSUPPORTED_FEATURE)
    fail(ErrorKind::kUnsupported, "WebP image ", source,
         " uses a feature libwebp cannot decode here; re-encode it as PNG or JPEG");
  if (status == VP8_STATUS_OUT_OF_MEMORY)
    fail(ErrorKind::kResource, "out of memory decoding WebP image ", source);
  fail(ErrorKind::kFormat, "WebP image ", source,
       " is corrupt (libwebp: ", webp_status_text(status), "); re-encode it");
}

}  // namespace

RgbImage decode_webp(std::span<const uint8_t> bytes, std::string_view source,
                     const DecodeLimits& limits) {
  WebPDecoderConfig config;
  if (!WebPInitDecoderConfig(&config))
    fail(ErrorKind::kInternal, "libwebp version mismatch (WebPInitDecoderConfig failed)");
  const VP8StatusCode features = WebPGetFeatures(bytes.data(), bytes.size(), &config.input);
  if (features != VP8_STATUS_OK) fail_webp(features, source);
  if (config.input.has_animation)
    fail(ErrorKind::kUnsupported, "WebP image ", source,
         " is animated; only still WebP images are supported (extract a frame as PNG)");
  check_image_dimensions(config.input.width, config.input.height, source, "WebP", limits);

  RgbImage image = allocate_rgb_image(config.input.width, config.input.height, source);
  config.output.colorspace = MODE_RGB;
  config.output.is_external_memory = 1;
  config.output.u.RGBA.rgba = image.pixels.data();
  config.output.u.RGBA.stride = static_cast<int>(image.row_bytes());
  config.output.u.RGBA.size = image.pixels.size();
  const VP8StatusCode status = WebPDecode(bytes.data(), bytes.size(), &config);
  WebPFreeDecBuffer(&config.output);  // no-op for external memory, but keeps libwebp's contract
  if (status != VP8_STATUS_OK) fail_webp(status, source);
  return image;
}

}  // namespace blip2::image_detail
