// Scaled dot-product attention against the scalar twin: [B, T, H*D] activations and [B, H, T, D]
// KV caches, causal limits with an offset, key masks (including rows with no allowed key),
// broadcast biases, one-query decode steps, and sizes that split over the pool. The softmax runs
// through the SIMD row kernel, so every test runs at every dispatch level.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "backend/cpu/kernels.h"
#include "backend/reference/kernels.h"
#include "core/thread_pool.h"
#include "test_util.h"
#include "tolerances.h"

namespace blip2 {
namespace {

namespace tol = test::tol;
constexpr float kSentinel = -12345.0f;

enum class Layout {
  kActivations,  // [B, T, H * D + pad]
  kCache,        // [B, H, Tmax, D]
};

// Owns q/k/v/out buffers in a layout and fills AttentionParams pointers and strides.
struct Problem {
  int64_t B, H, Tq, Tkv, D;
  std::vector<float> q, k, v, out;
  cpu::AttentionParams p;

  Problem(int64_t b, int64_t h, int64_t tq, int64_t tkv, int64_t d, Layout layout, int64_t pad = 0,
          int64_t t_max = 0)
      : B(b), H(h), Tq(tq), Tkv(tkv), D(d) {
    p.batch = b, p.heads = h, p.q_len = tq, p.kv_len = tkv, p.head_dim = d;
    p.scale = 1.0f / std::sqrt(float(d));
    auto strides = [&](int64_t t, int64_t* bs, int64_t* rs, int64_t* hs) -> size_t {
      if (layout == Layout::kActivations) {
        *rs = h * d + pad, *hs = d, *bs = t * *rs;
      } else {
        *rs = d, *hs = t * d, *bs = h * t * d;
      }
      return static_cast<size_t>(b * *bs + 1);  // +1: data starts one float in (unaligned)
    };
    const int64_t kv_rows = layout == Layout::kCache && t_max > tkv ? t_max : tkv;
    q = test::random_normal(strides(tq, &p.q_batch_stride, &p.q_row_stride, &p.q_head_stride), 31);
    k = test::random_normal(strides(kv_rows, &p.k_batch_stride, &p.k_row_stride, &p.k_head_stride),
                            32);
    v = test::random_normal(strides(kv_rows, &p.v_batch_stride, &p.v_row_stride, &p.v_head_stride),
                            33);
    out.assign(strides(tq, &p.out_batch_stride, &p.out_row_stride, &p.out_head_stride), kSentinel);
    p.q = q.data() + 1, p.k = k.data() + 1, p.v = v.data() + 1;
  }

