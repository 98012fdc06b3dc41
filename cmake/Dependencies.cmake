# Every dependency comes from a Debian 12 package (scripts/install-deps.sh installs them).
find_package(PkgConfig REQUIRED)
find_package(Threads REQUIRED)
find_package(nlohmann_json 3 REQUIRED)
find_package(CLI11 REQUIRED)
find_package(hwy REQUIRED)

# OpenBLAS, the serial flavour: the engine's own thread pool splits GEMMs across threads, so
# BLAS must not start threads of its own. Debian installs the flavours side by side.
find_library(BLIP2_OPENBLAS_LIB NAMES openblas
  PATHS /usr/lib/x86_64-linux-gnu/openblas-serial /usr/lib/aarch64-linux-gnu/openblas-serial
  NO_DEFAULT_PATH)
if(NOT BLIP2_OPENBLAS_LIB)
  message(FATAL_ERROR "serial OpenBLAS not found: run scripts/install-deps.sh "
                      "(Debian package libopenblas-serial-dev)")
endif()
find_path(BLIP2_CBLAS_INCLUDE NAMES cblas.h
  PATHS /usr/include/x86_64-linux-gnu/openblas-serial /usr/include/aarch64-linux-gnu/openblas-serial
  NO_DEFAULT_PATH)
add_library(blip2_openblas INTERFACE)
target_link_libraries(blip2_openblas INTERFACE ${BLIP2_OPENBLAS_LIB})
target_include_directories(blip2_openblas SYSTEM INTERFACE ${BLIP2_CBLAS_INCLUDE})

pkg_check_modules(JPEG REQUIRED IMPORTED_TARGET libjpeg)
pkg_check_modules(PNG REQUIRED IMPORTED_TARGET libpng)
pkg_check_modules(WEBP REQUIRED IMPORTED_TARGET libwebp)
pkg_check_modules(PCRE2 REQUIRED IMPORTED_TARGET libpcre2-8)
pkg_check_modules(SENTENCEPIECE REQUIRED IMPORTED_TARGET sentencepiece)
