#!/usr/bin/env bash
# run.sh: runs the C tests and the busted specs, counts results, and ends with the
# line "N passed, N failed" that CI reads. Exit status is non-zero on any failure.
set -u
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
export LUA_PATH="lua/?.lua;lua/?/init.lua;bindings/?.lua;$BUILD/lua/?.lua;tests/?.lua;;"
export LUA_CPATH="$BUILD/?.so;;"
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-2}
passed=0; failed=0; skipped=0; status=0

# C tests
for t in "$BUILD"/tests/test_*; do
  [ -x "$t" ] || continue
  if "$t" > "$BUILD/tests/$(basename "$t").log" 2>&1; then
    passed=$((passed + 1)); echo "ok - C $(basename "$t")"
  else
    failed=$((failed + 1)); status=1; echo "not ok - C $(basename "$t")"
    cat "$BUILD/tests/$(basename "$t").log"
  fi
done

# busted specs, under our own host (it behaves like luajit) so the embedding is tested too
tap="$BUILD/busted.tap"
busted --lua="$BUILD/cinterp" -o TAP ${BUSTED_ARGS:-} tests/ > "$tap" 2>&1
bstatus=$?
cat "$tap"
p=$(grep -cE '^ok ' "$tap" | tr -d ' ')
s=$(grep -cE '^ok .*# SKIP' "$tap" | tr -d ' ')
f=$(grep -cE '^not ok ' "$tap" | tr -d ' ')
passed=$((passed + p - s)); failed=$((failed + f)); skipped=$((skipped + s))
if [ "$bstatus" -ne 0 ]; then
  status=1
  if [ "$f" -eq 0 ]; then failed=$((failed + 1)); echo "busted exited with status $bstatus"; fi
fi
echo "$passed passed, $failed failed, $skipped skipped"
exit $status
