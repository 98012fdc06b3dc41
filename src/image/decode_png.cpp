// PNG via libpng, converted to RGB the way Pillow opens the file (PngImagePlugin's mode/rawmode
// table) and then runs convert("RGB"):
//   grey 1/2/4/8-bit  "1"/"L;2"/"L;4"/"L"   scaled to 8 bits (v * 255 / (2^n - 1)), replicated
//   grey 16-bit       "I;16" (I;16B)        convert("RGB") clips: min(v, 255), replicated
//   grey+alpha 8      "LA"                  grey replicated, alpha dropped
//   grey+alpha 16     "RGBA" (LA;16B)       high byte of grey replicated, alpha dropped
//   RGB 8 / 16        "RGB" / "RGB;16B"     16-bit keeps the high byte of each sample
//   RGBA 8 / 16       "RGBA" / "RGBA;16B"   alpha dropped; 16-bit keeps the high bytes
//   palette 1-8 bit   "P"                   looked up in PLTE; indices past it are black
// tRNS and gAMA are ignored (convert("RGB") ignores transparency; Pillow applies no gamma).
//
// libpng reports errors with longjmp to the setjmp in run_png(). Only plain C objects live in that
// frame; every C++ buffer it fills is owned by the caller, so the jump skips no destructor.
#include <algorithm>
#include <array>
#include <csetjmp>
#include <cstdio>
#include <cstring>
#include <new>
#include <vector>

#include <png.h>

#include "core/error.h"
#include "image/decoders.h"

