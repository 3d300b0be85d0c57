#!/usr/bin/env bash
# vchat's benchmarks in one command: writes the benchmark model, then measures vchat's first
# turn, follow-up and regenerate; vchat against a direct mistral.rs program and the quantization
# table; the full-screen app's frame cost, opening saved chats, the image path and keystroke
# latency. Each prints its table and writes its section of BENCHMARKS.md.
# With --baseline, plain mistral.rs 0.8.1 from crates.io is built too (its own target, about
# 30 minutes cold) and vchat's first turn is compared with it.
# Usage: bench/run.sh [RUNS] [--baseline]   (RUNS default 5)
set -euo pipefail
cd "$(dirname "$0")/.."
runs=5
baseline=no
for arg in "$@"; do
  case "$arg" in
    --baseline) baseline=yes ;;
    *) runs="$arg" ;;
  esac
done
cargo xtask setup
plain=-
if [ "$baseline" = yes ]; then
  echo "bench: building plain mistral.rs 0.8.1 (the baseline)" >&2
  CARGO_TARGET_DIR=target/plain cargo build --quiet --manifest-path bench/plain-mistralrs/Cargo.toml
  plain=target/plain/debug/plain-mistralrs
fi
cargo build --quiet --bin vchat --examples
cargo run --quiet --example bench -- "$plain" "$runs"
cargo run --quiet --example overhead -- target/debug/vchat "$runs"
cargo run --quiet --example ui_frames
cargo run --quiet --example sessions
cargo run --quiet --example image_path
cargo run --quiet --example keys -- target/debug/vchat
