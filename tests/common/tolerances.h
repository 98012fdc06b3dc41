// Tolerances of the parity tests, in one place. Each is relative to the reference tensor's largest
// magnitude (logits: to each row's largest magnitude). Loosening one needs a comment with the
// measured error that made it necessary.
#pragma once

namespace blip2::test {

// Vision embeddings / encoder / Q-Former / projection in f32. The issue expects <= 1e-4.
constexpr double kStageRelTol = 1e-4;
// Language-model logits in f32, relative to the row's max |logit| (|logits| reach a few hundred).
constexpr double kLogitsRelTol = 1e-4;
// pixel_values must be exact if the resize is Pillow's; 1e-6 absolute allows nothing more than
// float formatting noise.
constexpr double kPixelAbsTol = 1e-6;

}  // namespace blip2::test
