# Sourced by cuda-check.sh and cuda-build.sh: a CUDA 13.0 toolkit from PyPI, for a machine
# without a GPU or an installed toolkit.
#
# NVIDIA's compiler and headers come as pinned wheels (the newest nvvm emits PTX that the 13.0
# ptxas refuses) into a virtual environment under target/. Exports PATH,
# CUDA_ROOT/CUDA_PATH/CUDA_HOME and CUDA_COMPUTE_CAP (default 90); sets $cuda_root.
# `cuda_link_setup` adds what linking a binary needs (see there).

venv=target/cuda-venv

# install_wheels NAME WHEEL…: installs the wheels unless the same list is installed already.
install_wheels() {
  local name=$1 stamp=$venv/.vchat-$1
  shift
  [ "$(cat "$stamp" 2>/dev/null)" = "$*" ] && return 0
  echo "cuda: installing NVIDIA's $name wheels into $venv"
  [ -x "$venv/bin/pip" ] || python3 -m venv "$venv"
  "$venv/bin/pip" install -q --disable-pip-version-check "$@"
  echo "$*" > "$stamp"
}

install_wheels compiler nvidia-cuda-nvcc==13.0.88 nvidia-nvvm==13.0.88 "nvidia-cuda-crt==13.0.*" \
  "nvidia-cuda-runtime==13.0.*" "nvidia-cuda-cccl==13.0.*"
cuda_root=$(cd "$venv"/lib/python3*/site-packages/nvidia/cu13 && pwd)
# Build scripts look for the libraries under lib64 as a toolkit lays them out.
[ -e "$cuda_root/lib64" ] || ln -s lib "$cuda_root/lib64"
# nvvm's cicc is found relative to nvcc in a toolkit; the wheels keep it in nvvm/bin.
export PATH="$cuda_root/bin:$cuda_root/nvvm/bin:$PATH"
export CUDA_ROOT="$cuda_root" CUDA_PATH="$cuda_root" CUDA_HOME="$cuda_root"
export CUDA_COMPUTE_CAP="${CUDA_COMPUTE_CAP:-90}"

# What the linker needs: candle links cuBLAS, cuBLASLt, cuRAND, NVRTC and the driver (cudarc's
# dynamic linking), mistralrs-quant and candle's MoE kernels link the runtime.
# - The libraries come as 13.0-era wheels. They ship versioned files only (libcublas.so.13)
#   while the linker looks for libcublas.so, so unversioned links are added.
# - The driver's libcuda is not on PyPI: a stub with its soname (libcuda.so.1) is built from the
#   functions cudarc declares, where cudarc's build script searches (lib/stubs, as in a
#   toolkit). It is only linked against; at run time the GPU machine's driver is used.
cuda_link_setup() {
  install_wheels libraries nvidia-cublas==13.0.2.14 nvidia-curand==10.4.0.35 \
    nvidia-cuda-nvrtc==13.0.88
  local lib link
  for lib in "$cuda_root"/lib/lib*.so.[0-9]*; do
    case $lib in *builtins*|*.alt.*) continue ;; esac
    link=${lib%.so.*}.so
    [ -e "$link" ] || ln -s "$(basename "$lib")" "$link"
  done
  local stub=$cuda_root/lib/stubs/libcuda.so sources
  [ -e "$stub" ] && return 0
  mkdir -p "$(dirname "$stub")"
  sources=$(cargo metadata --format-version 1 --features cuda | python3 -c '
import json, sys, os
for p in json.load(sys.stdin)["packages"]:
    if p["name"] == "cudarc":
        print(os.path.join(os.path.dirname(p["manifest_path"]), "src", "driver", "sys"))')
  [ -n "$sources" ] || { echo "cuda: cudarc's sources were not found" >&2; return 1; }
  # Every `fn cu…(` in the driver bindings' extern blocks is a function libcuda exports.
  # shellcheck disable=SC2086
  grep -rhoE '^\s+(pub )?fn cu[A-Za-z0-9_]+\(' $sources | grep -oE 'cu[A-Za-z0-9_]+' | sort -u \
    | sed 's/.*/void &(void) {}/' > "$stub.c"
  cc -shared -fPIC -Wl,-soname,libcuda.so.1 -o "$stub" "$stub.c"
  echo "cuda: driver stub (link only) with $(wc -l < "$stub.c") functions at $stub"
}
