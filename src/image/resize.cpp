// Pillow-exact bicubic resize (see resize.h). Reference: Pillow src/libImaging/Resample.c
// (precompute_coeffs, normalize_coeffs_8bpc, ImagingResampleHorizontal_8bpc/Vertical_8bpc,
// ImagingResampleInner); re-derived here, not copied.
//
// This file must be compiled without floating-point contraction (-ffp-contract=off, set in
// src/image/CMakeLists.txt): the weights are computed in double and a fused multiply-add would
// change their last bits, and with them an occasional output level.
#include "image/resize.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>

#include "core/error.h"

// x86-64: the integer kernels get an SSE4.1 and an AVX2 clone, picked at load time, besides the
// baseline build; the horizontal pass also has an explicit 8-lane AVX2 variant. All compute the
// same integers. Sanitizer builds keep only the portable code, so that it is the code tested.
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__SANITIZE_ADDRESS__) && \
    defined(__has_attribute) && __has_attribute(target_clones)
#define BLIP2_RESIZE_X86 1
#define BLIP2_RESIZE_CLONES __attribute__((target_clones("avx2", "sse4.1", "default")))
#else
#define BLIP2_RESIZE_X86 0
#define BLIP2_RESIZE_CLONES
#endif

namespace blip2 {

namespace {

constexpr int kPrecisionBits = 32 - 8 - 2;  // Pillow's PRECISION_BITS: 22
constexpr int32_t kHalf = int32_t{1} << (kPrecisionBits - 1);
constexpr double kBicubicSupport = 2.0;

// Pillow's bicubic_filter with a = -0.5, evaluated in the same order.
double bicubic_filter(double x) {
  constexpr double a = -0.5;
  if (x < 0.0) x = -x;
  if (x < 1.0) return ((a + 2.0) * x - (a + 3.0)) * x * x + 1;
  if (x < 2.0) return (((x - 5) * x + 8) * x - 4) * a;
  return 0.0;
}

inline uint8_t clip8(int32_t acc) {
  const int32_t v = acc >> kPrecisionBits;  // arithmetic shift: floor, as Pillow's lookup table
  return static_cast<uint8_t>(v < 0 ? 0 : (v > 255 ? 255 : v));
}

void check_resize_args(const RgbImage& image, int width, int height) {
  if (width <= 0 || height <= 0)
    fail(ErrorKind::kInvalidArgument, "cannot resize an image to ", width, "x", height,
         ": both sides must be positive");
  if (image.width <= 0 || image.height <= 0 ||
      image.pixels.size() != static_cast<size_t>(image.width) * image.height * 3)
    fail(ErrorKind::kInvalidArgument, "cannot resize a ", image.width, "x", image.height,
         " image holding ", image.pixels.size(), " bytes: an RGB image needs width * height * 3");
}

// GCC/Clang vector extensions: plain C++ operators on fixed-size vectors, lowered to SSE, AVX2 or
// NEON by the compiler; no intrinsics, so the code stays portable.
typedef int32_t I32x4 __attribute__((vector_size(16)));
typedef uint8_t U8x16 __attribute__((vector_size(16)));
typedef uint32_t U32x4 __attribute__((vector_size(16)));
// The kernels read a byte lane as the low byte of an int32 lane.
static_assert(std::endian::native == std::endian::little, "resize.cpp assumes little-endian");

// Bytes that the horizontal kernels may read past the last pixel of a row.
constexpr size_t kRowOverread = 5;

typedef uint16_t U16x8 __attribute__((vector_size(16)));

// Four bytes at `p` zero-extended into the four int32 lanes: bytes interleaved with zeros, then
// 16-bit words with zeros (punpcklbw + punpcklwd on SSE2, pmovzx on SSE4.1).
inline I32x4 widen4(const uint8_t* p) {
  uint32_t word;
  std::memcpy(&word, p, sizeof(word));
  const U32x4 words = {word, 0, 0, 0};
  const U8x16 bytes = reinterpret_cast<U8x16>(words);
  const U8x16 zero8 = {};
  const U8x16 b16 =
      __builtin_shufflevector(bytes, zero8, 0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
  const U16x8 halves = reinterpret_cast<U16x8>(b16);
  const U16x8 zero16 = {};
  const U16x8 b32 = __builtin_shufflevector(halves, zero16, 0, 8, 1, 9, 2, 10, 3, 11);
  return reinterpret_cast<I32x4>(b32);
}

// Horizontal pass over `rows` rows of `src` (row stride src_stride, each readable for
// kRowOverread bytes past its last pixel) into `dst` (out_w * 3 bytes per row). One 4-lane
// multiply-add per tap: lanes R, G, B and the byte after, which is weighted but discarded (it
// cannot overflow: every lane is bounded like a real channel).
BLIP2_RESIZE_CLONES
void horizontal_pass(const uint8_t* src, size_t src_stride, int rows, const ResampleTaps& taps,
                     int out_w, uint8_t* dst) {
  for (int y = 0; y < rows; ++y) {
    const uint8_t* row = src + src_stride * y;
    uint8_t* out = dst + static_cast<size_t>(out_w) * 3 * y;
    for (int xx = 0; xx < out_w; ++xx) {
      const uint8_t* p = row + static_cast<size_t>(taps.first[xx]) * 3;
      const int32_t* k = taps.weights.data() + static_cast<size_t>(xx) * taps.ksize;
      const int n = taps.count[xx];
      I32x4 acc = {kHalf, kHalf, kHalf, 0};
      for (int t = 0; t < n; ++t) acc += widen4(p + 3 * t) * k[t];
      out[3 * xx + 0] = clip8(acc[0]);
      out[3 * xx + 1] = clip8(acc[1]);
      out[3 * xx + 2] = clip8(acc[2]);
    }
  }
}

#if BLIP2_RESIZE_X86
typedef int32_t I32x8 __attribute__((vector_size(32)));
typedef uint8_t U8x32 __attribute__((vector_size(32)));
typedef uint64_t U64x4 __attribute__((vector_size(32)));

// The AVX2 variant takes two taps per step in 8 lanes: lanes 0-3 hold tap t's bytes, lanes 4-7
// tap t + 1's, weighted by {k[t] x 4, k[t + 1] x 4} (a missing last partner weighs 0); the halves
// are added at the end, which is exact in integers. These are the weights in that layout.
struct PairedWeights {
  int pairs = 0;  // per output sample: (ksize + 1) / 2
  std::vector<I32x8> lanes;
};

PairedWeights pair_weights(const ResampleTaps& taps) {
  PairedWeights w;
  w.pairs = (taps.ksize + 1) / 2;
  const size_t out = taps.first.size();
  w.lanes.assign(out * w.pairs, I32x8{});
  for (size_t xx = 0; xx < out; ++xx) {
    const int32_t* k = taps.weights.data() + xx * taps.ksize;
    for (int t = 0; t < taps.count[xx]; ++t)
      for (int c = 0; c < 4; ++c) w.lanes[xx * w.pairs + t / 2][(t % 2) * 4 + c] = k[t];
  }
  return w;
}

__attribute__((target("avx2"))) void horizontal_pass_avx2(const uint8_t* src, size_t src_stride,
                                                          int rows, const ResampleTaps& taps,
                                                          const PairedWeights& weights, int out_w,
                                                          uint8_t* dst) {
  const U8x32 zero = {};
  for (int y = 0; y < rows; ++y) {
    const uint8_t* row = src + src_stride * y;
    uint8_t* out = dst + static_cast<size_t>(out_w) * 3 * y;
    for (int xx = 0; xx < out_w; ++xx) {
      const uint8_t* p = row + static_cast<size_t>(taps.first[xx]) * 3;
      const I32x8* k = weights.lanes.data() + static_cast<size_t>(xx) * weights.pairs;
      const int pairs = (taps.count[xx] + 1) / 2;
      I32x8 acc = {kHalf, kHalf, kHalf, 0, 0, 0, 0, 0};
      for (int i = 0; i < pairs; ++i) {
        uint64_t word;  // bytes 6i .. 6i + 7
        std::memcpy(&word, p + 6 * i, sizeof(word));
        const U64x4 words = {word, word, word, word};
        // Zero-extend bytes 0-3 into lanes 0-3 and bytes 3-6 into lanes 4-7: one byte shuffle
        // within each 128-bit half (indices >= 32 pick zeros).
        const U8x32 bytes = reinterpret_cast<U8x32>(words);
        const U8x32 lanes = __builtin_shufflevector(
            bytes, zero, 0, 32, 32, 32, 1, 32, 32, 32, 2, 32, 32, 32, 3, 32, 32, 32,  //
            19, 32, 32, 32, 20, 32, 32, 32, 21, 32, 32, 32, 22, 32, 32, 32);
        acc += reinterpret_cast<I32x8>(lanes) * k[i];
      }
      out[3 * xx + 0] = clip8(acc[0] + acc[4]);
      out[3 * xx + 1] = clip8(acc[1] + acc[5]);
      out[3 * xx + 2] = clip8(acc[2] + acc[6]);
    }
  }
}

bool cpu_has_avx2() {
  static const bool has = [] {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") != 0;
  }();
  return has;
}
#endif  // BLIP2_RESIZE_X86

// The best horizontal kernel for this CPU over `rows` rows (see horizontal_pass).
class HorizontalKernel {
 public:
  explicit HorizontalKernel(const ResampleTaps& taps) : taps_(taps) {
#if BLIP2_RESIZE_X86
    if (cpu_has_avx2()) paired_ = pair_weights(taps);
#endif
  }
  void run(const uint8_t* src, size_t src_stride, int rows, int out_w, uint8_t* dst) const {
#if BLIP2_RESIZE_X86
    if (paired_.pairs > 0) {
      horizontal_pass_avx2(src, src_stride, rows, taps_, paired_, out_w, dst);
      return;
    }
#endif
    horizontal_pass(src, src_stride, rows, taps_, out_w, dst);
  }

 private:
  const ResampleTaps& taps_;
#if BLIP2_RESIZE_X86
  PairedWeights paired_;
#endif
};

// Vertical pass: each output row is a weighted sum of whole input rows (`len` bytes each).
BLIP2_RESIZE_CLONES
void vertical_pass(const uint8_t* src, size_t len, const ResampleTaps& taps, int out_h,
                   int32_t* acc, uint8_t* dst) {
  for (int yy = 0; yy < out_h; ++yy) {
    const int32_t* k = taps.weights.data() + static_cast<size_t>(yy) * taps.ksize;
    const uint8_t* first = src + len * taps.first[yy];
    const int n = taps.count[yy];
    for (size_t j = 0; j < len; ++j) acc[j] = kHalf;
    for (int t = 0; t < n; ++t) {
      const int32_t w = k[t];
      const uint8_t* row = first + len * t;
      for (size_t j = 0; j < len; ++j) acc[j] += static_cast<int32_t>(row[j]) * w;
    }
    uint8_t* out = dst + len * yy;
    for (size_t j = 0; j < len; ++j) out[j] = clip8(acc[j]);
  }
}

// The rows [row_first, row_first + rows) of `image` through horizontal_pass. Rows followed by at
// least kRowOverread bytes of the image are read in place; the last one or two go through a
// padded copy so that the kernel never reads past the buffer.
void horizontal_rows(const RgbImage& image, int row_first, int rows, const ResampleTaps& taps,
                     int out_w, uint8_t* dst) {
  const HorizontalKernel kernel(taps);
  const size_t in_row = image.row_bytes();
  const size_t out_row = static_cast<size_t>(out_w) * 3;
  int in_place = rows;
  while (in_place > 0 && in_row * (row_first + in_place) + kRowOverread > image.pixels.size())
    --in_place;
  const uint8_t* src = image.pixels.data() + in_row * row_first;
  if (in_place > 0) kernel.run(src, in_row, in_place, out_w, dst);
  std::vector<uint8_t> padded(in_row + kRowOverread, 0);
  for (int y = in_place; y < rows; ++y) {
    std::memcpy(padded.data(), src + in_row * y, in_row);
    kernel.run(padded.data(), padded.size(), 1, out_w, dst + out_row * y);
  }
}

// The rows [first, last) of the input that the vertical pass reads.
std::pair<int, int> used_rows(const ResampleTaps& vertical, int out_h) {
  return {vertical.first[0], vertical.first[out_h - 1] + vertical.count[out_h - 1]};
}

}  // namespace

ResampleTaps bicubic_taps(int in_size, int out_size) {
  if (in_size <= 0 || out_size <= 0)
    fail(ErrorKind::kInvalidArgument, "bicubic_taps: sizes must be positive (", in_size, " -> ",
         out_size, ")");
  // Pillow takes the source box as floats (0, in_size) and works in double from there.
  const float in0 = 0.0f;
  const float in1 = static_cast<float>(in_size);
  const double scale = static_cast<double>(in1 - in0) / out_size;
  const double filterscale = scale < 1.0 ? 1.0 : scale;
  const double support = kBicubicSupport * filterscale;
  ResampleTaps taps;
  taps.ksize = static_cast<int>(std::ceil(support)) * 2 + 1;
  taps.first.resize(out_size);
  taps.count.resize(out_size);
  taps.weights.assign(static_cast<size_t>(out_size) * taps.ksize, 0);
  std::vector<double> k(taps.ksize);
  const double ss = 1.0 / filterscale;
  for (int xx = 0; xx < out_size; ++xx) {
    const double center = in0 + (xx + 0.5) * scale;
    // Truncation toward zero, then clamping, exactly as Pillow rounds the window.
    int xmin = static_cast<int>(center - support + 0.5);
    if (xmin < 0) xmin = 0;
    int xmax = static_cast<int>(center + support + 0.5);
    if (xmax > in_size) xmax = in_size;
    xmax -= xmin;
    double ww = 0.0;
    for (int x = 0; x < xmax; ++x) {
      const double w = bicubic_filter((x + xmin - center + 0.5) * ss);
      k[x] = w;
      ww += w;
    }
    int32_t* fixed = taps.weights.data() + static_cast<size_t>(xx) * taps.ksize;
    for (int x = 0; x < xmax; ++x) {
      const double w = ww != 0.0 ? k[x] / ww : k[x];
      fixed[x] = w < 0 ? static_cast<int32_t>(-0.5 + w * (1 << kPrecisionBits))
                       : static_cast<int32_t>(0.5 + w * (1 << kPrecisionBits));
    }
    taps.first[xx] = xmin;
    taps.count[xx] = xmax;
  }
  return taps;
}

RgbImage resize_bicubic(const RgbImage& image, int width, int height) {
  check_resize_args(image, width, height);
  const bool need_horizontal = width != image.width;
  const bool need_vertical = height != image.height;
  if (!need_horizontal && !need_vertical) return image;

  RgbImage out;
  out.width = width;
  out.height = height;
  out.pixels.resize(static_cast<size_t>(width) * height * 3);
  const size_t out_row = static_cast<size_t>(width) * 3;

  if (!need_vertical) {
    const ResampleTaps h = bicubic_taps(image.width, width);
    horizontal_rows(image, 0, image.height, h, width, out.pixels.data());
    return out;
  }

  ResampleTaps v = bicubic_taps(image.height, height);
  std::vector<int32_t> acc(out_row);
  if (!need_horizontal) {
    vertical_pass(image.pixels.data(), image.row_bytes(), v, height, acc.data(), out.pixels.data());
    return out;
  }

  const ResampleTaps h = bicubic_taps(image.width, width);
  const auto [row_first, row_last] = used_rows(v, height);
  for (int i = 0; i < height; ++i) v.first[i] -= row_first;
  const int rows = row_last - row_first;
  std::vector<uint8_t> tmp(out_row * rows);
  horizontal_rows(image, row_first, rows, h, width, tmp.data());
  vertical_pass(tmp.data(), out_row, v, height, acc.data(), out.pixels.data());
  return out;
}

RgbImage resize_bicubic_reference(const RgbImage& image, int width, int height) {
  check_resize_args(image, width, height);
  const bool need_horizontal = width != image.width;
  const bool need_vertical = height != image.height;
  ResampleTaps v = bicubic_taps(image.height, height);
  const int row_first = v.first[0];
  const int row_last = v.first[height - 1] + v.count[height - 1];

  RgbImage current = image;
  if (need_horizontal) {
    const ResampleTaps h = bicubic_taps(image.width, width);
    for (int i = 0; i < height; ++i) v.first[i] -= row_first;
    RgbImage tmp;
    tmp.width = width;
    tmp.height = row_last - row_first;
    tmp.pixels.resize(static_cast<size_t>(tmp.width) * tmp.height * 3);
    for (int y = 0; y < tmp.height; ++y) {
      for (int xx = 0; xx < width; ++xx) {
        for (int c = 0; c < 3; ++c) {
          int32_t ss = kHalf;
          for (int x = 0; x < h.count[xx]; ++x)
            ss += image.pixel(h.first[xx] + x, y + row_first)[c] * h.weights[xx * h.ksize + x];
          tmp.pixels[(static_cast<size_t>(y) * width + xx) * 3 + c] = clip8(ss);
        }
      }
    }
    current = std::move(tmp);
  }
  if (need_vertical) {
    RgbImage out;
    out.width = current.width;
    out.height = height;
    out.pixels.resize(static_cast<size_t>(out.width) * height * 3);
    for (int yy = 0; yy < height; ++yy) {
      for (int xx = 0; xx < out.width; ++xx) {
        for (int c = 0; c < 3; ++c) {
          int32_t ss = kHalf;
          for (int y = 0; y < v.count[yy]; ++y)
            ss += current.pixel(xx, v.first[yy] + y)[c] * v.weights[yy * v.ksize + y];
          out.pixels[(static_cast<size_t>(yy) * out.width + xx) * 3 + c] = clip8(ss);
        }
      }
    }
    current = std::move(out);
  }
  return current;
}

}  // namespace blip2
