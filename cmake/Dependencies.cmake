# Every dependency comes from a Debian 12 package (scripts/install-deps.sh installs them).
find_package(PkgConfig REQUIRED)
find_package(Threads REQUIRED)
find_package(nlohmann_json 3 REQUIRED)
find_package(CLI11 REQUIRED)
find_package(hwy REQUIRED)

# OpenBLAS, the pthread flavour with its own threading switched off at run time
# (cpu::gemm_nt calls openblas_set_num_threads(1)): the engine's thread pool splits each product
# and calls BLAS from every worker at once. The serial flavour cannot be used: Debian builds it
# without locking, and concurrent calls then give wrong results (tests/unit/backend checks this).
find_library(BLIP2_OPENBLAS_LIB NAMES openblas
  PATHS /usr/lib/x86_64-linux-gnu/openblas-pthread /usr/lib/aarch64-linux-gnu/openblas-pthread
  NO_DEFAULT_PATH)
if(NOT BLIP2_OPENBLAS_LIB)
  message(FATAL_ERROR "OpenBLAS (pthread flavour) not found: run scripts/install-deps.sh "
                      "(Debian package libopenblas-pthread-dev)")
endif()
find_path(BLIP2_CBLAS_INCLUDE NAMES cblas.h
  PATHS /usr/include/x86_64-linux-gnu/openblas-pthread /usr/include/aarch64-linux-gnu/openblas-pthread
  NO_DEFAULT_PATH)
add_library(blip2_openblas INTERFACE)
target_link_libraries(blip2_openblas INTERFACE ${BLIP2_OPENBLAS_LIB})
target_include_directories(blip2_openblas SYSTEM INTERFACE ${BLIP2_CBLAS_INCLUDE})

# oneDNN (Debian's libdnnl-dev, OpenMP runtime): its brgemm f32 matmul for products with few rows
# (the LM prefill), where OpenBLAS's weight packing is not amortised. Located by hand: the
# package's CMake config also demands OpenCL, which the CPU library does not need.
find_library(BLIP2_DNNL_LIB NAMES dnnl)
find_path(BLIP2_DNNL_INCLUDE NAMES oneapi/dnnl/dnnl.hpp)
if(NOT BLIP2_DNNL_LIB OR NOT BLIP2_DNNL_INCLUDE)
  message(FATAL_ERROR "oneDNN not found: run scripts/install-deps.sh (Debian package libdnnl-dev)")
endif()
add_library(blip2_dnnl INTERFACE)
target_link_libraries(blip2_dnnl INTERFACE ${BLIP2_DNNL_LIB} gomp)  # gomp: omp_set_num_threads
target_include_directories(blip2_dnnl SYSTEM INTERFACE ${BLIP2_DNNL_INCLUDE})

pkg_check_modules(JPEG REQUIRED IMPORTED_TARGET libjpeg)
pkg_check_modules(PNG REQUIRED IMPORTED_TARGET libpng)
pkg_check_modules(WEBP REQUIRED IMPORTED_TARGET libwebp)
pkg_check_modules(PCRE2 REQUIRED IMPORTED_TARGET libpcre2-8)
pkg_check_modules(SENTENCEPIECE REQUIRED IMPORTED_TARGET sentencepiece)
