#include "backend/cpu/dnnl_matmul.h"

#include <omp.h>

#include <array>
#include <map>

#include <oneapi/dnnl/dnnl.hpp>

#include "backend/cpu/cpu_features.h"
#include "core/error.h"

namespace blip2::cpu {

namespace {

// One engine, stream and set of primitives per thread: a stream serialises its users, and every
// pool worker runs its own block. Primitives are kept by shape: creating one (even from oneDNN's
// cache) dispatches over every implementation, which costs as much as a small product.
struct ThreadDnnl {
  dnnl::engine engine{dnnl::engine::kind::cpu, 0};
  dnnl::stream stream{engine};
  std::map<std::array<int64_t, 5>, dnnl::matmul> primitives;  // {M, N, K, ldx, ldo}
  ThreadDnnl() {
    // Debian's oneDNN uses the OpenMP runtime; the pool already gives each worker its share.
    omp_set_num_threads(1);
  }
};

ThreadDnnl& thread_dnnl() {
  thread_local ThreadDnnl t;
  return t;
}

}  // namespace

bool dnnl_matmul_enabled() {
  return matmul_level() >= MatmulLevel::kAvx512;
}

void dnnl_sgemm_nt(int64_t M, int64_t N, int64_t K, const float* x, int64_t ldx, const float* W,
                   float* out, int64_t ldo) {
  using dt = dnnl::memory::data_type;
  ThreadDnnl& t = thread_dnnl();
  try {
    const dnnl::memory::desc src({M, K}, dt::f32, dnnl::memory::dims{ldx, 1});
    const dnnl::memory::desc wei({K, N}, dt::f32, dnnl::memory::dims{1, K});  // W^T, in place
    const dnnl::memory::desc dst({M, N}, dt::f32, dnnl::memory::dims{ldo, 1});
    const std::array<int64_t, 5> key = {M, N, K, ldx, ldo};
    auto it = t.primitives.find(key);
    if (it == t.primitives.end()) {
      // Prompt lengths and batch sizes make new shapes; a long-running process keeps the last few.
      if (t.primitives.size() >= 256) t.primitives.clear();
      const dnnl::matmul::primitive_desc pd(dnnl::matmul::desc(src, wei, dst), t.engine);
      it = t.primitives.emplace(key, dnnl::matmul(pd)).first;
    }
    const dnnl::matmul& prim = it->second;
    dnnl::memory xm(src, t.engine, const_cast<float*>(x));
    dnnl::memory wm(wei, t.engine, const_cast<float*>(W));
    dnnl::memory ym(dst, t.engine, out);
    prim.execute(t.stream, {{DNNL_ARG_SRC, xm}, {DNNL_ARG_WEIGHTS, wm}, {DNNL_ARG_DST, ym}});
    t.stream.wait();
  } catch (const dnnl::error& e) {
    fail(ErrorKind::kInternal, "oneDNN matmul [", M, " x ", K, "] x [", N, " x ", K,
         "]^T failed: ", e.what());
  }
}

}  // namespace blip2::cpu
