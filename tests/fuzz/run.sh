#!/usr/bin/env bash
# The fuzz tier: builds the libFuzzer targets of tests/fuzz with clang (ASan + UBSan) in their
# own build directory and runs each for CCJAIL_FUZZ_SECONDS (default 60). See docs/fuzzing.md.
#
# Usage: tests/fuzz/run.sh [MAIN-BUILD-DIR]
# The fuzz build goes to MAIN-BUILD-DIR-fuzz (default: $CCJAIL_BUILD-fuzz, next to the main
# build). Each target runs on a copy of its checked-in seeds inside that directory, so the clone
# is only read; inputs libFuzzer finds stay in the copy, crashes in fuzz-artifacts/.
source "$(dirname "${BASH_SOURCE[0]}")/../../scripts/lib.sh"

fuzz_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
main_build=${1:-$CCJAIL_BUILD}
build=${main_build%/}-fuzz
seconds=${CCJAIL_FUZZ_SECONDS:-60}
targets=(fuzz_frame_decoder fuzz_spawn_request fuzz_profile_loader fuzz_proxy_request)

started=$SECONDS
log "fuzz: building the libFuzzer targets (clang, ASan+UBSan) in $build"
if ! CC=clang CXX=clang++ cmake -S "$CCJAIL_ROOT" -B "$build" -G "Unix Makefiles" \
    -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCCJAIL_FUZZ=ON -DCCJAIL_BUILD_TESTS=ON >/dev/null ||
  ! cmake --build "$build" -j"$(nproc)" --target ccjail_fuzz; then
  echo "fuzz: the build failed"
  echo "fuzz: 0 passed, ${#targets[@]} failed, 0 skipped"
  exit 1
fi
echo "fuzz: built in $((SECONDS - started)) s"

# One value of libFuzzer's -print_final_stats block, e.g. number_of_executed_units.
final_stat() {
  sed -nE "s/^stat::$1: *([0-9]+).*/\1/p" "$2" | tail -1
}

# The input that made a target fail, as a path and as base64 to paste into a file.
report_failure() {
  local target=$1 logfile=$2
  echo "fuzz: $target: FAILED; the end of its log ($logfile):"
  { grep -vE '^(#[0-9]+|INFO:|MERGE|\s*$)' "$logfile" || true; } | tail -n 60 | sed 's/^/    /'
  local input
  input=$(sed -nE 's/.*Test unit written to (.*)$/\1/p' "$logfile" | tail -1)
  if [ -n "$input" ] && [ -f "$input" ]; then
    echo "fuzz: $target: failing input: $input ($(stat -c %s "$input") bytes), base64:"
    base64 -w 76 "$input" | sed 's/^/    /'
    echo "fuzz: reproduce: $build/tests/fuzz/$target $input"
  fi
}

passed=0
failed=0
for target in "${targets[@]}"; do
  binary=$build/tests/fuzz/$target
  seeds=$fuzz_dir/corpus/$target
  work=$build/fuzz-corpus/$target
  artifacts=$build/fuzz-artifacts/$target
  logfile=$build/fuzz-logs/$target.log
  mkdir -p "$work" "$artifacts" "$(dirname "$logfile")"
  cp -r "$seeds/." "$work/"
  options=(-max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1
           -artifact_prefix="$artifacts/")
  [ -f "$fuzz_dir/$target.dict" ] && options+=(-dict="$fuzz_dir/$target.dict")
  target_started=$SECONDS
  rc=0
  # New inputs are written to the first corpus directory only: the copy, never the clone.
  "$binary" "${options[@]}" "$work" "$seeds" >"$logfile" 2>&1 || rc=$?
  elapsed=$((SECONDS - target_started))
  execs=$(final_stat number_of_executed_units "$logfile")
  entries=$(find "$work" -type f | wc -l)
  echo "fuzz: $target: ${execs:-0} execs in $elapsed s, $entries corpus entries"
  if [ "$rc" -eq 0 ]; then
    passed=$((passed + 1))
  else
    failed=$((failed + 1))
    report_failure "$target" "$logfile"
  fi
done

echo "fuzz: total time $((SECONDS - started)) s (build included)"
echo "fuzz: $passed passed, $failed failed, 0 skipped"
[ "$failed" -eq 0 ]
