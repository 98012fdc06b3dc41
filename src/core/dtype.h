// Element types of tensors. F32/F16/BF16 are what checkpoints store and what the kernels compute
// with; I64/I32/U8/... appear in reference data and are readable; quantized block types are added
// by the quantization code (they are described by a block size and bytes per block).
#pragma once

#include <cstdint>
#include <cstring>
#include <optional>
#include <string_view>

namespace blip2 {

enum class DType : uint8_t {
  kF32,
  kF16,
  kBF16,
  kF64,
  kI64,
  kI32,
  kI16,
  kI8,
  kU8,
  kBool,
};

// Bytes per element.
size_t dtype_size(DType t);
// The safetensors spelling: "F32", "F16", "BF16", "I64", ...
std::string_view dtype_name(DType t);
std::optional<DType> dtype_from_name(std::string_view name);
// Parses the user-facing spellings ("f32", "float32", "bf16", ...).
std::optional<DType> dtype_from_user_string(std::string_view name);
bool is_float_dtype(DType t);

// How the weights of the large matrix multiplies are held for compute, whatever dtype the
// checkpoint stores: f32 (the reference's precision), bf16, int8 with per-output-channel scales,
// or 4-bit blocks ("q4"). Chosen at load (EngineOptions::weights) or stored by `blip2 quantize`.
enum class WeightFormat : uint8_t { kF32, kBF16, kInt8, kQ4 };
std::string_view weight_format_name(WeightFormat f);  // "f32", "bf16", "int8", "q4"
std::optional<WeightFormat> weight_format_from_string(std::string_view s);

// Scalar conversions (exact for the widening direction; round-to-nearest-even when narrowing, as
// PyTorch does). Vectorised versions live in backend/cpu.
inline float bf16_to_f32(uint16_t h) {
  uint32_t bits = static_cast<uint32_t>(h) << 16;
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

inline uint16_t f32_to_bf16(float f) {
  uint32_t bits;
  std::memcpy(&bits, &f, 4);
  if ((bits & 0x7fffffffu) > 0x7f800000u) return static_cast<uint16_t>((bits >> 16) | 0x40);  // NaN
  uint32_t rounding = 0x7fffu + ((bits >> 16) & 1u);
  return static_cast<uint16_t>((bits + rounding) >> 16);
}

float f16_to_f32(uint16_t h);
uint16_t f32_to_f16(float f);

}  // namespace blip2
