#include "bench/synthetic_image.h"

#include <algorithm>
#include <cstdio>  // jpeglib.h needs FILE and size_t declared first
#include <cstdlib>

#include <jpeglib.h>

#include "core/error.h"

namespace blip2::bench {

std::vector<uint8_t> synthetic_jpeg(int width, int height, int quality) {
  if (width <= 0 || height <= 0 || width > 8192 || height > 8192)
    fail(ErrorKind::kInvalidArgument, "synthetic image size ", width, "x", height,
         " is out of range");
  std::vector<uint8_t> rgb(static_cast<size_t>(width) * height * 3);
  uint32_t noise = 12345;
  for (int y = 0; y < height; ++y) {
    for (int x = 0; x < width; ++x) {
      uint8_t* p = rgb.data() + (static_cast<size_t>(y) * width + x) * 3;
      int r = 40 + 150 * x / width, g = 80 + 120 * y / height,
          b = 200 - 100 * (x + y) / (width + height);
      // A red disc, a blue rectangle and a yellow band.
      const int dx = x - width / 3, dy = y - height / 2;
      if (dx * dx + dy * dy < (height / 5) * (height / 5)) r = 220, g = 40, b = 30;
      if (x > width * 3 / 5 && x < width * 4 / 5 && y > height / 4 && y < height * 3 / 5)
        r = 30, g = 60, b = 200;
      if (y > height * 5 / 6 && y < height * 9 / 10) r = 230, g = 210, b = 40;
      noise = noise * 1664525u + 1013904223u;  // LCG, deterministic
      const int n = static_cast<int>(noise >> 28) - 8;
      p[0] = static_cast<uint8_t>(std::min(255, std::max(0, r + n)));
      p[1] = static_cast<uint8_t>(std::min(255, std::max(0, g + n)));
      p[2] = static_cast<uint8_t>(std::min(255, std::max(0, b + n)));
    }
  }
  jpeg_compress_struct c{};
  jpeg_error_mgr err{};
  c.err = jpeg_std_error(&err);  // encoding our own buffer cannot hit a data error
  jpeg_create_compress(&c);
  unsigned char* out = nullptr;
  unsigned long out_size = 0;
  jpeg_mem_dest(&c, &out, &out_size);
  c.image_width = static_cast<JDIMENSION>(width);
  c.image_height = static_cast<JDIMENSION>(height);
  c.input_components = 3;
  c.in_color_space = JCS_RGB;
  jpeg_set_defaults(&c);
  jpeg_set_quality(&c, quality, TRUE);
  jpeg_start_compress(&c, TRUE);
  while (c.next_scanline < c.image_height) {
    JSAMPROW row = rgb.data() + static_cast<size_t>(c.next_scanline) * width * 3;
    jpeg_write_scanlines(&c, &row, 1);
  }
  jpeg_finish_compress(&c);
  std::vector<uint8_t> bytes(out, out + out_size);
  jpeg_destroy_compress(&c);
  std::free(out);
  return bytes;
}

}  // namespace blip2::bench
