// BlipImageProcessor (transformers 4.40.2, image_processing_blip.py) re-stated in C++: its
// defaults, the validation its code implies, and preprocess() = convert_rgb -> resize (PIL
// BICUBIC) -> rescale -> normalize -> channels-first.
#include "image/preprocess.h"

#include <cmath>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <vector>

#include "core/error.h"
#include "core/mapped_file.h"
#include "image/resize.h"

namespace blip2 {

namespace {

constexpr int kMaxSide = 32768;  // far above any ViT input; keeps 3 * H * W inside int64 math

std::string_view resample_name(int64_t resample) {
  switch (resample) {
    case 0:
      return "NEAREST";
    case 1:
      return "LANCZOS";
    case 2:
      return "BILINEAR";
    case 3:
      return "BICUBIC";
    case 4:
      return "BOX";
    case 5:
      return "HAMMING";
    default:
      return "unknown";
  }
}

bool read_flag(const nlohmann::json& j, const char* key, bool fallback, std::string_view source) {
  const auto it = j.find(key);
  if (it == j.end()) return fallback;
  if (it->is_null()) return false;  // the reference tests `if do_x:`; None is falsy
  if (!it->is_boolean())
    fail(ErrorKind::kFormat, source, ": \"", key, "\" must be true or false, not ", it->dump());
  return it->get<bool>();
}

int read_side(const nlohmann::json& v, const char* key, std::string_view source) {
  if (!v.is_number_integer())
    fail(ErrorKind::kFormat, source, ": \"size\".\"", key, "\" must be a positive integer, not ",
         v.dump());
  const int64_t side = v.get<int64_t>();
  if (side <= 0 || side > kMaxSide)
    fail(ErrorKind::kFormat, source, ": \"size\".\"", key, "\" is ", side,
         "; it must be between 1 and ", kMaxSide);
  return static_cast<int>(side);
}

std::array<double, 3> read_channels(const nlohmann::json& j, const char* key,
                                    const std::array<double, 3>& fallback,
                                    std::string_view source) {
  const auto it = j.find(key);
  if (it == j.end() || it->is_null()) return fallback;
  std::array<double, 3> values{};
  if (it->is_number()) {
    values.fill(it->get<double>());  // one number applies to every channel, as in the reference
  } else if (it->is_array()) {
    if (it->size() != 3)
      fail(ErrorKind::kFormat, source, ": \"", key, "\" has ", it->size(),
           " values; it needs one per RGB channel (3)");
    for (size_t c = 0; c < 3; ++c) {
      if (!(*it)[c].is_number())
        fail(ErrorKind::kFormat, source, ": \"", key, "\"[", c, "] must be a number, not ",
             (*it)[c].dump());
      values[c] = (*it)[c].get<double>();
    }
  } else {
    fail(ErrorKind::kFormat, source, ": \"", key, "\" must be a list of 3 numbers, not ",
         it->dump());
  }
  for (size_t c = 0; c < 3; ++c)
    if (!std::isfinite(values[c]))
      fail(ErrorKind::kFormat, source, ": \"", key, "\"[", c, "] is not a finite number");
  return values;
}

}  // namespace

ImageProcessorConfig image_processor_config_from_json(const nlohmann::json& j,
                                                      std::string_view source) {
  if (!j.is_object())
    fail(ErrorKind::kFormat, source, ": a preprocessor config must be a JSON object, not ",
         j.type_name());
  ImageProcessorConfig config;
  config.do_resize = read_flag(j, "do_resize", config.do_resize, source);
  config.do_rescale = read_flag(j, "do_rescale", config.do_rescale, source);
  config.do_normalize = read_flag(j, "do_normalize", config.do_normalize, source);
  config.do_convert_rgb = read_flag(j, "do_convert_rgb", config.do_convert_rgb, source);

  if (const auto it = j.find("size"); it != j.end() && !it->is_null()) {
    if (it->is_number_integer()) {
      config.height = config.width = read_side(*it, "height", source);  // int: a square
    } else if (it->is_object()) {
      if (!it->contains("height") || !it->contains("width")) {
        if (it->contains("shortest_edge") || it->contains("longest_edge"))
          fail(ErrorKind::kUnsupported, source, ": \"size\" ", it->dump(),
               " is not supported; BlipImageProcessor resizes to {\"height\": H, \"width\": W}");
        fail(ErrorKind::kFormat, source, ": \"size\" must have \"height\" and \"width\", not ",
             it->dump());
      }
      config.height = read_side((*it)["height"], "height", source);
      config.width = read_side((*it)["width"], "width", source);
    } else {
      fail(ErrorKind::kFormat, source,
           ": \"size\" must be {\"height\": H, \"width\": W} or an integer, not ", it->dump());
    }
  }

  if (const auto it = j.find("resample"); it != j.end() && !it->is_null()) {
    if (!it->is_number_integer())
      fail(ErrorKind::kFormat, source, ": \"resample\" must be an integer (PIL filter id), not ",
           it->dump());
    const int64_t resample = it->get<int64_t>();
    if (resample != 3)
      fail(ErrorKind::kUnsupported, source, ": \"resample\" is ", resample, " (PIL ",
           resample_name(resample), "); only 3 (BICUBIC), which BLIP-2 uses, is supported");
  }

  if (const auto it = j.find("rescale_factor"); it != j.end()) {
    if (it->is_number()) {
      config.rescale_factor = it->get<double>();
      if (!std::isfinite(config.rescale_factor))
        fail(ErrorKind::kFormat, source, ": \"rescale_factor\" is not a finite number");
    } else if (!(it->is_null() && !config.do_rescale)) {
      fail(ErrorKind::kFormat, source, ": \"rescale_factor\" must be a number (e.g. 1/255), not ",
           it->dump());
    }
  }

  config.image_mean = read_channels(j, "image_mean", config.image_mean, source);
  config.image_std = read_channels(j, "image_std", config.image_std, source);
  if (config.do_normalize)
    for (size_t c = 0; c < 3; ++c)
      if (static_cast<float>(config.image_std[c]) == 0.0f)
        fail(ErrorKind::kFormat, source, ": \"image_std\"[", c,
             "] is 0; normalizing would divide by zero");
  return config;
}

ImageProcessorConfig load_image_processor_config(const std::string& model_dir,
                                                 std::optional<int> image_size_if_missing) {
  const std::string path = (std::filesystem::path(model_dir) / "preprocessor_config.json").string();
  if (!file_exists(path)) {
    if (!image_size_if_missing)
      fail(ErrorKind::kNotFound, "no preprocessor_config.json in model folder ", model_dir,
           "; copy it from the Hugging Face checkpoint");
    ImageProcessorConfig config;
    config.height = config.width = *image_size_if_missing;
    validate_image_processor_config(config);
    return config;
  }
  const std::string text = read_text_file(path);
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(text);
  } catch (const nlohmann::json::parse_error& e) {
    fail(ErrorKind::kFormat, path, " is not valid JSON (", e.what(), "); restore the file");
  }
  return image_processor_config_from_json(j, path);
}

