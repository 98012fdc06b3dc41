#include "bench/machine_limits.h"

#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <limits>
#include <memory>
#include <sstream>
#include <vector>

#include "backend/cpu/kernels.h"
#include "backend/cpu/matmul.h"
#include "bench/stream_read.h"
#include "core/error.h"

namespace blip2::bench {

namespace {

double now_seconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// "300M", "32768K", "1G" -> bytes.
uint64_t parse_size(const std::string& s) {
  if (s.empty()) return 0;
  uint64_t v = std::strtoull(s.c_str(), nullptr, 10);
  switch (s.back()) {
    case 'K':
      return v << 10;
    case 'M':
      return v << 20;
    case 'G':
      return v << 30;
    default:
      return v;
  }
}

std::string read_first_line(const std::string& path) {
  std::ifstream in(path);
  std::string line;
  std::getline(in, line);
  return line;
}

// The value after "key:" in a /proc file ("VmHWM:   1234 kB" -> "1234 kB").
std::string proc_field(const std::string& path, const std::string& key) {
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(key, 0) != 0) continue;
    const size_t colon = line.find_first_not_of(" \t", key.size());  // cpuinfo: "model name\t: ..."
    if (colon == std::string::npos || line[colon] != ':') continue;
    const size_t b = line.find_first_not_of(" \t", colon + 1);
    return b == std::string::npos ? "" : line.substr(b);
  }
  return "";
}

struct FreeDeleter {
  void operator()(uint8_t* p) const { std::free(p); }
};

}  // namespace

uint64_t last_level_cache_bytes() {
  uint64_t best = 0;
  // The sysfs description of cpu0's caches; the largest is the last level.
  for (int i = 0; i < 8; ++i) {
    const std::string dir = "/sys/devices/system/cpu/cpu0/cache/index" + std::to_string(i) + "/";
    const std::string size = read_first_line(dir + "size");
    if (size.empty()) continue;
    best = std::max(best, parse_size(size));
  }
#ifdef _SC_LEVEL3_CACHE_SIZE
  if (best == 0) {
    const long l3 = ::sysconf(_SC_LEVEL3_CACHE_SIZE);
    if (l3 > 0) best = static_cast<uint64_t>(l3);
  }
#endif
  return best;
}

uint64_t physical_memory_bytes() {
  const long pages = ::sysconf(_SC_PHYS_PAGES), page = ::sysconf(_SC_PAGE_SIZE);
  return pages > 0 && page > 0 ? static_cast<uint64_t>(pages) * static_cast<uint64_t>(page) : 0;
}

MemoryBandwidth measure_read_bandwidth(ThreadPool& pool, uint64_t buffer_bytes, int passes) {
  const size_t threads = pool.num_threads();
  if (buffer_bytes == 0) {
    buffer_bytes = std::max<uint64_t>(1ull << 30, 8 * last_level_cache_bytes());
    // Never more than a quarter of the machine's memory.
    if (const uint64_t mem = physical_memory_bytes(); mem > 0)
      buffer_bytes = std::min(buffer_bytes, std::max<uint64_t>(mem / 4, 64u << 20));
  }
  // Many more slices than threads, so a thread that is descheduled does not hold up a pass.
  const size_t slices = threads * 16;
  constexpr size_t kPage = 4096;
  const size_t slice = std::max<size_t>(kPage, buffer_bytes / slices / kPage * kPage);
  const size_t total = slice * slices;
  std::unique_ptr<uint8_t, FreeDeleter> buffer(
      static_cast<uint8_t*>(std::aligned_alloc(kPage, total)));
  if (!buffer)
    fail(ErrorKind::kResource, "cannot allocate ", total >> 20,
         " MiB for the memory-bandwidth measurement");
  uint8_t* p = buffer.get();
  // First touch in parallel, with non-zero data (zero pages could be shared).
  pool.run(slices,
           [&](size_t s) { std::memset(p + s * slice, static_cast<int>(s & 0x7F) + 1, slice); });

  std::vector<uint64_t> sink(slices);
  double best = std::numeric_limits<double>::infinity();
  for (int pass = 0; pass < std::max(passes, 1); ++pass) {
    const double t0 = now_seconds();
    pool.run(slices, [&](size_t s) { sink[s] = stream_read(p + s * slice, slice); });
    best = std::min(best, now_seconds() - t0);
  }
  uint64_t fold = 0;
  for (uint64_t v : sink) fold ^= v;
  // The fold is data-dependent, so the loads above cannot be dropped; it is otherwise unused.
  static std::atomic<uint64_t> keep{0};
  keep.fetch_xor(fold, std::memory_order_relaxed);

  MemoryBandwidth r;
  r.buffer_bytes = total;
  r.passes = std::max(passes, 1);
  r.gb_per_s = static_cast<double>(total) / best / 1e9;
  r.isa = stream_read_isa();
  return r;
}

GemmThroughput measure_gemm(ThreadPool& pool, int64_t m, int64_t n, int64_t k, int runs) {
  std::vector<float> a(static_cast<size_t>(m * k)), b(static_cast<size_t>(n * k)),
      c(static_cast<size_t>(m * n));
  // Small values of both signs (denormal-free), as activations and weights are.
  for (size_t i = 0; i < a.size(); ++i)
    a[i] = static_cast<float>(static_cast<int>(i * 7919 % 201) - 100) * 1e-3f;
  for (size_t i = 0; i < b.size(); ++i)
    b[i] = static_cast<float>(static_cast<int>(i * 104729 % 199) - 99) * 1e-4f;
  // Through cpu::matmul, the path the model's f32 Linear layers take (b is the weight [n, k]).
  const cpu::WeightView w = cpu::WeightView::f32(b.data(), n, k);
  cpu::matmul(pool, w, m, a.data(), k, c.data(), n);  // warm-up
  double best = std::numeric_limits<double>::infinity();
  for (int r = 0; r < std::max(runs, 1); ++r) {
    const double t0 = now_seconds();
    cpu::matmul(pool, w, m, a.data(), k, c.data(), n);
    best = std::min(best, now_seconds() - t0);
  }
  GemmThroughput g;
  g.m = m;
  g.n = n;
  g.k = k;
  g.runs = std::max(runs, 1);
  g.gflops =
      2.0 * static_cast<double>(m) * static_cast<double>(n) * static_cast<double>(k) / best / 1e9;
  return g;
}

uint64_t peak_rss_bytes() {
  const std::string hwm = proc_field("/proc/self/status", "VmHWM");
  if (!hwm.empty())
    return parse_size(std::to_string(std::strtoull(hwm.c_str(), nullptr, 10)) + "K");
  rusage u{};
  ::getrusage(RUSAGE_SELF, &u);
  return static_cast<uint64_t>(u.ru_maxrss) << 10;  // kB on Linux
}

bool reset_peak_rss() {
  std::ofstream out("/proc/self/clear_refs");
  if (!out) return false;
  out << "5";
  out.close();
  return static_cast<bool>(out);
}

std::string cpu_model_name() {
  std::string name = proc_field("/proc/cpuinfo", "model name");
  while (!name.empty() && (name.back() == ' ' || name.back() == '\t')) name.pop_back();
  return name.empty() ? "unknown CPU" : name;
}

std::string machine_description() {
  std::ostringstream os;
  os.precision(3);
  os << cpu_model_name() << ", " << physical_core_count() << " cores, "
     << static_cast<double>(physical_memory_bytes()) / (1ull << 30) << " GiB";
  if (const uint64_t llc = last_level_cache_bytes()) os << ", LLC " << (llc >> 20) << " MiB";
  return os.str();
}

}  // namespace blip2::bench
