// Image input for BLIP-2: from an image file to the vision encoder's pixel_values, bit for bit
// what transformers' BlipImageProcessor (Pillow) produces.
//
//   blip2::ImageProcessorConfig config = blip2::load_image_processor_config(model_dir);
//   blip2::RgbImage image = blip2::decode_image_file("photo.jpg");
//   std::vector<float> pixels(3 * config.height * config.width);   // f32 [3, H, W]
//   blip2::preprocess_image(image, config, pixels.data());
//
// decode.h (JPEG, PNG, WebP, BMP -> RGB like PIL convert("RGB")), resize.h (Pillow's exact
// bicubic), preprocess.h (preprocessor_config.json, rescale and normalize).
#pragma once

#include "image/decode.h"      // IWYU pragma: export
#include "image/preprocess.h"  // IWYU pragma: export
#include "image/resize.h"      // IWYU pragma: export
#include "image/rgb_image.h"   // IWYU pragma: export
