#include "nn/kv_cache.h"

#include <cstring>

namespace blip2 {

void KvCache::reserve(int64_t rows, int64_t heads, int64_t capacity, int64_t head_dim) {
  if (rows == rows_ && heads == heads_ && capacity == capacity_ && head_dim == head_dim_) return;
  const int64_t need = rows * heads * capacity * head_dim;
  if (!k_.defined() || k_.numel() < need) {
    k_ = Tensor::empty(DType::kF32, {need});
    v_ = Tensor::empty(DType::kF32, {need});
  }
  rows_ = rows;
  heads_ = heads;
  capacity_ = capacity;
  head_dim_ = head_dim;
}

void KvCache::write(const float* k, const float* v, int64_t rows, int64_t n, int64_t pos,
                    int64_t ld) {
  BLIP2_CHECK(rows <= rows_ && pos + n <= capacity_, "KV cache overflow");
  const int64_t D = head_dim_;
  for (int64_t r = 0; r < rows; ++r) {
    float* kr = k_row(r);
    float* vr = v_row(r);
    for (int64_t t = 0; t < n; ++t) {
      const float* ks = k + (r * n + t) * ld;
      const float* vs = v + (r * n + t) * ld;
      for (int64_t h = 0; h < heads_; ++h) {
        std::memcpy(kr + (h * capacity_ + pos + t) * D, ks + h * D, D * sizeof(float));
        std::memcpy(vr + (h * capacity_ + pos + t) * D, vs + h * D, D * sizeof(float));
      }
    }
  }
}

void KvCache::copy_row(int64_t dst, int64_t src, int64_t length, const Tensor& from,
                       Tensor& to) const {
  const float* s = from.data<float>() + src * row_stride();
  float* d = to.mutable_data<float>() + dst * row_stride();
  for (int64_t h = 0; h < heads_; ++h)
    std::memcpy(d + h * capacity_ * head_dim_, s + h * capacity_ * head_dim_,
                length * head_dim_ * sizeof(float));
}

void KvCache::reorder(std::span<const int32_t> src, int64_t length, Tensor& scratch) {
  BLIP2_CHECK(static_cast<int64_t>(src.size()) == rows_);
  bool identity = true;
  for (int64_t r = 0; r < rows_; ++r) identity &= src[r] == r;
  if (identity) return;
  if (!scratch.defined() || scratch.numel() < rows_ * row_stride())
    scratch = Tensor::empty(DType::kF32, {rows_ * row_stride()});
  // Stage the source rows that move, then write them to their destinations; K then V.
  for (Tensor* t : {&k_, &v_}) {
    for (int64_t r = 0; r < rows_; ++r)
      if (src[r] != r) copy_row(r, src[r], length, *t, scratch);
    for (int64_t r = 0; r < rows_; ++r)
      if (src[r] != r) copy_row(r, r, length, scratch, *t);
  }
}

void KvCache::expand(int64_t items, int64_t copies, int64_t length) {
  BLIP2_CHECK(items * copies <= rows_);
  // Back to front so that no source row is overwritten before it is copied.
  for (int64_t r = items * copies; r-- > 0;) {
    const int64_t s = r / copies;
    if (s == r) continue;
    copy_row(r, s, length, k_, k_);
    copy_row(r, s, length, v_, v_);
  }
}

cpu::AttentionParams KvCache::causal_attention(const float* q, float* out, int64_t rows, int64_t n,
                                               int64_t past) const {
  const int64_t width = heads_ * head_dim_;
  cpu::AttentionParams a;
  a.batch = rows;
  a.heads = heads_;
  a.q_len = n;
  a.kv_len = past + n;
  a.head_dim = head_dim_;
  a.q = q;
  a.q_batch_stride = n * width;
  a.q_row_stride = width;
  a.q_head_stride = head_dim_;
  a.k = k_.data<float>();
  a.v = v_.data<float>();
  a.k_batch_stride = a.v_batch_stride = row_stride();
  a.k_head_stride = a.v_head_stride = capacity_ * head_dim_;
  a.k_row_stride = a.v_row_stride = head_dim_;
  a.out = out;
  a.out_batch_stride = n * width;
  a.out_row_stride = width;
  a.out_head_stride = head_dim_;
  a.scale = 1.0f;
  a.causal = true;
  a.causal_offset = past;
  return a;
}

}  // namespace blip2
