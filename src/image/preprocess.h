// preprocessor_config.json (transformers' BlipImageProcessor) and the preprocessing it describes:
// resize (Pillow bicubic, ignoring the aspect ratio), rescale, normalize, channels-first.
//
//   ImageProcessorConfig config = load_image_processor_config("models/shapes-demo");
//   std::vector<float> x(preprocessed_numel(image, config));  // f32 [3, H, W]
//   preprocess_image(image, config, x.data());
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json_fwd.hpp>

#include "image/rgb_image.h"

namespace blip2 {

// Field names and defaults are BlipImageProcessor's (transformers 4.40.2); the defaults apply to
// fields absent from the file.
struct ImageProcessorConfig {
  bool do_resize = true;
  int height = 384;  // size.height
  int width = 384;   // size.width
  int resample = 3;  // PIL.Image.BICUBIC, the only filter supported
  bool do_rescale = true;
  double rescale_factor = 1.0 / 255.0;
  bool do_normalize = true;
  std::array<double, 3> image_mean = {0.48145466, 0.4578275, 0.40821073};  // OPENAI_CLIP_MEAN
  std::array<double, 3> image_std = {0.26862954, 0.26130258, 0.27577711};  // OPENAI_CLIP_STD
  // Recorded for completeness: decode_image always yields RGB, which is what convert("RGB")
  // would give, so there is nothing left to convert.
  bool do_convert_rgb = true;
};

// Parses a preprocessor_config.json object. `source` names it in errors. Throws kFormat for a
// malformed value (wrong type, size <= 0, mean/std not 3 numbers or a zero std) and kUnsupported
// for a valid but unsupported one (resample other than 3 = BICUBIC, size given as shortest_edge).
// A JSON null takes what the reference makes of None: the default for size, resample, image_mean
// and image_std, false for the do_* flags.
ImageProcessorConfig image_processor_config_from_json(const nlohmann::json& j,
                                                      std::string_view source);

// Reads MODEL_DIR/preprocessor_config.json. If the file is missing: with `image_size_if_missing`
// (e.g. vision_config.image_size) the defaults with that square size, else kNotFound.
ImageProcessorConfig load_image_processor_config(
    const std::string& model_dir, std::optional<int> image_size_if_missing = std::nullopt);

// Throws kInvalidArgument for a config that preprocess_image cannot use (see from_json).
void validate_image_processor_config(const ImageProcessorConfig& config);

// The [H, W] of the model input for `image`: the config's size if do_resize, else the image's.
std::array<int, 2> preprocessed_size(const RgbImage& image, const ImageProcessorConfig& config);
inline int64_t preprocessed_numel(const RgbImage& image, const ImageProcessorConfig& config) {
  const auto [h, w] = preprocessed_size(image, config);
  return int64_t{3} * h * w;
}

// The model input for one image, f32 [3, H, W] channels-first, written to `out`
// (preprocessed_numel floats): resize to the config size with Pillow's bicubic, then per sample
// x = float32(u8 * rescale_factor) (product in double, as numpy does), then
// (x - float32(mean[c])) / float32(std[c]) in float32.
void preprocess_image(const RgbImage& image, const ImageProcessorConfig& config, float* out);

}  // namespace blip2
