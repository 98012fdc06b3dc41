// A photo-like test image for benchmarks run without --image: 640x480 (the COCO size), smooth
// gradients, a few flat shapes and mild deterministic noise, JPEG-encoded in memory (libjpeg,
// quality 90, 4:2:0) so that timing its decode means what it means for a real photo.
#pragma once

#include <cstdint>
#include <vector>

namespace blip2::bench {

std::vector<uint8_t> synthetic_jpeg(int width = 640, int height = 480, int quality = 90);

}  // namespace blip2::bench
