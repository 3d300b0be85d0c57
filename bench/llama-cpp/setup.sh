#!/usr/bin/env bash
# The CPU peer of the benchmark: llama.cpp's multimodal CLI (llama-mtmd-cli), built from source,
# and the benchmark's random LLaVA-1.5 converted to GGUF with llama.cpp's own converters.
#
#   bench/llama-cpp/setup.sh MODEL_DIR OUT_DIR
#
# llama.cpp comes from the llama-cpp-python sdist on PyPI (pinned, checksum checked), which
# vendors the whole llama.cpp tree: the CLI, convert_hf_to_gguf.py and gguf-py. The build goes to
# target/llama-cpp (a few minutes on 2 cores, once). Writes into OUT_DIR:
#   text-f32.gguf, text-q8_0.gguf   the language model (convert_hf_to_gguf.py)
#   mmproj.gguf                     CLIP and the projector (the legacy LLaVA-1.5 converter)
set -euo pipefail
cd "$(dirname "$0")/../.."
model=${1:?usage: setup.sh MODEL_DIR OUT_DIR}
out=${2:?usage: setup.sh MODEL_DIR OUT_DIR}
version=0.3.36
sha256=832db0699007f1be95a7e41ef12e88926b02ba836461e36a36372db2760c1a2e
url=https://files.pythonhosted.org/packages/ec/e9/e7de2b0463ea3ffbf0ede6cb21b58c1258a8f6521aae45ca773a59fe7cf3/llama_cpp_python-$version.tar.gz
dir=target/llama-cpp
src=$dir/llama_cpp_python-$version/vendor/llama.cpp
cli=$dir/build/bin/llama-mtmd-cli

# Python: the converters need torch and transformers (the reference environment's, shared
# through a .pth file rather than installed twice) and sentencepiece; cmake and ninja too.
cargo xtask reference >/dev/null
reference=target/reference-venv/bin/python
venv=$dir/venv
if [ ! -x "$venv/bin/cmake" ]; then
  python3 -m venv "$venv"
  site=$("$reference" -c 'import site; print(site.getsitepackages()[0])')
  echo "$site" > "$("$venv/bin/python" -c 'import site; print(site.getsitepackages()[0])')/reference.pth"
  "$venv/bin/pip" install -q sentencepiece==0.2.3 cmake==4.4.5 ninja==1.13.2 \
    transformers==4.57.3
fi
py=$venv/bin/python

if [ ! -x "$cli" ]; then
  mkdir -p "$dir"
  archive=$dir/llama_cpp_python-$version.tar.gz
  [ -f "$archive" ] || curl -sSfL -o "$archive" "$url"
  echo "$sha256  $archive" | sha256sum -c --quiet
  tar -xzf "$archive" -C "$dir"
  "$venv/bin/cmake" -S "$src" -B "$dir/build" -G Ninja -DCMAKE_MAKE_PROGRAM="$PWD/$venv/bin/ninja" \
    -DCMAKE_BUILD_TYPE=Release -DLLAMA_CURL=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF \
    -DLLAMA_BUILD_SERVER=OFF >/dev/null
  "$venv/bin/cmake" --build "$dir/build" --target llama-mtmd-cli -j 2 >/dev/null
fi

mkdir -p "$out"
export PYTHONPATH=$PWD/$src/gguf-py
if [ ! -f "$out/mmproj.gguf" ]; then
  # llama.cpp's converters take the model apart: see split_llava.py.
  "$py" bench/llama-cpp/split_llava.py "$model" "$out/split"
  for type in f32 q8_0; do
    "$py" "$src/convert_hf_to_gguf.py" "$out/split/text" --outtype "$type" --outfile "$out/text-$type.gguf" >/dev/null 2>&1 \
      || { echo "llama-cpp: converting the text model ($type) failed" >&2; exit 1; }
  done
  # The legacy LLaVA-1.5 converter was written for transformers 4 (hence the pin above).
  "$py" "$src/tools/mtmd/legacy-models/convert_image_encoder_to_gguf.py" -m "$out/split/clip" \
    --llava-projector "$out/split/llava.projector" --output-dir "$out/split" --clip-model-is-vision \
    --use-f32 >/dev/null 2>&1 || { echo "llama-cpp: converting CLIP failed" >&2; exit 1; }
  mv "$out/split/mmproj-model-f32.gguf" "$out/mmproj.gguf"
fi
echo "$PWD/$cli"
