#!/bin/bash
# setup_ref.sh: `make bench-ref`. Installs the reference, connectome_interpreter
# (the Python package), in two runtimes that `make bench` times side by side
# with cinterp (bench/ref_one.py runs it):
#   pypi    build/ref-venv: everything from PyPI, pinned in bench/ref-requirements.txt
#           (torch from PyPI's Linux wheel, which brings the CUDA libraries);
#   debian  build/ref-venv-debian: Debian's python3-torch 1.13 and friends from apt,
#           connectome-interpreter alone from PyPI (bench/ref-requirements-debian.txt).
# Both use Debian's /usr/bin/python3. A venv whose requirements file has not changed
# since it was built is kept (a stamp holds the file's checksum).
#   bash bench/setup_ref.sh [pypi|debian|all]      (BUILD=dir, default build)
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
WHICH=${1:-all}
PY=/usr/bin/python3
case "$WHICH" in
  pypi|debian|all) ;;
  *) echo "setup_ref: unknown runtime '$WHICH' (pypi, debian or all)" >&2; exit 2 ;;
esac

# Debian packages: the venv tooling for both, the whole runtime for "debian"
APT_BASE="python3 python3-venv python3-pip"
APT_DEBIAN="python3-torch python3-numpy python3-scipy python3-pandas python3-matplotlib \
python3-networkx python3-tqdm python3-plotly python3-seaborn python3-ipython python3-ipywidgets"

apt_install() {
  local missing=""
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing="$missing $p"
  done
  if [ -n "$missing" ]; then
    echo "setup_ref: installing Debian packages:$missing"
    apt-get update -qq
    # shellcheck disable=SC2086
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing
  fi
}

# make_venv DIR REQUIREMENTS [venv options] -- [pip options]
make_venv() {
  local dir=$1 req=$2
  shift 2
  local vopts=() popts=()
  while [ $# -gt 0 ] && [ "$1" != "--" ]; do vopts+=("$1"); shift; done
  [ $# -gt 0 ] && shift
  popts=("$@")
  local sum
  sum=$(sha256sum "$req" | cut -d' ' -f1)
  if [ -x "$dir/bin/python" ] && [ "$(cat "$dir/.requirements.sha256" 2>/dev/null)" = "$sum" ] &&
     "$dir/bin/python" -c "import torch, connectome_interpreter" 2>/dev/null; then
    echo "setup_ref: $dir is up to date"
    return 0
  fi
  rm -rf "$dir"
  "$PY" -m venv "${vopts[@]}" "$dir"
  "$dir/bin/pip" install -q --disable-pip-version-check "${popts[@]}" -r "$req"
  echo "$sum" > "$dir/.requirements.sha256"
}

report() {
  "$1/bin/python" -c "import sys, torch, numpy, scipy, pandas, connectome_interpreter as c; \
print('setup_ref: %s: python %s, torch %s, numpy %s, scipy %s, pandas %s, connectome_interpreter %s' % \
('$1', sys.version.split()[0], torch.__version__, numpy.__version__, scipy.__version__, \
pandas.__version__, c.__version__))"
}

apt_install $APT_BASE
case "$WHICH" in
  pypi|all)
    make_venv "$BUILD/ref-venv" bench/ref-requirements.txt
    report "$BUILD/ref-venv" ;;
esac
case "$WHICH" in
  debian|all)
    # shellcheck disable=SC2086
    apt_install $APT_DEBIAN
    make_venv "$BUILD/ref-venv-debian" bench/ref-requirements-debian.txt --system-site-packages \
      -- --no-deps
    report "$BUILD/ref-venv-debian" ;;
esac
