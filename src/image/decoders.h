// Internal to src/image: one decoder per format, called by decode_image() once it has sniffed the
// format. Each returns an RgbImage converted like PIL convert("RGB") (see decode.h) and throws
// blip2::Error naming `source`. Each checks the header dimensions with check_image_dimensions()
// before it allocates any pixel buffer.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>

#include "image/decode.h"
#include "image/rgb_image.h"

namespace blip2::image_detail {

RgbImage decode_jpeg(std::span<const uint8_t> bytes, std::string_view source,
                     const DecodeLimits& limits);
RgbImage decode_png(std::span<const uint8_t> bytes, std::string_view source,
                    const DecodeLimits& limits);
RgbImage decode_webp(std::span<const uint8_t> bytes, std::string_view source,
                     const DecodeLimits& limits);
RgbImage decode_bmp(std::span<const uint8_t> bytes, std::string_view source,
                    const DecodeLimits& limits);

// Throws kFormat for a non-positive dimension and kResource when width * height exceeds
// limits.max_pixels. `format` names the format in the message ("PNG").
void check_image_dimensions(int64_t width, int64_t height, std::string_view source,
                            std::string_view format, const DecodeLimits& limits);

// An RgbImage of the given (already checked) size with its pixel buffer allocated; throws
// kResource if the allocation fails.
RgbImage allocate_rgb_image(int width, int height, std::string_view source);

}  // namespace blip2::image_detail
