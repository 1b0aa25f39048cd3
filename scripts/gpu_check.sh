#!/usr/bin/env bash
# gpu_check.sh [BUILD_DIR] [options of gpu_check.lua]: `make gpu-check`. On a
# machine with a GPU, runs scripts/gpu_check.lua (the CUDA tests and a timing
# table) with the CUDA build in BUILD_DIR (default build-gpu): the one carried
# from a machine that ran `make gpu-bundle`, or, when it is missing, one built
# here (which needs the Debian packages: make deps). Without a GPU it says so
# and exits 1 at once.
set -u
cd "$(dirname "$0")/.."
B=${1:-build-gpu}
[ $# -gt 0 ] && shift
if ! nvidia-smi -L > /dev/null 2>&1; then
  echo "gpu-check: no usable GPU here (nvidia-smi -L finds none)"
  exit 1
fi
if [ ! -x "$B/cinterp" ]; then
  make --no-print-directory deps && make --no-print-directory -j"$(nproc)" CUDA=1 BUILD="$B" all &&
    bash scripts/gpu_bundle.sh "$B" || exit 1
fi
nvcc=$(command -v nvcc || echo /usr/local/cuda/bin/nvcc)
export LD_LIBRARY_PATH="$PWD/$B/lib:$(dirname "$nvcc")/../lib64${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
export LUA_PATH="lua/?.lua;lua/?/init.lua;bindings/?.lua;$B/lua/?.lua;tests/?.lua;$B/lua51/share/?.lua;$B/lua51/share/?/init.lua;;"
export LUA_CPATH="$B/?.so;$B/lua51/lib/?.so;;"
[ -f ../shared/golden/index.lua ] || export CINTERP_GOLDEN="$B/golden"
export CINTERP_BIN="$PWD/$B/cinterp" BUSTED="$B/busted"
exec "$B/cinterp" scripts/gpu_check.lua "$@"
