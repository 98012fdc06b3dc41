#include "backend/cpu/blas.h"

#include <cstdlib>
#include <cstring>

#include "core/error.h"

extern "C" {
// OpenBLAS's DYNAMIC_ARCH entry points (exported by every DYNAMIC_ARCH build; not in cblas.h).
char* openblas_get_corename(void);
void gotoblas_dynamic_init(void);
void gotoblas_dynamic_quit(void);
}

namespace blip2::cpu {

namespace {

// OpenBLAS cores whose kernels predate AVX2: the fallbacks of its CPU detection.
bool is_pre_avx2_core(const char* name) {
  static const char* const kOld[] = {
      "Prescott", "Core2",      "Penryn",       "Dunnington", "Nehalem", "Atom",
      "Nano",     "Opteron",    "Opteron_SSE3", "Barcelona",  "Bobcat",  "Sandybridge",
      "Katmai",   "Coppermine", "Northwood",    "Banias",     "Athlon",  "unknown"};
  for (const char* old : kOld)
    if (strcasecmp(name, old) == 0) return true;
  return false;
}

const char* best_core_for_this_cpu() {
#if defined(__x86_64__)
  __builtin_cpu_init();
  const bool avx512 = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                      __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl") &&
                      __builtin_cpu_supports("avx512cd");
  if (avx512) return __builtin_cpu_supports("avx512bf16") ? "Cooperlake" : "SkylakeX";
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return "Haswell";
#endif
  return nullptr;
}

void select_kernels() {
  if (std::getenv("OPENBLAS_CORETYPE") != nullptr) return;  // the user's choice
  const char* current = openblas_get_corename();
  if (current == nullptr || !is_pre_avx2_core(current)) return;
  const char* best = best_core_for_this_cpu();
  if (best == nullptr) return;
  // OpenBLAS reads the variable only in gotoblas_dynamic_init. It is set just for that call;
  // this runs once, before the engine calls BLAS from several threads.
  setenv("OPENBLAS_CORETYPE", best, 1);
  gotoblas_dynamic_quit();
  gotoblas_dynamic_init();
  unsetenv("OPENBLAS_CORETYPE");
}

}  // namespace

void prepare_blas() {
  static const bool done = [] {
    select_kernels();
    openblas_set_num_threads(1);
    return true;
  }();
  (void)done;
}

int blas_int(int64_t v) {
  BLIP2_CHECK(v >= 0 && v <= INT32_MAX, "matrix dimension ", v, " exceeds the BLAS int range");
  return static_cast<int>(v);
}

std::string blas_core_name() {
  prepare_blas();
  const char* name = openblas_get_corename();
  return name ? name : "?";
}

}  // namespace blip2::cpu
