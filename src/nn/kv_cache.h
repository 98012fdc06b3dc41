// Key/value cache of one attention layer for `rows` sequences: f32 [rows, heads, capacity, head_dim]
// (per-head contiguous so attention reads keys with unit row stride). Sized once per request.
#pragma once

#include <span>

#include "backend/cpu/kernels.h"
#include "core/tensor.h"

namespace blip2 {

class KvCache {
 public:
  // (Re)allocates only when the requested size exceeds what is held.
  void reserve(int64_t rows, int64_t heads, int64_t capacity, int64_t head_dim);
  int64_t rows() const { return rows_; }
  int64_t capacity() const { return capacity_; }

  // Writes n positions starting at `pos` for every row from projections laid out
  // [rows, n, heads*head_dim] (row stride ld between consecutive positions).
  void write(const float* k, const float* v, int64_t rows, int64_t n, int64_t pos, int64_t ld);
  // Row r becomes a copy of row src[r] for positions [0, length). Identity entries cost nothing.
  // `scratch` is shared by all layers of a model (one layer's K is staged at a time).
  void reorder(std::span<const int32_t> src, int64_t length, Tensor& scratch);
  // Row r becomes a copy of row r / copies for r in [0, rows*copies) (beam expansion).
  void expand(int64_t items, int64_t copies, int64_t length);

  // Attention of `n` new positions per row over the cached positions [0, past + n), causal (new
  // position i sees the past and the new positions up to i), scale 1. Queries are packed
  // [rows, n, heads * head_dim] and the context is written to `out` in the same layout. Masks
  // and a position bias are the caller's to add.
  cpu::AttentionParams causal_attention(const float* q, float* out, int64_t rows, int64_t n,
                                        int64_t past) const;

 private:
  float* k_row(int64_t r) { return k_.mutable_data<float>() + r * row_stride(); }
  float* v_row(int64_t r) { return v_.mutable_data<float>() + r * row_stride(); }
  int64_t row_stride() const { return heads_ * capacity_ * head_dim_; }
  void copy_row(int64_t dst, int64_t src, int64_t length, const Tensor& from, Tensor& to) const;

  Tensor k_, v_;
  int64_t rows_ = 0, heads_ = 0, capacity_ = 0, head_dim_ = 0;
};

}  // namespace blip2
