#!/usr/bin/env bash
# Every test tier on a fresh Debian 12 machine, as root: install what is missing, build, run
# format check, unit, integration (real jails on this kernel's cgroups), daemon (a real ccjaild
# on a temporary socket), security (the attack battery against real jails), sanitize (unit and
# integration tests built with ASan+UBSan), analyze (clang-tidy and cppcheck over supervisor/,
# any finding fails), fuzz (libFuzzer targets of every parser, about a minute each, ASan+UBSan),
# node (the Node client against a real ccjaild), browser (the web-terminal example in headless
# Chromium), e2e (the real Claude Code CLI in jails, against a fake Anthropic API through the
# gateway), the cgroup v2 VM tier and the full-system tier (the .deb installed in Debian 12 with
# systemd on cgroup v2).
# Usage: scripts/test.sh [--skip-vm]
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
require_root

skip_vm=0
[ "${1:-}" = "--skip-vm" ] && skip_vm=1

ensure_packages "${CCJAIL_BUILD_PACKAGES[@]}" "${CCJAIL_TEST_PACKAGES[@]}" \
  "${CCJAIL_ANALYSIS_PACKAGES[@]}"
build_ccjail

passed=0
failed=0
skipped=0
failures=()

# Runs one tier; counts its tests from the runner's own summary line.
tier() {
  local name=$1; shift
  log "tier: $name"
  local out rc=0
  out=$(mktemp)
  "$@" 2>&1 | tee "$out" || rc=$?
  local p f s
  p=$(sed -nE 's/.*[^0-9]([0-9]+) passed, ([0-9]+) failed.*/\1/p' "$out" | tail -1)
  f=$(sed -nE 's/.*[^0-9]([0-9]+) passed, ([0-9]+) failed.*/\2/p' "$out" | tail -1)
  s=$(sed -nE 's/.*[^0-9]([0-9]+) passed, ([0-9]+) failed, ([0-9]+) skipped.*/\3/p' "$out" | tail -1)
  if [ -z "$p" ]; then
    # ctest: "N% tests passed, F tests failed out of T", skipped tests listed as "(Skipped)".
    local total
    total=$(sed -nE 's/.*tests passed, ([0-9]+) tests failed out of ([0-9]+).*/\2/p' "$out" | tail -1)
    f=$(sed -nE 's/.*tests passed, ([0-9]+) tests failed out of ([0-9]+).*/\1/p' "$out" | tail -1)
    s=$(grep -c '(Skipped)' "$out" || true)
    p=$(( ${total:-0} - ${f:-0} - ${s:-0} ))
  fi
  rm -f "$out"
  passed=$((passed + ${p:-0}))
  failed=$((failed + ${f:-0}))
  skipped=$((skipped + ${s:-0}))
  if [ "$rc" -eq 77 ]; then
    echo "$name: skipped (the tier printed why)"
    return 0
  fi
  if [ "$rc" -ne 0 ]; then
    failures+=("$name")
    [ "${f:-0}" -eq 0 ] && failed=$((failed + 1))
  fi
  echo "$name: ${p:-0} passed, ${f:-0} failed, ${s:-0} skipped"
}

format_check() {
  local files bad=0
  mapfile -t files < <(cd "$CCJAIL_ROOT" && git ls-files '*.cpp' '*.hpp')
  local f
  for f in "${files[@]}"; do
    if ! clang-format --dry-run --Werror "$CCJAIL_ROOT/$f" >/dev/null 2>&1; then
      echo "not clang-formatted: $f"
      bad=$((bad + 1))
    fi
  done
  echo "format: $(( ${#files[@]} - bad )) passed, $bad failed"
  [ "$bad" -eq 0 ]
}

ctest_tier() {
  # Integration tests run one at a time: each builds real jails and some measure throttling.
  local jobs=1
  [ "$1" = unit ] && jobs=$(nproc)
  (cd "$CCJAIL_BUILD" && ctest --output-on-failure --timeout 300 -j"$jobs" -L "$1")
}

tier format format_check
tier unit ctest_tier unit
tier integration ctest_tier integration
tier daemon ctest_tier daemon
tier security ctest_tier security
tier sanitize bash "$CCJAIL_ROOT/scripts/sanitize.sh" "$CCJAIL_BUILD-asan"
tier analyze bash "$CCJAIL_ROOT/scripts/analyze.sh" "$CCJAIL_BUILD"
tier fuzz bash "$CCJAIL_ROOT/tests/fuzz/run.sh" "$CCJAIL_BUILD"
tier node bash "$CCJAIL_ROOT/clients/node/test/run.sh" "$CCJAIL_BUILD"
tier browser bash "$CCJAIL_ROOT/tests/browser/run.sh" "$CCJAIL_BUILD"
tier e2e bash "$CCJAIL_ROOT/tests/e2e/run.sh" "$CCJAIL_BUILD"
# The full-system tier installs the package built from this build (cpack; the test targets have
# no install rules) into Debian 12 with systemd as pid 1 on cgroup v2.
system_tier() {
  bash "$CCJAIL_ROOT/scripts/build-deb.sh" "$CCJAIL_BUILD" >/dev/null
  bash "$CCJAIL_ROOT/tests/system/run.sh" "$CCJAIL_BUILD"
}

if [ "$skip_vm" -eq 0 ]; then
  tier vm-cgroup-v2 bash "$CCJAIL_ROOT/tests/vm/run.sh" "$CCJAIL_BUILD"
  tier system system_tier
else
  echo "vm-cgroup-v2, system: skipped (--skip-vm given)"
fi

log "summary"
if [ ${#failures[@]} -gt 0 ]; then
  echo "failed tiers: ${failures[*]}"
fi
echo "total: $passed passed, $failed failed, $skipped skipped"
[ ${#failures[@]} -eq 0 ]