void validate_image_processor_config(const ImageProcessorConfig& config) {
  if (config.height <= 0 || config.width <= 0 || config.height > kMaxSide ||
      config.width > kMaxSide)
    fail(ErrorKind::kInvalidArgument, "image processor size ", config.height, "x", config.width,
         " is invalid; each side must be between 1 and ", kMaxSide);
  if (config.resample != 3)
    fail(ErrorKind::kUnsupported, "image processor resample ", config.resample, " (PIL ",
         resample_name(config.resample), ") is not supported; only 3 (BICUBIC) is");
  if (config.do_rescale && !std::isfinite(config.rescale_factor))
    fail(ErrorKind::kInvalidArgument, "image processor rescale_factor is not finite");
  if (config.do_normalize)
    for (size_t c = 0; c < 3; ++c)
      if (!std::isfinite(config.image_mean[c]) || !std::isfinite(config.image_std[c]) ||
          static_cast<float>(config.image_std[c]) == 0.0f)
        fail(ErrorKind::kInvalidArgument, "image processor mean/std of channel ", c, " (",
             config.image_mean[c], ", ", config.image_std[c],
             ") must be finite with a non-zero std");
}

std::array<int, 2> preprocessed_size(const RgbImage& image, const ImageProcessorConfig& config) {
  if (config.do_resize) return {config.height, config.width};
  return {image.height, image.width};
}

void preprocess_image(const RgbImage& image, const ImageProcessorConfig& config, float* out) {
  validate_image_processor_config(config);
  if (image.width <= 0 || image.height <= 0 ||
      image.pixels.size() != static_cast<size_t>(image.width) * image.height * 3)
    fail(ErrorKind::kInvalidArgument, "cannot preprocess a ", image.width, "x", image.height,
         " image holding ", image.pixels.size(), " bytes: an RGB image needs width * height * 3");

  // Every output value depends only on (channel, u8 level): a 3 x 256 table computed with the
  // reference's exact arithmetic, then a gather.
  std::array<std::array<float, 256>, 3> table;
  for (int c = 0; c < 3; ++c) {
    const float mean = static_cast<float>(config.image_mean[c]);
    const float std = static_cast<float>(config.image_std[c]);
    for (int v = 0; v < 256; ++v) {
      float x =
          config.do_rescale ? static_cast<float>(v * config.rescale_factor) : static_cast<float>(v);
      if (config.do_normalize) x = (x - mean) / std;
      table[c][v] = x;
    }
  }

  const bool resize =
      config.do_resize && (image.width != config.width || image.height != config.height);
  RgbImage resized;
  if (resize) resized = resize_bicubic(image, config.width, config.height);
  const RgbImage& src = resize ? resized : image;
  const size_t plane = static_cast<size_t>(src.width) * src.height;
  const uint8_t* px = src.pixels.data();
  float* r = out;
  float* g = out + plane;
  float* b = out + 2 * plane;
  for (size_t i = 0; i < plane; ++i) {
    r[i] = table[0][px[3 * i + 0]];
    g[i] = table[1][px[3 * i + 1]];
    b[i] = table[2][px[3 * i + 2]];
  }
}

}  // namespace blip2
