#!/usr/bin/env bash
# One prepared command for a GPU machine without network: runs a CUDA build of vchat (made
# elsewhere by scripts/cuda-build.sh and carried there) and prints what a user of the GPU would
# want to know. Nothing is downloaded; the models are written on the spot by vchat itself.
#
#   scripts/gpu-check.sh target/gpu-carry/vchat.xz      # or an uncompressed binary
#
# 1. Answers: a tiny random LLaVA-1.5, greedy in F32, on the GPU with vchat and with Hugging Face
#    transformers (the project's reference, reference/llava_reference.py) on the same GPU: the
#    token ids must be equal.
# 2. Figures: a random LLaVA-1.5 of the real 7B shape (Llama-2-7B + CLIP ViT-L/336, BF16, 14 GB
#    on disk), one-shot with the article's 8-bit (--isq q8_0) and in BF16: load time, time to
#    first token, decode tokens/s, peak GPU memory, and decode against the memory-bandwidth
#    limit (each token reads every weight once).
#
# Needs: the NVIDIA driver, the CUDA 13 libraries (a toolkit, or PyTorch's nvidia wheels, which
# are found by themselves), python3 with torch and transformers for step 1, nvidia-smi, about
# 30 GB of disk in $GPU_CHECK_DIR (default /tmp/vchat-gpu-check). Set GPU_BANDWIDTH_GBS to the
# GPU's memory bandwidth (default 4800, an H200). Exits non-zero when a step fails or the ids
# differ; the figures are printed either way.
#
# A dry run of the script itself on a machine without a GPU (a CPU build, an nvidia-smi stand-in
# on PATH): GPU_CHECK_REFERENCE_DEVICE=cpu GPU_CHECK_BIG=large.
set -uo pipefail
cd "$(dirname "$0")/.."
binary=${1:?usage: scripts/gpu-check.sh VCHAT_BINARY[.xz]}
work=${GPU_CHECK_DIR:-/tmp/vchat-gpu-check}
bandwidth=${GPU_BANDWIDTH_GBS:-4800}
mkdir -p "$work"
failed=0
say() { printf 'gpu-check: %s\n' "$*"; }

vchat=$work/vchat
case $binary in
  *.xz) xz -dc "$binary" > "$vchat" 2>/dev/null \
    || python3 -c 'import lzma, shutil, sys; shutil.copyfileobj(lzma.open(sys.argv[1]), open(sys.argv[2], "wb"))' "$binary" "$vchat" ;;
  *) cp "$binary" "$vchat" ;;
esac
chmod +x "$vchat"

# The CUDA libraries the binary links: a toolkit's, or those of PyTorch's nvidia wheels.
wheel_libs=$(python3 - <<'EOF' 2>/dev/null
import glob, os, site
dirs = {os.path.dirname(f) for sp in site.getsitepackages()
        for f in glob.glob(os.path.join(sp, "nvidia", "**", "lib*.so*"), recursive=True)}
print(":".join(sorted(dirs)))
EOF
)
export LD_LIBRARY_PATH="${wheel_libs}:/usr/local/cuda/lib64:${LD_LIBRARY_PATH:-}"
missing=$(ldd "$vchat" | grep 'not found')
if [ -n "$missing" ]; then
  say "libraries not found (install a CUDA 13 toolkit or PyTorch's cu13 wheels):"
  echo "$missing"
  exit 1
fi
# vchat's folders inside the work folder; no chat is saved and the hub is never asked.
export HF_HUB_OFFLINE=1 VCHAT_CONFIG_DIR=$work/config VCHAT_DATA_DIR=$work/data VCHAT_CACHE_DIR=$work/cache
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader | sed 's/^/gpu-check: GPU: /'

