#!/usr/bin/env bash
# Type-checks vchat's `cuda` build on a machine without a GPU or a CUDA toolkit (see
# cuda-env.sh for where the toolkit comes from): candle's, mistralrs-quant's and
# mistralrs-core's kernels are compiled by nvcc and vchat's patched engine is type-checked with
# CUDA on. To build a binary, use cuda-build.sh.
#
#   scripts/cuda-check.sh            # CUDA_COMPUTE_CAP=90 (H100/H200); set it for others
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/cuda-env.sh
# A target folder of its own: the CUDA build does not evict the CPU build's artefacts.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-target/cuda}"
nvcc --version | tail -n 2
cargo xtask setup
start=$(date +%s)
cargo check --features cuda -p vchat
echo "cuda-check: vchat --features cuda type-checks for sm_$CUDA_COMPUTE_CAP ($(( $(date +%s) - start )) s)"