namespace blip2::image_detail {

namespace {

struct PngJob {
  const uint8_t* data;
  size_t size;
  size_t pos;
  char message[256];
  bool truncated;
  // Filled by run_png.
  int64_t width;
  int64_t height;
  int bit_depth;
  int color_type;
};

void on_png_read(png_structp png, png_bytep out, size_t length) {
  auto* job = static_cast<PngJob*>(png_get_io_ptr(png));
  if (length > job->size - job->pos) {
    job->truncated = true;
    png_error(png, "unexpected end of file");
  }
  std::memcpy(out, job->data + job->pos, length);
  job->pos += length;
}

[[noreturn]] void on_png_error(png_structp png, png_const_charp message) {
  auto* job = static_cast<PngJob*>(png_get_error_ptr(png));
  std::snprintf(job->message, sizeof(job->message), "%s", message ? message : "libpng error");
  png_longjmp(png, 1);
}

void on_png_warning(png_structp, png_const_charp) {}  // Pillow does not report them either

enum class PngStatus { kOk, kLibraryError, kTooLarge, kOutOfMemory };

struct PngBuffers {
  std::vector<uint8_t> row;                // one decoded row (non-interlaced files)
  std::vector<uint8_t> raw;                // the whole decoded image (interlaced files)
  std::vector<png_bytep> rows;             // row pointers into `raw`
  std::array<uint8_t, 256 * 3> palette{};  // zero: indices past PLTE are black
};

// One row of libpng output (after the transforms set in run_png) to RGB8.
void convert_png_row(const uint8_t* src, uint8_t* dst, int width, int color_type, int bit_depth,
                     const std::array<uint8_t, 256 * 3>& palette) {
  const bool wide = bit_depth == 16;
  switch (color_type) {
    case PNG_COLOR_TYPE_GRAY:
      for (int x = 0; x < width; ++x) {
        uint8_t v;
        if (wide) {
          v = src[2 * x] != 0 ? 255 : src[2 * x + 1];  // "I;16" -> RGB clips at 255
        } else {
          v = src[x];
        }
        dst[3 * x] = dst[3 * x + 1] = dst[3 * x + 2] = v;
      }
      break;
    case PNG_COLOR_TYPE_GRAY_ALPHA: {
      const int step = wide ? 4 : 2;
      for (int x = 0; x < width; ++x) {
        const uint8_t v = src[step * x];
        dst[3 * x] = dst[3 * x + 1] = dst[3 * x + 2] = v;
      }
      break;
    }
    case PNG_COLOR_TYPE_RGB:
      if (!wide) {
        std::memcpy(dst, src, static_cast<size_t>(width) * 3);
      } else {
        for (int x = 0; x < width; ++x)
          for (int c = 0; c < 3; ++c) dst[3 * x + c] = src[6 * x + 2 * c];
      }
      break;
    case PNG_COLOR_TYPE_RGB_ALPHA: {
      const int step = wide ? 8 : 4;
      const int sample = wide ? 2 : 1;
      for (int x = 0; x < width; ++x)
        for (int c = 0; c < 3; ++c) dst[3 * x + c] = src[step * x + sample * c];
      break;
    }
    case PNG_COLOR_TYPE_PALETTE:
      for (int x = 0; x < width; ++x) std::memcpy(dst + 3 * x, &palette[3 * src[x]], 3);
      break;
    default:
      break;  // rejected by libpng before any row is read
  }
}

// The setjmp frame: only C objects here (see the file comment).
PngStatus run_png(PngJob* job, const DecodeLimits* limits, std::string_view source, RgbImage* out,
                  PngBuffers* buffers) {
  png_structp png =
      png_create_read_struct(PNG_LIBPNG_VER_STRING, job, on_png_error, on_png_warning);
  if (png == nullptr) return PngStatus::kOutOfMemory;
  png_infop info = png_create_info_struct(png);
  if (info == nullptr) {
    png_destroy_read_struct(&png, nullptr, nullptr);
    return PngStatus::kOutOfMemory;
  }
  if (setjmp(png_jmpbuf(png))) {
    png_destroy_read_struct(&png, &info, nullptr);
    return PngStatus::kLibraryError;
  }
  png_set_read_fn(png, job, on_png_read);
  // Our own limit is checked below; lift libpng's 1M x 1M default so that it is the one reported.
  png_set_user_limits(png, 0x7fffffff, 0x7fffffff);
  png_read_info(png, info);

  png_uint_32 width = 0, height = 0;
  int bit_depth = 0, color_type = 0, interlace = 0;
  png_get_IHDR(png, info, &width, &height, &bit_depth, &color_type, &interlace, nullptr, nullptr);
  job->width = width;
  job->height = height;
  job->bit_depth = bit_depth;
  job->color_type = color_type;
  if (job->width <= 0 || job->height <= 0 || job->width > 0x7fffffff || job->height > 0x7fffffff ||
      job->width * job->height > limits->max_pixels) {
    png_destroy_read_struct(&png, &info, nullptr);
    return PngStatus::kTooLarge;
  }

  if (color_type == PNG_COLOR_TYPE_PALETTE) {
    png_colorp plte = nullptr;
    int count = 0;
    if (png_get_PLTE(png, info, &plte, &count) && plte != nullptr) {
      count = std::min(count, 256);
      for (int i = 0; i < count; ++i) {
        buffers->palette[3 * i + 0] = plte[i].red;
        buffers->palette[3 * i + 1] = plte[i].green;
        buffers->palette[3 * i + 2] = plte[i].blue;
      }
    }
    if (bit_depth < 8) png_set_packing(png);  // one index per byte, not scaled
  } else if (color_type == PNG_COLOR_TYPE_GRAY && bit_depth < 8) {
    png_set_expand_gray_1_2_4_to_8(png);  // v * 255 / (2^n - 1), as Pillow's L;2/L;4/1 unpackers
  }
  const int passes = png_set_interlace_handling(png);
  png_read_update_info(png, info);
  const size_t row_bytes = png_get_rowbytes(png, info);
  const int w = static_cast<int>(width);
  const int h = static_cast<int>(height);
  try {
    *out = allocate_rgb_image(w, h, source);
    if (passes == 1) {
      buffers->row.resize(row_bytes);
    } else {
      buffers->raw.resize(row_bytes * h);
      buffers->rows.resize(h);
      for (int y = 0; y < h; ++y) buffers->rows[y] = buffers->raw.data() + row_bytes * y;
    }
  } catch (...) {
    png_destroy_read_struct(&png, &info, nullptr);
    return PngStatus::kOutOfMemory;
  }
  if (passes == 1) {
    for (int y = 0; y < h; ++y) {
      png_read_row(png, buffers->row.data(), nullptr);
      convert_png_row(buffers->row.data(), out->pixels.data() + out->row_bytes() * y, w, color_type,
                      bit_depth, buffers->palette);
    }
  } else {
    png_read_image(png, buffers->rows.data());
    for (int y = 0; y < h; ++y)
      convert_png_row(buffers->rows[y], out->pixels.data() + out->row_bytes() * y, w, color_type,
                      bit_depth, buffers->palette);
  }
  // Like Pillow, nothing after the image data (text chunks, IEND) is required.
  png_destroy_read_struct(&png, &info, nullptr);
  return PngStatus::kOk;
}

}  // namespace

RgbImage decode_png(std::span<const uint8_t> bytes, std::string_view source,
                    const DecodeLimits& limits) {
  PngJob job{};
  job.data = bytes.data();
  job.size = bytes.size();
  RgbImage image;
  PngBuffers buffers;
  switch (run_png(&job, &limits, source, &image, &buffers)) {
    case PngStatus::kOk:
      return image;
    case PngStatus::kTooLarge:
      check_image_dimensions(job.width, job.height, source, "PNG", limits);
      break;
    case PngStatus::kOutOfMemory:
      fail(ErrorKind::kResource, "out of memory decoding the ", job.width, "x", job.height,
           " PNG image ", source);
    case PngStatus::kLibraryError:
      break;
  }
  if (job.truncated)
    fail(ErrorKind::kFormat, "PNG image ", source, " is truncated (it ends after ", job.size,
         " bytes, before the image data is complete); re-download or re-encode it");
  fail(ErrorKind::kFormat, "PNG image ", source, " is corrupt: ", job.message, "; re-encode it");
}

}  // namespace blip2::image_detail
