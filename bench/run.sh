#!/usr/bin/env bash
# vchat's benchmarks in one command: builds plain mistral.rs 0.8.1 (the baseline), writes the
# benchmark model, runs vchat and the baseline interleaved, prints the table and writes
# BENCHMARKS.md; then vchat against a direct mistral.rs program and the quantization table,
# the full-screen app's frame cost, opening saved chats, the image path and keystroke latency.
# Usage: bench/run.sh [RUNS]   (default 5)
set -euo pipefail
cd "$(dirname "$0")/.."
runs="${1:-5}"
cargo xtask setup
echo "bench: building plain mistral.rs 0.8.1 (the baseline)" >&2
CARGO_TARGET_DIR=target/plain cargo build --quiet --manifest-path bench/plain-mistralrs/Cargo.toml
cargo run --quiet --example bench -- target/plain/debug/plain-mistralrs "$runs"
cargo build --quiet --bin vchat
cargo run --quiet --example overhead -- target/debug/vchat "$runs"
cargo run --quiet --example ui_frames
cargo run --quiet --example sessions
cargo run --quiet --example image_path
cargo run --quiet --example keys -- target/debug/vchat
