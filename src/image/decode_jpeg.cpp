// JPEG via libjpeg-turbo, as Pillow's JpegDecode.c drives it: default settings (islow IDCT, fancy
// upsampling), colour space guessed by libjpeg, 1 component -> grey (replicated), 3 -> RGB,
// 4 (CMYK or YCCK) -> CMYK taken as Adobe-inverted ("CMYK;I") and converted to RGB with Pillow's
// cmyk2rgb. A file that ends inside the image data is an error (Pillow: "image file is
// truncated"); a missing EOI marker after complete image data is accepted, as Pillow accepts it.
//
// libjpeg reports fatal errors through error_exit, which must not return; we longjmp back into
// run_jpeg(). Only plain C objects live in run_jpeg's frame, and every C++ buffer it fills is
// owned by the caller, so the jump skips no destructor.
#include <csetjmp>
#include <cstdio>  // jpeglib.h needs FILE and size_t declared first
#include <cstring>
#include <new>
#include <vector>

#include <jpeglib.h>
// After jpeglib.h: the message codes (JWRN_*) as an enum.
#include <jerror.h>

#include "core/error.h"
#include "image/decoders.h"

namespace blip2::image_detail {

namespace {

// A progressive file may hold any number of scans, each a full pass over the image; crafted files
// use thousands to burn CPU. libjpeg-turbo's own tools cap them at 500 when asked; so do we.
constexpr int kMaxScans = 500;

struct JpegErrorManager {
  jpeg_error_mgr pub;
  jpeg_progress_mgr progress;
  std::jmp_buf jump;
  char message[JMSG_LENGTH_MAX];
  bool hit_end_of_data;  // libjpeg's source ran dry and inserted a fake EOI
  bool truncated;        // ... and then had to invent entropy-coded data
};

void on_jpeg_error(j_common_ptr cinfo) {
  auto* err = reinterpret_cast<JpegErrorManager*>(cinfo->err);
  (*cinfo->err->format_message)(cinfo, err->message);
  std::longjmp(err->jump, 1);
}

// Warnings are not printed (Pillow discards them too) but two of them tell a truncated file.
void on_jpeg_message(j_common_ptr cinfo, int msg_level) {
  if (msg_level >= 0) return;  // trace messages
  auto* err = reinterpret_cast<JpegErrorManager*>(cinfo->err);
  const int code = cinfo->err->msg_code;
  if (code == JWRN_JPEG_EOF) {
    err->hit_end_of_data = true;
  } else if (code == JWRN_HIT_MARKER && err->hit_end_of_data) {
    err->truncated = true;
  }
}

void on_jpeg_progress(j_common_ptr cinfo) {
  auto* dinfo = reinterpret_cast<j_decompress_ptr>(cinfo);
  if (dinfo->input_scan_number <= kMaxScans) return;
  auto* err = reinterpret_cast<JpegErrorManager*>(cinfo->err);
  std::snprintf(err->message, sizeof(err->message), "more than %d scans", kMaxScans);
  std::longjmp(err->jump, 1);
}

enum class JpegStatus { kOk, kLibraryError, kTooLarge, kTruncated, kOutOfMemory, kComponents };

struct JpegJob {
  const uint8_t* data;
  size_t size;
  JpegErrorManager err;
  // Filled by run_jpeg.
  int64_t width = 0;
  int64_t height = 0;
  int components = 0;
};

// 255 - c etc. of the inverted samples, then Pillow's cmyk2rgb: nk - nk * c / 255, rounded the way
// MULDIV255 rounds.
inline uint8_t cmyk_channel(uint8_t inverted_c, uint8_t inverted_k) {
  const int c = 255 - inverted_c;
  const int nk = inverted_k;  // 255 - k where k = 255 - inverted_k
  const int t = c * nk + 128;
  const int v = nk - (((t >> 8) + t) >> 8);
  return static_cast<uint8_t>(v < 0 ? 0 : (v > 255 ? 255 : v));
}

// The setjmp frame: only C objects here (see the file comment).
JpegStatus run_jpeg(JpegJob* job, const DecodeLimits* limits, std::string_view source,
                    RgbImage* out, std::vector<uint8_t>* row) {
  jpeg_decompress_struct cinfo;
  std::memset(&cinfo, 0, sizeof(cinfo));
  cinfo.err = jpeg_std_error(&job->err.pub);
  job->err.pub.error_exit = on_jpeg_error;
  job->err.pub.emit_message = on_jpeg_message;
  job->err.message[0] = '\0';
  job->err.hit_end_of_data = false;
  job->err.truncated = false;
  if (setjmp(job->err.jump)) {
    jpeg_destroy_decompress(&cinfo);
    return job->err.truncated || job->err.hit_end_of_data ? JpegStatus::kTruncated
                                                          : JpegStatus::kLibraryError;
  }
  jpeg_create_decompress(&cinfo);
  job->err.progress.progress_monitor = on_jpeg_progress;
  cinfo.progress = &job->err.progress;
  jpeg_mem_src(&cinfo, job->data, static_cast<unsigned long>(job->size));
  jpeg_read_header(&cinfo, TRUE);
  job->width = cinfo.image_width;
  job->height = cinfo.image_height;
  job->components = cinfo.num_components;
  if (job->width <= 0 || job->height <= 0 || job->width * job->height > limits->max_pixels) {
    jpeg_destroy_decompress(&cinfo);
    return JpegStatus::kTooLarge;
  }
  if (cinfo.num_components == 1) {
    cinfo.out_color_space = JCS_GRAYSCALE;
  } else if (cinfo.num_components == 3) {
    cinfo.out_color_space = JCS_RGB;
  } else if (cinfo.num_components == 4) {
    cinfo.out_color_space = JCS_CMYK;
  } else {
    jpeg_destroy_decompress(&cinfo);
    return JpegStatus::kComponents;
  }
  jpeg_start_decompress(&cinfo);
  // Progressive files are consumed whole by jpeg_start_decompress; Pillow fails on any short one.
  if (job->err.hit_end_of_data && jpeg_has_multiple_scans(&cinfo)) job->err.truncated = true;
  if (job->err.truncated) {
    jpeg_destroy_decompress(&cinfo);
    return JpegStatus::kTruncated;
  }
  const int width = static_cast<int>(cinfo.output_width);
  const int height = static_cast<int>(cinfo.output_height);
  const int channels = cinfo.output_components;
  try {
    *out = allocate_rgb_image(width, height, source);
    if (channels != 3) row->resize(static_cast<size_t>(width) * channels);
  } catch (...) {
    jpeg_destroy_decompress(&cinfo);
    return JpegStatus::kOutOfMemory;
  }
  while (cinfo.output_scanline < cinfo.output_height) {
    const int y = static_cast<int>(cinfo.output_scanline);
    uint8_t* dst = out->pixels.data() + static_cast<size_t>(y) * width * 3;
    JSAMPROW target = channels == 3 ? dst : row->data();
    if (jpeg_read_scanlines(&cinfo, &target, 1) != 1) break;
    if (channels == 1) {
      const uint8_t* src = row->data();
      for (int x = 0; x < width; ++x) dst[3 * x] = dst[3 * x + 1] = dst[3 * x + 2] = src[x];
    } else if (channels == 4) {
      const uint8_t* src = row->data();
      for (int x = 0; x < width; ++x) {
        const uint8_t* p = src + 4 * x;
        dst[3 * x + 0] = cmyk_channel(p[0], p[3]);
        dst[3 * x + 1] = cmyk_channel(p[1], p[3]);
        dst[3 * x + 2] = cmyk_channel(p[2], p[3]);
      }
    }
  }
  if (job->err.truncated || cinfo.output_scanline < cinfo.output_height) {
    jpeg_destroy_decompress(&cinfo);
    return JpegStatus::kTruncated;
  }
  jpeg_finish_decompress(&cinfo);
  jpeg_destroy_decompress(&cinfo);
  return JpegStatus::kOk;
}

}  // namespace

RgbImage decode_jpeg(std::span<const uint8_t> bytes, std::string_view source,
                     const DecodeLimits& limits) {
  JpegJob job;
  job.data = bytes.data();
  job.size = bytes.size();
  RgbImage image;
  std::vector<uint8_t> row;
  switch (run_jpeg(&job, &limits, source, &image, &row)) {
    case JpegStatus::kOk:
      return image;
    case JpegStatus::kTooLarge:
      check_image_dimensions(job.width, job.height, source, "JPEG", limits);
      break;  // not reached: check_image_dimensions throws for what run_jpeg refused
    case JpegStatus::kTruncated:
      fail(ErrorKind::kFormat, "JPEG image ", source,
           " is truncated (the file ends inside the image data); re-download or re-encode it");
    case JpegStatus::kOutOfMemory:
      fail(ErrorKind::kResource, "out of memory decoding the ", job.width, "x", job.height,
           " JPEG image ", source);
    case JpegStatus::kComponents:
      fail(ErrorKind::kUnsupported, "JPEG image ", source, " has ", job.components,
           " colour components; only 1 (grey), 3 (YCbCr/RGB) and 4 (CMYK/YCCK) are supported");
    case JpegStatus::kLibraryError:
      break;
  }
  fail(ErrorKind::kFormat, "JPEG image ", source,
       " is corrupt or unsupported: ", job.err.message[0] ? job.err.message : "libjpeg error",
       "; re-encode it (e.g. as PNG)");
}

}  // namespace blip2::image_detail
