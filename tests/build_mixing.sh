#!/usr/bin/env bash
# build_mixing.sh: build configurations cannot mix. In one scratch build folder,
# a plain build followed by `make CUDA=1` must give a library compiled with
# CUDA throughout (ci.cuda_available's reason speaks of the GPU, not "built
# without CUDA"), and going back must give the plain library again: the flags
# stamp rebuilds every object when the flags change. Without BUILD, CUDA=1 and
# NATIVE=1 must pick folders of their own. Needs nvcc (.ci/run runs it when
# present); takes a few builds. Ends with "N passed, N failed".
set -u
cd "$(dirname "$0")/.."
DIR=${MIX_BUILD:-build-mix}
passed=0; failed=0
check() { # name, condition result (0 = ok), detail
  if [ "$2" -eq 0 ]; then passed=$((passed + 1)); echo "ok - $1"
  else failed=$((failed + 1)); echo "not ok - $1: $3"; fi
}
reason() { env -u LUA_PATH -u LUA_CPATH "$DIR/cinterp" -e 'local _, why = ci.cuda_available(); print(why)'; }
NO_CUDA="cinterp was built without CUDA (make CUDA=1)"

rm -rf "$DIR"
make --no-print-directory BUILD="$DIR" all > "/tmp/build-mix-$$.log" 2>&1
r=$(reason); [ "$r" = "$NO_CUDA" ]; check "a plain build says it has no CUDA" $? "$r"

make --no-print-directory BUILD="$DIR" CUDA=1 all >> "/tmp/build-mix-$$.log" 2>&1
r=$(reason); [ -n "$r" ] && [ "$r" != "$NO_CUDA" ]
check "make CUDA=1 over it gives a CUDA library (every object rebuilt)" $? "reason: $r"

make --no-print-directory BUILD="$DIR" all >> "/tmp/build-mix-$$.log" 2>&1
r=$(reason); [ "$r" = "$NO_CUDA" ]; check "and make without CUDA over that a plain one again" $? "$r"

out=$(make --no-print-directory -n CUDA=1 all 2>&1)
echo "$out" | grep -q -- "-o build-cuda/libcinterp.so"
check "make CUDA=1 builds into build-cuda/" $? "$(echo "$out" | grep -- '-shared' | head -n 1)"
out=$(make --no-print-directory -n NATIVE=1 all 2>&1)
echo "$out" | grep -q -- "-o build-native/libcinterp.so" && echo "$out" | grep -q -- "-march=native"
check "make NATIVE=1 builds into build-native/ with -march=native" $? "$(echo "$out" | grep -- '-shared' | head -n 1)"

if [ "$failed" -ne 0 ]; then tail -n 30 "/tmp/build-mix-$$.log"; fi
rm -rf "$DIR" "/tmp/build-mix-$$.log"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
