#!/usr/bin/env bash
# run.sh: what `make fuzz` runs after building fuzz/build/<harness>: for each harness,
# replays every input kept in fuzz/regressions/<harness>/ (past crashes), then fuzzes
# FUZZ_SECONDS seconds (default 60) from the seeds in fuzz/corpus/<harness>/, new
# inputs going to fuzz/build/corpus/<harness>/ and any crash to fuzz/build/<harness>-crash-*.
# One line "ok - fuzz <harness> (N runs)" or "not ok ..." per harness, then "N passed, N failed".
set -u
cd "$(dirname "$0")/.."
secs=${FUZZ_SECONDS:-60}
passed=0; failed=0
for f in fuzz/build/*_fuzz; do
  [ -x "$f" ] || continue
  h=$(basename "$f")
  mkdir -p "fuzz/build/corpus/$h" "fuzz/corpus/$h" "fuzz/regressions/$h"
  log="fuzz/build/$h.log"
  ok=1
  if ! "$f" -runs=0 "fuzz/regressions/$h" > "$log" 2>&1; then ok=0; fi
  if [ $ok -eq 1 ]; then
    "$f" -max_total_time="$secs" -workers=1 -rss_limit_mb=2048 -timeout=20 -print_final_stats=1 \
      -artifact_prefix="fuzz/build/$h-" "fuzz/build/corpus/$h" "fuzz/corpus/$h" >> "$log" 2>&1 || ok=0
  fi
  runs=$(grep -E '^stat::number_of_executed_units' "$log" | tail -n 1 | awk '{print $2}')
  if [ $ok -eq 1 ]; then
    passed=$((passed + 1)); echo "ok - fuzz $h (${runs:-?} runs in $secs s)"
  else
    failed=$((failed + 1)); echo "not ok - fuzz $h"; tail -n 40 "$log"
  fi
done
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