  // Runs the fast kernel on `pool` and the reference on a copy; returns {got, want}.
  std::pair<std::vector<float>, std::vector<float>> run(ThreadPool& pool) {
    std::vector<float> got = out, want = out;
    cpu::AttentionParams fast = p, slow = p;
    fast.out = got.data() + 1;
    slow.out = want.data() + 1;
    cpu::attention(pool, fast);
    ref::attention(slow);
    return {got, want};
  }
};

::testing::AssertionResult matches(const std::pair<std::vector<float>, std::vector<float>>& r) {
  // Whole buffers: padding and rows of other layouts must keep the sentinel.
  return test::all_near(r.first, r.second, tol::kAttentionAbs, tol::kAttentionRel);
}

class Attention : public test::IsaTest {};
BLIP2_INSTANTIATE_ISA_TESTS(Attention);

TEST_P(Attention, ActivationLayoutNoMask) {
  ThreadPool pool(2);
  for (int64_t pad : {0, 3}) {
    for (int64_t D : {1, 7, 64}) {
      Problem pr(2, 3, 17, 17, D, Layout::kActivations, pad);
      EXPECT_TRUE(matches(pr.run(pool))) << "D=" << D << " pad=" << pad;
    }
  }
  Problem cross(2, 4, 3, 63, 16, Layout::kActivations, 1);  // q_len != kv_len (cross-attention)
  EXPECT_TRUE(matches(cross.run(pool)));
}

TEST_P(Attention, CausalWithOffsetOnCacheLayout) {
  ThreadPool pool(2);
  // A prefill continuing a cache: 5 new queries, 12 keys (7 cached), cache capacity 16.
  Problem pr(2, 3, 5, 12, 8, Layout::kCache, 0, 16);
  pr.p.causal = true;
  pr.p.causal_offset = 7;
  EXPECT_TRUE(matches(pr.run(pool)));
  // Plain causal self-attention, offset 0, activations.
  Problem self(1, 2, 17, 17, 8, Layout::kActivations, 2);
  self.p.causal = true;
  EXPECT_TRUE(matches(self.run(pool)));
}

TEST_P(Attention, SingleQueryDecodeStep) {
  ThreadPool pool(2);
  for (int64_t kv : {1, 2, 12, 257}) {
    Problem pr(2, 4, 1, kv, 16, Layout::kCache, 0, 300);
    pr.p.causal = true;
    pr.p.causal_offset = kv - 1;
    EXPECT_TRUE(matches(pr.run(pool))) << "kv_len=" << kv;
    Problem act(1, 3, 1, kv, 5, Layout::kActivations, 1);
    EXPECT_TRUE(matches(act.run(pool))) << "activations, kv_len=" << kv;
  }
}

TEST_P(Attention, KeyMaskWithFullyMaskedRows) {
  ThreadPool pool(2);
  Problem pr(2, 2, 6, 6, 8, Layout::kActivations);
  // Batch 0: keys 0 and 1 are padding, so causal rows 0 and 1 see no key at all.
  // Batch 1: every key masked.
  std::vector<uint8_t> mask = {0, 0, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0};
  pr.p.key_mask = mask.data();
  pr.p.key_mask_batch_stride = 6;
  pr.p.causal = true;
  auto r = pr.run(pool);
  EXPECT_TRUE(matches(r));
  for (int64_t h = 0; h < 2; ++h) {
    for (int64_t d = 0; d < 8; ++d) {
      for (int64_t i : {0, 1}) EXPECT_EQ(r.first[1 + i * pr.p.out_row_stride + h * 8 + d], 0.0f);
      for (int64_t i = 0; i < 6; ++i)
        EXPECT_EQ(r.first[1 + pr.p.out_batch_stride + i * pr.p.out_row_stride + h * 8 + d], 0.0f);
    }
  }
  // Without causality, one mask row shared by both batches (stride 0).
  pr.p.causal = false;
  pr.p.key_mask_batch_stride = 0;
  EXPECT_TRUE(matches(pr.run(pool)));
}

TEST_P(Attention, MaskedKeysContributeExactlyZero) {
  ThreadPool pool(2);
  Problem pr(1, 2, 4, 9, 8, Layout::kCache);
  std::vector<uint8_t> mask = {1, 0, 1, 1, 0, 1, 1, 1, 0};
  pr.p.key_mask = mask.data();
  const auto before = pr.run(pool).first;
  // Change K and V of the masked keys to huge values: the output must not move at all.
  for (int64_t h = 0; h < 2; ++h) {
    for (int64_t j : {1, 4, 8}) {
      for (int64_t d = 0; d < 8; ++d) {
        pr.v[1 + h * pr.p.v_head_stride + j * 8 + d] = 1e30f;
        pr.k[1 + h * pr.p.k_head_stride + j * 8 + d] = 1e4f;
      }
    }
  }
  const auto r = pr.run(pool);
  EXPECT_EQ(r.first, before);
  EXPECT_TRUE(matches(r));
}

TEST_P(Attention, BiasBroadcastStrides) {
  ThreadPool pool(2);
  Problem pr(2, 3, 5, 7, 4, Layout::kActivations);
  // T5-style position bias [1, H, Tq, Tkv], shared across the batch (batch stride 0).
  const auto bias = test::random_normal(3 * 5 * 7, 34, 0.0f, 2.0f);
  pr.p.bias = bias.data();
  pr.p.bias_batch_stride = 0, pr.p.bias_head_stride = 35, pr.p.bias_row_stride = 7;
  EXPECT_TRUE(matches(pr.run(pool))) << "[1, H, Tq, Tkv]";
  // An additive key bias [B, 1, 1, Tkv]: head and row strides 0.
  const auto key_bias = test::random_normal(2 * 7, 35, 0.0f, 2.0f);
  pr.p.bias = key_bias.data();
  pr.p.bias_batch_stride = 7, pr.p.bias_head_stride = 0, pr.p.bias_row_stride = 0;
  pr.p.causal = true;
  pr.p.causal_offset = 2;
  EXPECT_TRUE(matches(pr.run(pool))) << "[B, 1, 1, Tkv], causal";
}

TEST_P(Attention, LargeProblemsSplitOverThePool) {
  for (size_t threads : {1u, 2u, 3u}) {
    ThreadPool pool(threads);
    Problem pr(1, 2, 257, 257, 64, Layout::kActivations);
    pr.p.causal = true;
    EXPECT_TRUE(matches(pr.run(pool))) << "threads=" << threads;
    Problem cached(2, 3, 63, 1001, 32, Layout::kCache, 0, 1001);
    EXPECT_TRUE(matches(cached.run(pool))) << "threads=" << threads;
  }
}

TEST_P(Attention, NoKeysGivesZeros) {
  ThreadPool pool(1);
  Problem pr(1, 2, 3, 0, 4, Layout::kActivations);
  auto r = pr.run(pool);
  EXPECT_TRUE(matches(r));
  for (int64_t i = 0; i < 3 * 8; ++i) EXPECT_EQ(r.first[1 + i], 0.0f);
}

}  // namespace
}  // namespace blip2
