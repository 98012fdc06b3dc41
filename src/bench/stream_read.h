// A vectorised read of `size` bytes that the compiler cannot elide (returns their XOR fold).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace blip2::bench {

uint64_t stream_read(const uint8_t* bytes, size_t size);
// The SIMD target stream_read runs with ("AVX3", "AVX2", ...).
std::string stream_read_isa();

}  // namespace blip2::bench