# run_timed NAME ARGS…: one-shot vchat with --stats, each stderr line stamped; prints the figures.
# Peak memory: nvidia-smi sampled every 100 ms, minus what was in use before.
run_timed() {
  local name=$1
  shift
  local log=$work/$name.log mem=$work/$name.mem
  local before
  before=$(nvidia-smi --query-gpu=memory.used --format=csv,noheader,nounits | head -1)
  nvidia-smi --query-gpu=memory.used --format=csv,noheader,nounits -lms 100 > "$mem" &
  local sampler=$! start
  start=$(date +%s.%N)
  "$vchat" --no-save --stats "$@" 2>&1 >"$work/$name.out" | while IFS= read -r line; do
    printf '%s %s\n' "$(date +%s.%N)" "$line"
  done > "$log"
  local status=${PIPESTATUS[0]}
  kill "$sampler" 2>/dev/null
  wait "$sampler" 2>/dev/null
  if [ "$status" -ne 0 ]; then
    say "$name: vchat failed ($status):"
    tail -n 5 "$log"
    failed=1
    return 1
  fi
  python3 - "$log" "$mem" "$start" "$before" "$name" "$bandwidth" "${WEIGHT_BYTES:-0}" <<'EOF'
import re, sys
log, mem, start, before, name, bandwidth, weight_bytes = sys.argv[1:]
lines = [l.split(" ", 1) for l in open(log).read().splitlines() if " " in l]
ready = next(float(t) for t, l in lines if l.startswith("[model]"))
answer = next(l for t, l in lines if l.startswith("[answer 1]"))
tokens, ttft, rate = re.search(r"(\d+) tokens · first token ([\d.]+) s · ([\d.]+) tokens/s", answer).groups()
peak = max(int(v) for v in open(mem).read().split() if v.isdigit()) - int(before)
text = f"{name}: load {ready - float(start):.1f} s · first token {float(ttft):.2f} s · decode {float(rate):.1f} tokens/s ({tokens} tokens) · peak GPU memory {peak / 1024:.1f} GiB"
if int(weight_bytes) > 0:
    limit = float(bandwidth) * 1e9 / int(weight_bytes)
    text += f" · bandwidth limit {limit:.0f} tokens/s, reached {float(rate) / limit:.2f}"
print("gpu-check: " + text)
EOF
  [ $? -eq 0 ] || { say "$name: no figures in its output (see $log)"; failed=1; return 1; }
}

# 1. The tiny model's greedy ids against transformers on the same GPU.
tiny=$work/tiny
"$vchat" make-tiny-model "$tiny" >/dev/null
questions=("Describe the image." "What colours do you see?")
if run_timed tiny-f32 -m "$tiny" --image "$tiny/example.png" --greedy --max-tokens 24 \
  --dtype f32 --isq none --token-ids --no-image \
  --prompt "${questions[0]}" --prompt "${questions[1]}"; then
  ours=$(sed -n 's/^[0-9.]* \[answer \([0-9]*\) ids\] /\1:/p' "$work/tiny-f32.log")
  theirs=$(${REFERENCE_PYTHON:-python3} - "$tiny" "${questions[@]}" <<'EOF' 2>"$work/reference.err"
import json, os, subprocess, sys
model, questions = sys.argv[1], sys.argv[2:]
chat = [{"image": f"{model}/example.png", "turns": questions, "max_new_tokens": 24}]
device = os.environ.get("GPU_CHECK_REFERENCE_DEVICE", "cuda")
out = subprocess.run([sys.executable, "reference/llava_reference.py", model, device],
                     input=json.dumps(chat), capture_output=True, text=True, check=True)
for i, turn in enumerate(json.loads(out.stdout)[0]):
    print(f"{i + 1}:" + " ".join(map(str, turn["tokens"])))
EOF
  )
  if [ -z "$theirs" ]; then
    say "tiny model: transformers did not run:"
    tail -n 3 "$work/reference.err"
    failed=1
  elif [ "$ours" = "$theirs" ]; then
    say "tiny model: greedy ids equal transformers' on the GPU (2 turns, $(echo "$ours" | sed 's/^[0-9]*://' | wc -w) ids)"
  else
    say "tiny model: ids DIFFER from transformers'"
    printf 'vchat:        %s\ntransformers: %s\n' "$ours" "$theirs"
    failed=1
  fi
fi

# 2. The 7B shape, 8-bit and BF16.
size=${GPU_CHECK_BIG:-llava-7b}
big=$work/$size
if [ ! -f "$big/model.safetensors" ]; then
  start=$(date +%s)
  "$vchat" make-tiny-model --size "$size" "$big" >/dev/null || { say "cannot write the 7B model"; exit 1; }
  say "$size model written in $(( $(date +%s) - start )) s ($(du -sh "$big" | cut -f1))"
fi
# The weights' bytes each decoded token reads: every parameter, 2 bytes in BF16; q8_0 stores
# 32 weights in 34 bytes (the text model's linear layers; embeddings and norms stay BF16).
params=$(python3 -c "import json,struct,sys; f=open(sys.argv[1],'rb'); n=struct.unpack('<Q',f.read(8))[0]; h=json.loads(f.read(n)); import math; print(sum(math.prod(v['shape']) for k,v in h.items() if k!='__metadata__'))" "$big/model.safetensors")
say "$size model: $params parameters"
prompt=(--image "$big/example.png" --greedy --max-tokens 256 --no-image --prompt "Describe the image in detail.")
WEIGHT_BYTES=$(( params * 34 / 32 )) run_timed "7b-q8_0" -m "$big" --isq q8_0 "${prompt[@]}"
WEIGHT_BYTES=$(( params * 2 )) run_timed "7b-bf16" -m "$big" --dtype bf16 --isq none "${prompt[@]}"

[ "$failed" -eq 0 ] && say "all steps passed" || say "a step FAILED (see above)"
exit "$failed"
