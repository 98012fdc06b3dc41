// RgbImage: the one in-memory image type of the image stage, 8-bit RGB, interleaved, row-major.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace blip2 {

struct RgbImage {
  int width = 0;
  int height = 0;
  std::vector<uint8_t> pixels;  // u8 [height, width, 3] (HWC, RGB)

  size_t row_bytes() const { return static_cast<size_t>(width) * 3; }
  const uint8_t* pixel(int x, int y) const {
    return pixels.data() + static_cast<size_t>(y) * row_bytes() + static_cast<size_t>(x) * 3;
  }
};

}  // namespace blip2
