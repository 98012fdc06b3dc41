// Tensor: a typed, shaped, strided view over shared storage. The storage is either an owned,
// 64-byte-aligned heap buffer or a read-only window of a memory-mapped file (checkpoint weights).
// Views (reshape, slice, select) share storage; nothing is copied unless asked (contiguous, to).
//
//   Tensor x = Tensor::empty(DType::kF32, {2, 257, 1408});  // f32 [B, N, C], owned
//   float* row = x.select(0, 1).mutable_data<float>();      // view of batch item 1
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <type_traits>
#include <vector>

#include "core/dtype.h"
#include "core/error.h"

namespace blip2 {

class MappedFile;

using Shape = std::vector<int64_t>;

std::string shape_to_string(const Shape& shape);
// Product of the dims; throws Error(kFormat) on a negative dim or on overflow of int64/size_t.
int64_t checked_numel(const Shape& shape);

// Storage: owned aligned memory, or a read-only window of a mapped file.
class Buffer {
 public:
  static std::shared_ptr<Buffer> allocate(size_t bytes);  // zero-filled
  static std::shared_ptr<Buffer> view_of(std::shared_ptr<const MappedFile> file, size_t offset,
                                         size_t bytes);
  ~Buffer();
  Buffer(const Buffer&) = delete;
  Buffer& operator=(const Buffer&) = delete;

  const uint8_t* data() const { return data_; }
  uint8_t* mutable_data();  // throws for read-only (mapped) storage
  size_t size() const { return size_; }
  bool writable() const { return owned_; }

 private:
  Buffer() = default;
  uint8_t* data_ = nullptr;
  size_t size_ = 0;
  bool owned_ = false;
  std::shared_ptr<const MappedFile> file_;  // keeps the mapping alive for views
};

template <typename T>
constexpr bool dtype_matches(DType t) {
  if constexpr (std::is_same_v<T, float>) return t == DType::kF32;
  if constexpr (std::is_same_v<T, double>) return t == DType::kF64;
  if constexpr (std::is_same_v<T, uint16_t>) return t == DType::kF16 || t == DType::kBF16;
  if constexpr (std::is_same_v<T, int64_t>) return t == DType::kI64;
  if constexpr (std::is_same_v<T, int32_t>) return t == DType::kI32;
  if constexpr (std::is_same_v<T, int16_t>) return t == DType::kI16;
  if constexpr (std::is_same_v<T, int8_t>) return t == DType::kI8;
  if constexpr (std::is_same_v<T, uint8_t>) return t == DType::kU8 || t == DType::kBool;
  return false;
}

class Tensor {
 public:
  Tensor() = default;

  static Tensor empty(DType dtype, Shape shape);  // zero-filled owned storage
  static Tensor zeros(DType dtype, Shape shape) { return empty(dtype, std::move(shape)); }
  // A contiguous tensor over `buffer` starting at byte `offset`; checks that it fits.
  static Tensor from_buffer(std::shared_ptr<Buffer> buffer, size_t offset, DType dtype,
                            Shape shape);
  // Copies `values` into a new f32 tensor of the given shape (sizes must agree).
  static Tensor from_floats(const std::vector<float>& values, Shape shape);

  bool defined() const { return buffer_ != nullptr; }
  DType dtype() const { return dtype_; }
  const Shape& shape() const { return shape_; }
  const Shape& strides() const { return strides_; }  // in elements
  size_t ndim() const { return shape_.size(); }
  int64_t dim(int i) const;  // negative i counts from the end
  int64_t numel() const;
  size_t nbytes() const { return static_cast<size_t>(numel()) * dtype_size(dtype_); }
  bool is_contiguous() const;
  bool is_writable() const { return buffer_ && buffer_->writable(); }
  const std::shared_ptr<Buffer>& buffer() const { return buffer_; }

  const void* raw_data() const { return buffer_->data() + offset_; }
  void* raw_mutable_data() { return buffer_->mutable_data() + offset_; }

  // Typed access: data<T>() reads; mutable_data<T>() writes (owned storage only: mapped
  // checkpoint weights are read-only). T must match the dtype (uint16_t for F16/BF16).
  template <typename T>
  const T* data() const {
    check_type<T>();
    return static_cast<const T*>(raw_data());
  }
  template <typename T>
  T* mutable_data() {
    check_type<T>();
    return static_cast<T*>(raw_mutable_data());
  }

  // Views (share storage).
  Tensor reshape(Shape shape) const;                        // contiguous tensors only; -1 allowed
  Tensor slice(int dim, int64_t begin, int64_t end) const;  // [begin, end) along dim
  Tensor select(int dim, int64_t index) const;              // drops `dim`

  // Copies.
  Tensor contiguous() const;
  Tensor to(DType dtype) const;  // float dtypes only (F32/F16/BF16/F64)
  Tensor clone() const { return to(dtype_); }

  std::string describe() const;  // "F32 [2, 3]"

 private:
  template <typename T>
  void check_type() const {
    if (!dtype_matches<T>(dtype_))
      fail(ErrorKind::kInternal, "tensor of dtype ", dtype_name(dtype_),
           " accessed with the wrong element type");
  }
  int normalize_dim(int d) const;

  std::shared_ptr<Buffer> buffer_;
  size_t offset_ = 0;  // bytes
  DType dtype_ = DType::kF32;
  Shape shape_;
  Shape strides_;
};

Shape contiguous_strides(const Shape& shape);

}  // namespace blip2
