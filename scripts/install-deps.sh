#!/usr/bin/env bash
# Installs every build and test dependency of blip2cpp from Debian 12 packages.
# Safe to run again; uses sudo only when not already root.
set -euo pipefail
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
PKGS=(
  build-essential cmake ninja-build pkg-config
  libopenblas-pthread-dev  # f32 GEMM (its own threads are switched off: our pool owns the cores)
  libdnnl-dev              # oneDNN: f32 products with few rows (LM prefill)
  libhwy-dev               # Highway: SIMD kernels with run-time ISA dispatch
  libjpeg62-turbo-dev libpng-dev libwebp-dev   # image decoders
  libpcre2-dev             # GPT-2 pre-tokenization regex (Unicode classes)
  libsentencepiece-dev     # T5 tokenizer
  nlohmann-json3-dev libcli11-dev
  libgtest-dev libgmock-dev libbenchmark-dev
)
missing=()
for p in "${PKGS[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
