#!/usr/bin/env bash
# valgrind.sh: runs the C tests and a short Lua workload (tests/valgrind/workload.lua:
# tensors + tape, sparse, CSV, a frame, a network forward/backward, activation
# maximisation) under valgrind memcheck. Fails on any memory error or on memory
# definitely lost; "possibly lost" and "still reachable" blocks (LuaJIT's arena,
# OpenMP and OpenBLAS thread pools kept until exit) are not counted. Suppressions for
# LuaJIT's own allocator tricks are in tests/valgrind/luajit.supp.
# It builds its own copy into $VG_BUILD (default build-valgrind) with -O1 and no
# -march=native: valgrind cannot decode the AVX-512 instructions that flag may emit.
# Usage: bash tests/valgrind.sh   (ends with "N passed, N failed")
set -u
cd "$(dirname "$0")/.."
BUILD=${VG_BUILD:-build-valgrind}
tests=$(ls tests/c/test_*.c | sed "s#^tests/c/\(.*\)\.c\$#$BUILD/tests/\1#")
if ! make --no-print-directory BUILD="$BUILD" OPT="-O1" all $tests > "/tmp/valgrind-build-$$.log" 2>&1; then
  cat "/tmp/valgrind-build-$$.log"; rm -f "/tmp/valgrind-build-$$.log"
  echo "0 passed, 1 failed"; exit 1
fi
rm -f "/tmp/valgrind-build-$$.log"
export LUA_PATH="lua/?.lua;lua/?/init.lua;bindings/?.lua;$BUILD/lua/?.lua;tests/?.lua;;"
export LUA_CPATH="$BUILD/?.so;;"
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-2}
VG="valgrind --quiet --leak-check=full --show-leak-kinds=definite --errors-for-leak-kinds=definite
    --error-exitcode=1 --suppressions=tests/valgrind/luajit.supp --num-callers=30"
passed=0; failed=0
run() { # name, command...
  local name=$1; shift
  local log="$BUILD/valgrind-$name.log"
  if $VG "$@" > "$log" 2>&1; then
    passed=$((passed + 1)); echo "ok - valgrind $name"
  else
    failed=$((failed + 1)); echo "not ok - valgrind $name"; tail -n 60 "$log"
  fi
}
for t in "$BUILD"/tests/test_*; do
  [ -x "$t" ] || continue
  run "$(basename "$t")" "$t"
done
run workload "$BUILD/cinterp" tests/valgrind/workload.lua
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
