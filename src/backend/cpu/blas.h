// OpenBLAS set up for the engine's thread pool: BLAS's own threading is switched off once per
// process (the pool splits products and calls BLAS from every worker; Debian's pthread build is
// safe under concurrent calls, its serial build is not). Call before any cblas_* call.
#pragma once

#include <cblas.h>

namespace blip2::cpu {

inline void prepare_blas() {
  static const bool done = [] {
    openblas_set_num_threads(1);
    return true;
  }();
  (void)done;
}

}  // namespace blip2::cpu
