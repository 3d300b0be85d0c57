#!/usr/bin/env bash
# Type-checks vchat's `cuda` build on a machine without a GPU or a CUDA toolkit: NVIDIA's
# compiler and headers come from PyPI as wheels, pinned (the newest nvvm emits PTX that the
# 13.0 ptxas refuses), into a virtual environment under target/. candle's kernels,
# mistralrs-quant's and mistralrs-core's are compiled by nvcc, and vchat's patched engine is
# type-checked with CUDA on. Linking a CUDA binary needs the driver's libcuda, cuBLAS, cuRAND
# and NVRTC (or stubs of them), which this script does not provide: see the README's GPU
# section.
#
#   scripts/cuda-check.sh            # CUDA_COMPUTE_CAP=90 (H100/H200); set it for others
set -euo pipefail
cd "$(dirname "$0")/.."
venv=target/cuda-venv
cu=$venv/lib/python3*/site-packages/nvidia/cu13
if ! ls $cu/bin/nvcc >/dev/null 2>&1; then
  echo "cuda-check: installing NVIDIA's compiler wheels into $venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q --disable-pip-version-check \
    nvidia-cuda-nvcc==13.0.88 nvidia-nvvm==13.0.88 "nvidia-cuda-crt==13.0.*" \
    "nvidia-cuda-runtime==13.0.*" "nvidia-cuda-cccl==13.0.*"
fi
cuda_root=$(cd $cu && pwd)
# Build scripts look for the libraries under lib64 as a toolkit lays them out.
[ -e "$cuda_root/lib64" ] || ln -s lib "$cuda_root/lib64"
# nvvm's cicc is found relative to nvcc in a toolkit; the wheels keep it in nvvm/bin.
export PATH="$cuda_root/bin:$cuda_root/nvvm/bin:$PATH"
export CUDA_ROOT="$cuda_root" CUDA_PATH="$cuda_root" CUDA_HOME="$cuda_root"
export CUDA_COMPUTE_CAP="${CUDA_COMPUTE_CAP:-90}"
# A target folder of its own: the CUDA build does not evict the CPU build's artefacts.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-target/cuda}"
nvcc --version | tail -n 2
cargo xtask setup
start=$(date +%s)
cargo check --features cuda -p vchat
echo "cuda-check: vchat --features cuda type-checks for sm_$CUDA_COMPUTE_CAP ($(( $(date +%s) - start )) s)"
