#!/usr/bin/env bash
# vchat's benchmarks in one command: writes the benchmark models, then measures vchat's first
# turn, follow-up and regenerate; vchat against a direct mistral.rs program (greedy and
# sampling) and the quantization table; vchat against llama.cpp on CPU; a video clip to the
# model's input; the full-screen app's frame cost, opening saved chats, the image path and
# keystroke latency. Each prints its table and writes its section of BENCHMARKS.md; this script adds how
# long the build and the measuring took.
# The programs are the crate in bench/ (vchat-bench): building them does not build vchat's
# dev-dependencies. They share the dev profile (and target/) with the tests, so after
# `cargo xtask test` only the benchmark programs themselves are built.
# With --baseline, plain mistral.rs 0.8.1 from crates.io is built too (its own target, about
# 30 minutes cold) and vchat's first turn is compared with it.
# Usage: bench/run.sh [RUNS] [--baseline]   (RUNS: interleaved runs per figure, default 3)
set -euo pipefail
cd "$(dirname "$0")/.."
runs=3
baseline=no
for arg in "$@"; do
  case "$arg" in
    --baseline) baseline=yes ;;
    *) runs="$arg" ;;
  esac
done
command -v tmux >/dev/null || { echo "bench: tmux is needed (the keystroke benchmark)" >&2; exit 1; }

started=$(date +%s)
cargo xtask setup
plain=-
if [ "$baseline" = yes ]; then
  echo "bench: building plain mistral.rs 0.8.1 (the baseline)" >&2
  CARGO_TARGET_DIR=target/plain cargo build --quiet --manifest-path bench/plain-mistralrs/Cargo.toml
  plain=target/plain/debug/plain-mistralrs
fi
cargo build --quiet -p vchat -p vchat-bench --bins
built=$(date +%s)

minutes() { printf '%d min %02d s' $(($1 / 60)) $(($1 % 60)); }
timings="| setup and build (\`cargo xtask setup\`, vchat and the benchmark programs) | $(minutes $((built - started))) |
"
# step NAME COMMAND…: runs one benchmark program and notes how long it took. A program that
# missed a goal (or failed) exits non-zero after printing its table: the others still run, and
# this script exits non-zero at the end.
failed=()
step() {
  local name=$1 began
  shift
  began=$(date +%s)
  "$@" || failed+=("$name")
  timings+="| $name | $(minutes $(($(date +%s) - began))) |
"
}
bin=target/debug
step "first turn, follow-up, regenerate ($runs runs)" "$bin/first_turn" "$plain" "$runs"
step "engine overhead ($runs runs) and quantization" "$bin/overhead" "$bin/vchat" "$runs"
step "frame cost" "$bin/ui_frames"
step "saved chats" "$bin/sessions"
step "image path" "$bin/image_path"
step "keystrokes in tmux" "$bin/keys" "$bin/vchat"
step "sampler per token" "$bin/sampler"
step "video clip to the model's input" "$bin/video"
# llama.cpp built from source, the same model converted to GGUF by its own converters.
llama_cpp_peer() {
  local model=target/bench-models/llava-1024x8 gguf=target/bench-models/llava-1024x8-gguf cli
  [ -f $model/model.safetensors ] || "$bin/vchat" make-tiny-model --size large $model >/dev/null
  cli=$(bench/llama-cpp/setup.sh $model $gguf | tail -n 1)
  "$bin/llama_cpp" "$bin/vchat" "$cli" $gguf "$runs"
}
step "CPU peer: llama.cpp ($runs runs; its build the first time)" llama_cpp_peer
# The models people use now, written by transformers (the reference environment of the tests).
vlm_models() {
  cargo xtask reference >/dev/null
  local py=target/reference-venv/bin/python dir=target/bench-models
  [ -f $dir/qwen2_5-vl/config.json ] || HF_HUB_OFFLINE=1 $py reference/make_hf_qwen_vl.py $dir/qwen2_5-vl 2.5 --bench
  [ -f $dir/qwen3-vl/config.json ] || HF_HUB_OFFLINE=1 $py reference/make_hf_qwen_vl.py $dir/qwen3-vl 3 --bench
  [ -f $dir/gemma3/config.json ] || HF_HUB_OFFLINE=1 $py reference/make_hf_gemma3.py $dir/gemma3 --bench
  "$bin/follow_up_vlm" "$runs" Qwen2.5-VL=$dir/qwen2_5-vl Qwen3-VL=$dir/qwen3-vl "Gemma 3=$dir/gemma3"
}
step "follow-ups on Qwen2.5-VL, Qwen3-VL, Gemma 3 ($runs runs)" vlm_models
finished=$(date +%s)

section="
## How long this run took

Models and images are written on the way (they count in the step that needs them first).

| step | time |
|---|---|
$timings| in all | $(minutes $((finished - started))) |
"
echo "$section"
echo "$section" >>BENCHMARKS.md
if [ "${#failed[@]}" -gt 0 ]; then
  printf 'bench: a goal was missed or a program failed in: %s (see its table above)\n' "${failed[*]}" >&2
  exit 1
fi
