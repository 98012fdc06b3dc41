// Scaled dot-product attention (see AttentionParams in kernels.h). One task per (batch, head,
// block of query rows):
//   S[r, j] = scale * q_i . k_j          cblas_sgemm (sgemv for one row), strides as given
//   S[r, :] = softmax(S + bias, masked)  SIMD row kernel (norm.cpp); masked keys get exactly 0
//   out_i   = S[r, :] . V                cblas_sgemm (sgemv for one row)
// With causality a block only computes the keys its last row may see. Query ranges are split
// into blocks so that two threads stay busy when batch * heads is small (vision and Q-Former
// with one image), and so that a block's scores stay cache-sized for long sequences.
#include "backend/cpu/blas.h"

#include <algorithm>
#include <cstdint>
#include <vector>

#include "backend/cpu/kernels.h"
#include "backend/cpu/simd_internal.h"
#include "core/error.h"

namespace blip2::cpu {

namespace {

// Below this many multiply-adds (QK^T plus PV) everything runs on the calling thread.
constexpr int64_t kParallelMinMacs = int64_t{1} << 18;
// Query rows per block: at least this many (each block is two BLAS calls) ...
constexpr int64_t kMinBlockRows = 16;
// ... and at most this many score floats per block (1 MiB: stays in L2).
constexpr int64_t kMaxBlockScores = 256 * 1024;

// Scores of the current block. One growable buffer per thread (pool workers and callers alike)
// so the hot path does not allocate: it only grows, to the largest block seen on that thread.
std::vector<float>& score_scratch(size_t n) {
  thread_local std::vector<float> scratch;
  if (scratch.size() < n) scratch.resize(n);
  return scratch;
}

// One (b, h) and query rows [i0, i1).
void attend_block(const AttentionParams& p, int64_t b, int64_t h, int64_t i0, int64_t i1) {
  const int64_t rows = i1 - i0, D = p.head_dim;
  float* out = p.out + b * p.out_batch_stride + i0 * p.out_row_stride + h * p.out_head_stride;
  // Keys visible to the last row of the block; rows above see fewer (handled per row below).
  const int64_t keys = p.causal ? std::clamp<int64_t>(i1 + p.causal_offset, 0, p.kv_len) : p.kv_len;
  if (keys == 0) {
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t d = 0; d < D; ++d) out[r * p.out_row_stride + d] = 0.0f;
    return;
  }
  const float* q = p.q + b * p.q_batch_stride + i0 * p.q_row_stride + h * p.q_head_stride;
  const float* k = p.k + b * p.k_batch_stride + h * p.k_head_stride;
  const float* v = p.v + b * p.v_batch_stride + h * p.v_head_stride;
  // A matrix with one row never uses its row stride; BLAS still wants it >= the row length.
  const int64_t ldq = rows == 1 ? std::max(p.q_row_stride, D) : p.q_row_stride;
  const int64_t ldk = keys == 1 ? std::max(p.k_row_stride, D) : p.k_row_stride;
  const int64_t ldv = keys == 1 ? std::max(p.v_row_stride, D) : p.v_row_stride;
  const int64_t ldo = rows == 1 ? std::max(p.out_row_stride, D) : p.out_row_stride;

  float* S = score_scratch(static_cast<size_t>(rows * keys)).data();  // [rows, keys]
  if (rows == 1) {
    cblas_sgemv(CblasRowMajor, CblasNoTrans, blas_int(keys), blas_int(D), p.scale, k, blas_int(ldk),
                q, 1, 0.0f, S, 1);
  } else {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, blas_int(rows), blas_int(keys),
                blas_int(D), p.scale, q, blas_int(ldq), k, blas_int(ldk), 0.0f, S, blas_int(keys));
  }
  const uint8_t* mask = p.key_mask ? p.key_mask + b * p.key_mask_batch_stride : nullptr;
  for (int64_t r = 0; r < rows; ++r) {
    const int64_t i = i0 + r;
    float* s = S + r * keys;
    const int64_t n = p.causal ? std::clamp<int64_t>(i + p.causal_offset + 1, 0, keys) : keys;
    const float* bias =
        p.bias ? p.bias + b * p.bias_batch_stride + h * p.bias_head_stride + i * p.bias_row_stride
               : nullptr;
    detail::attention_softmax_row(s, n, bias, mask);
    for (int64_t j = n; j < keys; ++j) s[j] = 0.0f;  // beyond the causal limit
  }
  if (rows == 1) {
    cblas_sgemv(CblasRowMajor, CblasTrans, blas_int(keys), blas_int(D), 1.0f, v, blas_int(ldv), S,
                1, 0.0f, out, 1);
  } else {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, blas_int(rows), blas_int(D),
                blas_int(keys), 1.0f, S, blas_int(keys), v, blas_int(ldv), 0.0f, out,
                blas_int(ldo));
  }
}

}  // namespace

void attention(ThreadPool& pool, const AttentionParams& p) {
  BLIP2_CHECK(p.batch >= 0 && p.heads >= 0 && p.q_len >= 0 && p.kv_len >= 0 && p.head_dim >= 0,
              "attention sizes batch=", p.batch, " heads=", p.heads, " q_len=", p.q_len,
              " kv_len=", p.kv_len, " head_dim=", p.head_dim);
  if (p.batch == 0 || p.heads == 0 || p.q_len == 0 || p.head_dim == 0) return;
  prepare_blas();
  // Rows with more than one element must not overlap (BLAS leading dimensions).
  BLIP2_CHECK(
      (p.q_len == 1 || p.q_row_stride >= p.head_dim) &&
          (p.kv_len <= 1 || (p.k_row_stride >= p.head_dim && p.v_row_stride >= p.head_dim)) &&
          (p.q_len == 1 || p.out_row_stride >= p.head_dim),
      "attention row strides q=", p.q_row_stride, " k=", p.k_row_stride, " v=", p.v_row_stride,
      " out=", p.out_row_stride, " < head_dim=", p.head_dim);

  const int64_t bh = p.batch * p.heads;
  const int64_t threads = static_cast<int64_t>(pool.num_threads());
  const int64_t macs = 2 * bh * p.q_len * std::max<int64_t>(p.kv_len, 1) * p.head_dim;
  const bool parallel = threads > 1 && macs >= kParallelMinMacs;

  // Blocks per head: enough tasks for every thread (4 per thread for balance, since causal
  // blocks differ in cost), never below kMinBlockRows rows, and scores bounded in size.
  int64_t blocks = 1;
  if (parallel && bh < 4 * threads) {
    blocks = std::min((4 * threads + bh - 1) / bh, (p.q_len + kMinBlockRows - 1) / kMinBlockRows);
  }
  int64_t block_rows = (p.q_len + blocks - 1) / blocks;
  block_rows =
      std::max<int64_t>(1, std::min(block_rows, kMaxBlockScores / std::max<int64_t>(p.kv_len, 1)));
  blocks = (p.q_len + block_rows - 1) / block_rows;

  auto task = [&](size_t t) {
    const int64_t blk = static_cast<int64_t>(t) % blocks, head = static_cast<int64_t>(t) / blocks;
    const int64_t i0 = blk * block_rows;
    attend_block(p, head / p.heads, head % p.heads, i0, std::min(p.q_len, i0 + block_rows));
  };
  const size_t tasks = static_cast<size_t>(bh * blocks);
  if (parallel) {
    pool.run(tasks, task);
  } else {
    for (size_t t = 0; t < tasks; ++t) task(t);
  }
}

}  // namespace blip2::cpu
