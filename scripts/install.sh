#!/usr/bin/env bash
# install.sh: `make install` and `make uninstall` (the Makefile calls it).
#   install.sh install BUILD DEST     puts into DEST (= $DESTDIR$PREFIX):
#       bin/cinterp, lib/libcinterp.so, include/cinterp.h,
#       share/lua/5.1/cinterp/*.lua (lua/cinterp, bindings/cinterp/ffi.lua and the
#       generated cdef.lua), share/doc/cinterp/README.md
#     and records what it put there, files and the folders it had to make, in
#     DEST/share/cinterp/installed.txt (paths relative to DEST, so a moved
#     installation uninstalls too). Installing again first removes what the last
#     install put there (a module since deleted does not linger).
#   install.sh uninstall DEST          removes exactly what that record lists: the
#     files, then the folders install made (when empty), then the record.
# The installed host finds ../share/lua/5.1 and ../lib from its own location
# (bindings/host.c), so DEST can move.
set -eu
cd "$(dirname "$0")/.."
RECORD=share/cinterp/installed.txt

usage() { echo "usage: install.sh install BUILD DEST | install.sh uninstall DEST" >&2; exit 2; }

# removes the files of DEST's record; prints the folders it lists (deepest first)
remove_recorded() {
  local dest=$1 kind path
  [ -f "$dest/$RECORD" ] || return 0
  while read -r kind path; do
    [ "$kind" = f ] && rm -f "$dest/$path"
  done < "$dest/$RECORD"
  rm -f "$dest/$RECORD"
}

recorded_dirs() {
  local dest=$1 kind path
  [ -f "$dest/$RECORD" ] || return 0
  while read -r kind path; do
    [ "$kind" = d ] && echo "$path"
  done < "$dest/$RECORD"
  return 0
}

# removes the folders (relative to dest, deepest first) that are empty
remove_dirs() {
  local dest=$1; shift
  local d
  for d in $(printf '%s\n' "$@" | awk '{ print length($0) " " $0 }' | sort -rn | cut -d' ' -f2-); do
    [ -d "$dest/$d" ] && rmdir "$dest/$d" 2>/dev/null || true
  done
}

do_install() {
  local build=$1 dest=$2
  for f in "$build/cinterp" "$build/libcinterp.so" "$build/lua/cinterp/cdef.lua"; do
    [ -f "$f" ] || { echo "install.sh: $f is missing: run make first" >&2; exit 1; }
  done
  mkdir -p "$dest"
  local made old_dirs
  old_dirs=$(recorded_dirs "$dest")
  remove_recorded "$dest"
  made=$old_dirs
  local files=()   # "mode source destination"
  files+=("755 $build/cinterp bin/cinterp" "755 $build/libcinterp.so lib/libcinterp.so"
          "644 core/cinterp.h include/cinterp.h" "644 README.md share/doc/cinterp/README.md"
          "644 $build/lua/cinterp/cdef.lua share/lua/5.1/cinterp/cdef.lua"
          "644 bindings/cinterp/ffi.lua share/lua/5.1/cinterp/ffi.lua")
  for f in lua/cinterp/*.lua; do files+=("644 $f share/lua/5.1/cinterp/$(basename "$f")"); done
  local list=() entry mode src dst dir
  for entry in "${files[@]}"; do
    read -r mode src dst <<< "$entry"
    dir=$(dirname "$dst")
    # the folders this install makes: every missing one from dir up to dest
    local up=$dir
    while [ "$up" != "." ] && [ ! -d "$dest/$up" ]; do
      made="$made"$'\n'"$up"
      up=$(dirname "$up")
    done
    mkdir -p "$dest/$dir"
    install -m "$mode" "$src" "$dest/$dst"
    list+=("f $dst")
  done
  # the record's own folder
  local up=$(dirname "$RECORD")
  while [ "$up" != "." ] && [ ! -d "$dest/$up" ]; do
    made="$made"$'\n'"$up"
    up=$(dirname "$up")
  done
  mkdir -p "$dest/$(dirname "$RECORD")"
  {
    printf '%s\n' "${list[@]}"
    printf '%s\n' "$made" | awk 'NF && !seen[$0]++ { print "d " $0 }'
  } > "$dest/$RECORD.tmp"
  mv "$dest/$RECORD.tmp" "$dest/$RECORD"
  echo "installed cinterp into $dest (${#list[@]} files; the record: $dest/$RECORD)"
}

do_uninstall() {
  local dest=$1
  if [ ! -f "$dest/$RECORD" ]; then
    echo "install.sh: no cinterp installation at $dest (no $RECORD); nothing removed" >&2
    exit 1
  fi
  local dirs n
  dirs=$(recorded_dirs "$dest")
  n=$(grep -c '^f ' "$dest/$RECORD" || true)
  remove_recorded "$dest"
  # shellcheck disable=SC2086
  remove_dirs "$dest" $dirs
  echo "removed cinterp from $dest ($n files)"
}

case "${1:-}" in
  install) [ $# -eq 3 ] || usage; do_install "$2" "$3" ;;
  uninstall) [ $# -eq 2 ] || usage; do_uninstall "$2" ;;
  *) usage ;;
esac
