#include "core/thread_pool.h"

#include <algorithm>
#include <fstream>
#include <set>
#include <string>
#include <utility>

namespace blip2 {

namespace {
thread_local bool t_inside_pool_task = false;
}

size_t physical_core_count() {
  // Count distinct (package, core) pairs of the online CPUs; fall back to the logical count.
  std::set<std::pair<int, int>> cores;
  const unsigned logical = std::max(1u, std::thread::hardware_concurrency());
  for (unsigned cpu = 0; cpu < logical; ++cpu) {
    const std::string base = "/sys/devices/system/cpu/cpu" + std::to_string(cpu) + "/topology/";
    std::ifstream core(base + "core_id"), pkg(base + "physical_package_id");
    int core_id = -1, pkg_id = -1;
    if (!(core >> core_id) || !(pkg >> pkg_id)) return logical;
    cores.insert({pkg_id, core_id});
  }
  return cores.empty() ? logical : cores.size();
}

ThreadPool::ThreadPool(size_t num_threads) {
  if (num_threads == 0) num_threads = physical_core_count();
  for (size_t i = 1; i < num_threads; ++i) workers_.emplace_back([this] { worker_loop(); });
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stop_ = true;
  }
  wake_.notify_all();
  for (auto& t : workers_) t.join();
}

void ThreadPool::work_on(const Job& job) {
  const bool was_inside = t_inside_pool_task;
  t_inside_pool_task = true;
  for (;;) {
    const size_t task = next_task_.fetch_add(1, std::memory_order_relaxed);
    if (task >= job.num_tasks) break;
    try {
      job.fn(job.ctx, task);
    } catch (...) {
      std::lock_guard<std::mutex> lock(mutex_);
      if (!error_) error_ = std::current_exception();
    }
    tasks_done_.fetch_add(1, std::memory_order_acq_rel);
  }
  t_inside_pool_task = was_inside;
}

void ThreadPool::worker_loop() {
  uint64_t seen = 0;
  for (;;) {
    Job job;
    {
      std::unique_lock<std::mutex> lock(mutex_);
      wake_.wait(lock, [&] { return stop_ || generation_ != seen; });
      if (stop_) return;
      seen = generation_;
      job = job_;
      ++active_workers_;
    }
    work_on(job);
    {
      std::lock_guard<std::mutex> lock(mutex_);
      --active_workers_;
    }
    done_.notify_all();
  }
}

void ThreadPool::run_impl(size_t num_tasks, TaskFn fn, void* ctx) {
  if (num_tasks == 0) return;
  if (workers_.empty() || num_tasks == 1 || t_inside_pool_task) {
    for (size_t t = 0; t < num_tasks; ++t) fn(ctx, t);
    return;
  }
  std::lock_guard<std::mutex> run_lock(run_mutex_);
  const Job job{fn, ctx, num_tasks};
  {
    std::unique_lock<std::mutex> lock(mutex_);
    // A worker that woke late for the previous job may still be inside it (finding no task left);
    // publishing now would let it run this job's tasks with the previous job's function.
    done_.wait(lock, [&] { return active_workers_ == 0; });
    job_ = job;
    next_task_.store(0, std::memory_order_relaxed);
    tasks_done_.store(0, std::memory_order_relaxed);
    error_ = nullptr;
    ++generation_;
  }
  wake_.notify_all();
  work_on(job);
  std::exception_ptr error;
  {
    std::unique_lock<std::mutex> lock(mutex_);
    done_.wait(lock, [&] {
      return tasks_done_.load(std::memory_order_acquire) == num_tasks && active_workers_ == 0;
    });
    error = std::exchange(error_, nullptr);
  }
  if (error) std::rethrow_exception(error);
}

}  // namespace blip2
