// The engine's explicit thread pool. Every parallel kernel takes a ThreadPool& and splits its work
// with run()/parallel_for(); there are no OpenMP pragmas, no BLAS threads and no global pools.
//
//   ThreadPool pool(2);
//   pool.parallel_for(rows, /*grain=*/16, [&](size_t begin, size_t end) { ... });
//
// The calling thread works too. Concurrent callers (several sessions on one engine) are served one
// parallel region at a time; a call made from inside a task runs inline on that thread.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

namespace blip2 {

// The number of physical cores (hyper-threads share a core's FMA units, so they rarely help).
size_t physical_core_count();

class ThreadPool {
 public:
  // num_threads = total threads including the caller; 0 picks physical_core_count().
  explicit ThreadPool(size_t num_threads = 0);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  size_t num_threads() const { return workers_.size() + 1; }

  // Calls fn(task) for every task in [0, num_tasks); tasks are handed out dynamically.
  // Rethrows the first exception a task threw, after all tasks have finished.
  template <typename F>
  void run(size_t num_tasks, F&& fn) {
    using Fn = std::remove_reference_t<F>;
    run_impl(
        num_tasks, [](void* ctx, size_t task) { (*static_cast<Fn*>(ctx))(task); },
        const_cast<void*>(static_cast<const void*>(&fn)));
  }

  // Splits [0, n) into about 4 chunks per thread (each at least `grain` long) and calls
  // fn(begin, end) for each.
  template <typename F>
  void parallel_for(size_t n, size_t grain, F&& fn) {
    if (n == 0) return;
    if (grain == 0) grain = 1;
    size_t chunks = std::min((n + grain - 1) / grain, num_threads() * 4);
    if (chunks <= 1) {
      fn(size_t{0}, n);
      return;
    }
    const size_t step = (n + chunks - 1) / chunks;
    chunks = (n + step - 1) / step;
    run(chunks, [&](size_t c) { fn(c * step, std::min(n, (c + 1) * step)); });
  }

 private:
  using TaskFn = void (*)(void* ctx, size_t task);
  void run_impl(size_t num_tasks, TaskFn fn, void* ctx);
  struct Job {
    TaskFn fn = nullptr;
    void* ctx = nullptr;
    size_t num_tasks = 0;
  };
  void worker_loop();
  void work_on(const Job& job);

  std::vector<std::thread> workers_;
  std::mutex run_mutex_;  // one parallel region at a time

  std::mutex mutex_;
  std::condition_variable wake_;
  std::condition_variable done_;
  uint64_t generation_ = 0;
  bool stop_ = false;

  // The current job. Workers copy it under mutex_ when they join; a new job is published only
  // once no worker is inside the previous one, so the counters below always belong to the job
  // every active worker is working on.
  Job job_;
  std::atomic<size_t> next_task_{0};
  std::atomic<size_t> tasks_done_{0};
  size_t active_workers_ = 0;
  std::exception_ptr error_;
};

}  // namespace blip2
