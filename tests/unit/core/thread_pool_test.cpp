#include <gtest/gtest.h>

#include <atomic>
#include <numeric>
#include <stdexcept>
#include <thread>
#include <vector>

#include "core/thread_pool.h"

namespace blip2 {
namespace {

TEST(ThreadPool, RunsEveryTaskOnce) {
  ThreadPool pool(3);
  std::vector<std::atomic<int>> hits(1000);
  for (int rep = 0; rep < 50; ++rep) pool.run(hits.size(), [&](size_t t) { hits[t]++; });
  for (auto& h : hits) EXPECT_EQ(h.load(), 50);
}

TEST(ThreadPool, ParallelForCoversRangeExactly) {
  ThreadPool pool(2);
  for (size_t n : {1u, 2u, 7u, 64u, 1001u}) {
    std::vector<int> seen(n, 0);
    pool.parallel_for(n, 3, [&](size_t b, size_t e) {
      for (size_t i = b; i < e; ++i) seen[i]++;
    });
    EXPECT_EQ(std::accumulate(seen.begin(), seen.end(), 0), static_cast<int>(n));
    for (int s : seen) EXPECT_EQ(s, 1);
  }
}

TEST(ThreadPool, PropagatesExceptions) {
  ThreadPool pool(2);
  EXPECT_THROW(pool.run(10,
                        [](size_t t) {
                          if (t == 7) throw std::runtime_error("task 7");
                        }),
               std::runtime_error);
  // Still usable afterwards.
  std::atomic<int> n{0};
  pool.run(10, [&](size_t) { n++; });
  EXPECT_EQ(n.load(), 10);
}

TEST(ThreadPool, NestedAndConcurrentCallersDoNotDeadlock) {
  ThreadPool pool(2);
  std::atomic<int> total{0};
  auto work = [&] {
    for (int i = 0; i < 100; ++i)
      pool.run(4, [&](size_t) { pool.run(3, [&](size_t) { total++; }); });
  };
  std::thread a(work), b(work);
  a.join();
  b.join();
  EXPECT_EQ(total.load(), 2 * 100 * 4 * 3);
}

TEST(ThreadPool, PhysicalCoreCountIsPositive) {
  EXPECT_GE(physical_core_count(), 1u);
}

}  // namespace
}  // namespace blip2
