// The streaming read of the memory-bandwidth measurement: SIMD loads into four independent
// accumulators (so the loop is bound by memory, not by a dependency chain), XOR-folded so the
// compiler cannot drop the loads. Highway dynamic dispatch over the same targets as the kernels.
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "bench/stream_read.cpp"
#include "backend/cpu/hwy_targets.h"  // before foreach_target.h
// clang-format off
#include "hwy/foreach_target.h"  // IWYU pragma: keep
// clang-format on
#include "hwy/highway.h"
#include "hwy/targets.h"

#include <cstddef>
#include <cstdint>

#include "bench/stream_read.h"

HWY_BEFORE_NAMESPACE();
namespace blip2::bench::HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

uint64_t StreamReadImpl(const uint8_t* bytes, size_t size) {
  const hn::ScalableTag<uint64_t> d;
  const size_t N = hn::Lanes(d);
  const uint64_t* x = reinterpret_cast<const uint64_t*>(bytes);
  const size_t n = size / sizeof(uint64_t);
  auto a0 = hn::Zero(d), a1 = hn::Zero(d), a2 = hn::Zero(d), a3 = hn::Zero(d);
  size_t i = 0;
  for (; i + 4 * N <= n; i += 4 * N) {
    a0 = hn::Xor(a0, hn::LoadU(d, x + i));
    a1 = hn::Xor(a1, hn::LoadU(d, x + i + N));
    a2 = hn::Xor(a2, hn::LoadU(d, x + i + 2 * N));
    a3 = hn::Xor(a3, hn::LoadU(d, x + i + 3 * N));
  }
  uint64_t tail = 0;
  for (; i < n; ++i) tail ^= x[i];
  const auto all = hn::Xor(hn::Xor(a0, a1), hn::Xor(a2, a3));
  uint64_t lanes[HWY_MAX_BYTES / sizeof(uint64_t)];
  hn::StoreU(all, d, lanes);
  for (size_t k = 0; k < N; ++k) tail ^= lanes[k];
  return tail;
}

const char* StreamReadTargetImpl() {
  return hwy::TargetName(HWY_TARGET);
}

}  // namespace blip2::bench::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace blip2::bench {

HWY_EXPORT(StreamReadImpl);
HWY_EXPORT(StreamReadTargetImpl);

uint64_t stream_read(const uint8_t* bytes, size_t size) {
  return HWY_DYNAMIC_DISPATCH(StreamReadImpl)(bytes, size);
}

std::string stream_read_isa() {
  return HWY_DYNAMIC_DISPATCH(StreamReadTargetImpl)();
}

}  // namespace blip2::bench
#endif  // HWY_ONCE
