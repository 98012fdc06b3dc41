#include "core/tensor.h"

#include <cstdlib>
#include <cstring>
#include <limits>
#include <sstream>

#include "core/mapped_file.h"

namespace blip2 {

std::string shape_to_string(const Shape& shape) {
  std::ostringstream os;
  os << '[';
  for (size_t i = 0; i < shape.size(); ++i) os << (i ? ", " : "") << shape[i];
  os << ']';
  return os.str();
}

int64_t checked_numel(const Shape& shape) {
  int64_t n = 1;
  for (int64_t d : shape) {
    if (d < 0) fail(ErrorKind::kFormat, "negative dimension in shape ", shape_to_string(shape));
    if (d != 0 && n > std::numeric_limits<int64_t>::max() / d)
      fail(ErrorKind::kFormat, "shape ", shape_to_string(shape), " has too many elements");
    n *= d;
  }
  return n;
}

Shape contiguous_strides(const Shape& shape) {
  Shape strides(shape.size());
  int64_t s = 1;
  for (size_t i = shape.size(); i-- > 0;) {
    strides[i] = s;
    s *= shape[i];
  }
  return strides;
}

// ---------------------------------------------------------------- Buffer

std::shared_ptr<Buffer> Buffer::allocate(size_t bytes) {
  constexpr size_t kAlign = 64;
  const size_t rounded = (bytes + kAlign - 1) / kAlign * kAlign;
  void* p = rounded ? std::aligned_alloc(kAlign, rounded) : nullptr;
  if (rounded && p == nullptr)
    fail(ErrorKind::kResource, "out of memory allocating ", bytes, " bytes");
  if (p) std::memset(p, 0, rounded);
  auto buffer = std::shared_ptr<Buffer>(new Buffer());
  buffer->data_ = static_cast<uint8_t*>(p);
  buffer->size_ = bytes;
  buffer->owned_ = true;
  return buffer;
}

std::shared_ptr<Buffer> Buffer::view_of(std::shared_ptr<const MappedFile> file, size_t offset,
                                        size_t bytes) {
  if (offset > file->size() || bytes > file->size() - offset)
    fail(ErrorKind::kFormat, file->path(), ": byte range [", offset, ", ", offset + bytes,
         ") lies outside the file (", file->size(), " bytes)");
  auto buffer = std::shared_ptr<Buffer>(new Buffer());
  buffer->data_ = const_cast<uint8_t*>(file->data() + offset);
  buffer->size_ = bytes;
  buffer->owned_ = false;
  buffer->file_ = std::move(file);
  return buffer;
}

Buffer::~Buffer() {
  if (owned_) std::free(data_);
}

uint8_t* Buffer::mutable_data() {
  if (!owned_)
    fail(ErrorKind::kInternal, "attempt to write into read-only (memory-mapped) storage");
  return data_;
}

// ---------------------------------------------------------------- Tensor

Tensor Tensor::empty(DType dtype, Shape shape) {
  const int64_t n = checked_numel(shape);
  const size_t esize = dtype_size(dtype);
  if (static_cast<uint64_t>(n) > std::numeric_limits<size_t>::max() / esize)
    fail(ErrorKind::kResource, "tensor ", shape_to_string(shape), " is too large");
  Tensor t;
  t.buffer_ = Buffer::allocate(static_cast<size_t>(n) * esize);
  t.dtype_ = dtype;
  t.strides_ = contiguous_strides(shape);
  t.shape_ = std::move(shape);
  return t;
}

Tensor Tensor::from_buffer(std::shared_ptr<Buffer> buffer, size_t offset, DType dtype,
                           Shape shape) {
  const int64_t n = checked_numel(shape);
  const size_t bytes = static_cast<size_t>(n) * dtype_size(dtype);
  if (offset > buffer->size() || bytes > buffer->size() - offset)
    fail(ErrorKind::kInternal, "tensor ", shape_to_string(shape), " does not fit its buffer");
  Tensor t;
  t.buffer_ = std::move(buffer);
  t.offset_ = offset;
  t.dtype_ = dtype;
  t.strides_ = contiguous_strides(shape);
  t.shape_ = std::move(shape);
  return t;
}

Tensor Tensor::from_floats(const std::vector<float>& values, Shape shape) {
  Tensor t = empty(DType::kF32, std::move(shape));
  if (static_cast<size_t>(t.numel()) != values.size())
    fail(ErrorKind::kInternal, "from_floats: ", values.size(), " values for shape ",
         shape_to_string(t.shape()));
  std::memcpy(t.mutable_data<float>(), values.data(), values.size() * sizeof(float));
  return t;
}

int Tensor::normalize_dim(int d) const {
  const int n = static_cast<int>(shape_.size());
  const int r = d < 0 ? d + n : d;
  if (r < 0 || r >= n)
    fail(ErrorKind::kInternal, "dimension ", d, " out of range for shape ",
         shape_to_string(shape_));
  return r;
}

int64_t Tensor::dim(int i) const {
  return shape_[normalize_dim(i)];
}

int64_t Tensor::numel() const {
  int64_t n = 1;
  for (int64_t d : shape_) n *= d;
  return n;
}

bool Tensor::is_contiguous() const {
  int64_t s = 1;
  for (size_t i = shape_.size(); i-- > 0;) {
    if (shape_[i] != 1 && strides_[i] != s) return false;
    s *= shape_[i];
  }
  return true;
}

Tensor Tensor::reshape(Shape shape) const {
  if (!is_contiguous()) fail(ErrorKind::kInternal, "reshape of a non-contiguous tensor");
  int64_t known = 1;
  int infer = -1;
  for (size_t i = 0; i < shape.size(); ++i) {
    if (shape[i] == -1) {
      if (infer >= 0) fail(ErrorKind::kInternal, "reshape with two -1 dims");
      infer = static_cast<int>(i);
    } else {
      known *= shape[i];
    }
  }
  if (infer >= 0 && known != 0) shape[infer] = numel() / known;
  if (checked_numel(shape) != numel())
    fail(ErrorKind::kInternal, "cannot reshape ", shape_to_string(shape_), " to ",
         shape_to_string(shape));
  Tensor t = *this;
  t.strides_ = contiguous_strides(shape);
  t.shape_ = std::move(shape);
  return t;
}

Tensor Tensor::slice(int d, int64_t begin, int64_t end) const {
  d = normalize_dim(d);
  if (begin < 0 || end < begin || end > shape_[d])
    fail(ErrorKind::kInternal, "slice [", begin, ", ", end, ") out of range for dim ", d, " of ",
         shape_to_string(shape_));
  Tensor t = *this;
  t.offset_ += static_cast<size_t>(begin * strides_[d]) * dtype_size(dtype_);
  t.shape_[d] = end - begin;
  return t;
}

Tensor Tensor::select(int d, int64_t index) const {
  d = normalize_dim(d);
  Tensor t = slice(d, index, index + 1);
  t.shape_.erase(t.shape_.begin() + d);
  t.strides_.erase(t.strides_.begin() + d);
  return t;
}

Tensor Tensor::contiguous() const {
  if (is_contiguous()) return *this;
  Tensor out = empty(dtype_, shape_);
  const size_t es = dtype_size(dtype_);
  const int64_t n = numel();
  const size_t nd = shape_.size();
  std::vector<int64_t> idx(nd, 0);
  const uint8_t* src = static_cast<const uint8_t*>(raw_data());
  uint8_t* dst = static_cast<uint8_t*>(out.raw_mutable_data());
  for (int64_t i = 0; i < n; ++i) {
    int64_t off = 0;
    for (size_t k = 0; k < nd; ++k) off += idx[k] * strides_[k];
    std::memcpy(dst + static_cast<size_t>(i) * es, src + static_cast<size_t>(off) * es, es);
    for (size_t k = nd; k-- > 0;) {
      if (++idx[k] < shape_[k]) break;
      idx[k] = 0;
    }
  }
  return out;
}

namespace {
float load_as_f32(DType t, const uint8_t* p) {
  switch (t) {
    case DType::kF32: {
      float f;
      std::memcpy(&f, p, 4);
      return f;
    }
    case DType::kF64: {
      double d;
      std::memcpy(&d, p, 8);
      return static_cast<float>(d);
    }
    case DType::kF16: {
      uint16_t h;
      std::memcpy(&h, p, 2);
      return f16_to_f32(h);
    }
    case DType::kBF16: {
      uint16_t h;
      std::memcpy(&h, p, 2);
      return bf16_to_f32(h);
    }
    default:
      fail(ErrorKind::kInternal, "load_as_f32: not a float dtype");
  }
}

void store_from_f32(DType t, uint8_t* p, float f) {
  switch (t) {
    case DType::kF32:
      std::memcpy(p, &f, 4);
      return;
    case DType::kF64: {
      const double d = f;
      std::memcpy(p, &d, 8);
      return;
    }
    case DType::kF16: {
      const uint16_t h = f32_to_f16(f);
      std::memcpy(p, &h, 2);
      return;
    }
    case DType::kBF16: {
      const uint16_t h = f32_to_bf16(f);
      std::memcpy(p, &h, 2);
      return;
    }
    default:
      fail(ErrorKind::kInternal, "store_from_f32: not a float dtype");
  }
}
}  // namespace

Tensor Tensor::to(DType dtype) const {
  Tensor src = contiguous();
  if (dtype == dtype_) {
    if (src.buffer_ != buffer_) return src;  // contiguous() already copied
    Tensor out = empty(dtype_, shape_);
    std::memcpy(out.raw_mutable_data(), raw_data(), nbytes());
    return out;
  }
  if (!is_float_dtype(dtype_) || !is_float_dtype(dtype))
    fail(ErrorKind::kUnsupported, "conversion from ", dtype_name(dtype_), " to ", dtype_name(dtype),
         " is not supported");
  Tensor out = empty(dtype, shape_);
  const int64_t n = numel();
  const size_t si = dtype_size(dtype_), so = dtype_size(dtype);
  const uint8_t* s = static_cast<const uint8_t*>(src.raw_data());
  uint8_t* d = static_cast<uint8_t*>(out.raw_mutable_data());
  for (int64_t i = 0; i < n; ++i)
    store_from_f32(dtype, d + i * so, load_as_f32(dtype_, s + i * si));
  return out;
}

std::string Tensor::describe() const {
  return str_cat(dtype_name(dtype_), " ", shape_to_string(shape_));
}

}  // namespace blip2
