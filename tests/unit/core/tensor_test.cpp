#include <gtest/gtest.h>

#include "core/tensor.h"

namespace blip2 {
namespace {

TEST(Tensor, EmptyIsZeroFilledAndContiguous) {
  Tensor t = Tensor::empty(DType::kF32, {2, 3, 4});
  EXPECT_EQ(t.numel(), 24);
  EXPECT_EQ(t.nbytes(), 96u);
  EXPECT_TRUE(t.is_contiguous());
  for (int i = 0; i < 24; ++i) EXPECT_EQ(t.data<float>()[i], 0.0f);
  EXPECT_EQ(t.strides(), (Shape{12, 4, 1}));
}

TEST(Tensor, SliceSelectAndContiguousCopy) {
  Tensor t = Tensor::empty(DType::kF32, {3, 4});
  for (int i = 0; i < 12; ++i) t.mutable_data<float>()[i] = static_cast<float>(i);
  Tensor row = t.select(0, 1);
  EXPECT_EQ(row.shape(), (Shape{4}));
  EXPECT_EQ(row.data<float>()[0], 4.0f);
  Tensor col = t.slice(1, 1, 3);  // [3, 2], non-contiguous
  EXPECT_FALSE(col.is_contiguous());
  Tensor c = col.contiguous();
  const float want[] = {1, 2, 5, 6, 9, 10};
  for (int i = 0; i < 6; ++i) EXPECT_EQ(c.data<float>()[i], want[i]);
}

TEST(Tensor, ReshapeInfersAndRejectsMismatch) {
  Tensor t = Tensor::empty(DType::kF32, {2, 6});
  EXPECT_EQ(t.reshape({3, -1}).shape(), (Shape{3, 4}));
  EXPECT_THROW(t.reshape({5, 2}), Error);
}

TEST(Tensor, WrongElementTypeThrows) {
  Tensor t = Tensor::empty(DType::kF16, {2});
  EXPECT_THROW(t.data<float>(), Error);
  EXPECT_NO_THROW(t.data<uint16_t>());
}

TEST(Tensor, ConversionRoundTrip) {
  Tensor t = Tensor::from_floats({1.0f, -2.5f, 3.140625f, 65504.0f}, {4});
  Tensor h = t.to(DType::kF16);
  Tensor back = h.to(DType::kF32);
  for (int i = 0; i < 4; ++i) EXPECT_EQ(back.data<float>()[i], t.data<float>()[i]);
  Tensor b = t.to(DType::kBF16).to(DType::kF32);
  EXPECT_EQ(b.data<float>()[0], 1.0f);
  EXPECT_EQ(b.data<float>()[1], -2.5f);
}

TEST(Tensor, HugeShapeIsRejectedBeforeAllocation) {
  EXPECT_THROW(Tensor::empty(DType::kF32, {1LL << 40, 1LL << 40}), Error);
  EXPECT_THROW(checked_numel({4, -1}), Error);
}

}  // namespace
}  // namespace blip2
