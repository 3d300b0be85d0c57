#!/usr/bin/env bash
# Builds `vchat --features cuda` in release on a machine without a GPU or a CUDA toolkit (see
# cuda-env.sh for where the toolkit comes from), one binary per GPU architecture:
#
#   scripts/cuda-build.sh            # sm_90 and sm_80
#   scripts/cuda-build.sh 90         # only sm_90 (H100, H200, GH200)
#
# Why two: candle and mistralrs-quant compile their kernels for one architecture, as PTX and
# machine code for it. A binary for sm_80 (A100, A10, L4 and RTX 30/40 run it too) also starts
# on a Hopper GPU, where the driver recompiles its PTX at first use, but leaves out the kernels
# that need sm_90 (FP8 GEMMs among them). A binary for sm_90 runs on Hopper only.
#
# Each architecture builds in a folder of its own (target/cuda-smXX), so the two do not evict
# each other's artefacts. The binary links the CUDA 13 libraries dynamically: on the GPU machine
# it needs the driver (libcuda.so.1) and libcublas/libcublasLt 13, libcurand 10, libnvrtc 13 and
# libcudart 13 on the library path — a CUDA 13 toolkit, or PyTorch's nvidia wheels.
set -euo pipefail
cd "$(dirname "$0")/.."
archs=("$@")
[ ${#archs[@]} -gt 0 ] || archs=(90 80)
for arch in "${archs[@]}"; do
  [[ $arch =~ ^[0-9]{2,3}$ ]] || { echo "cuda-build: '$arch' is not an architecture (e.g. 80, 90)" >&2; exit 2; }
done
. scripts/cuda-env.sh
nvcc --version | tail -n 2
cargo xtask setup
cuda_link_setup
for arch in "${archs[@]}"; do
  export CUDA_COMPUTE_CAP=$arch CARGO_TARGET_DIR=target/cuda-sm$arch
  start=$(date +%s)
  cargo build --release --features cuda -p vchat
  bin=$CARGO_TARGET_DIR/release/vchat
  echo "cuda-build: sm_$arch binary $bin, $(du -m "$bin" | cut -f1) MiB, built in $(( $(date +%s) - start )) s"
  echo "cuda-build: it needs $(readelf -d "$bin" | sed -n 's/.*NEEDED.*\[\(lib\(cu\|nvrtc\)[^]]*\)\].*/\1/p' | tr '\n' ' ')"
done
