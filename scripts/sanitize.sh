#!/usr/bin/env bash
# The sanitize tier: the unit and integration tests built with ASan+UBSan (CCJAIL_SANITIZE) in a
# build directory of their own, run so that any sanitizer report fails the test that caused it.
# The integration tests need root; as another user they skip, as in the plain build.
# Usage: scripts/sanitize.sh [BUILD-DIR]   (default: $CCJAIL_BUILD-asan)
#
# No TSan run: ccjail has no threads. ccjaild is one asio event loop (c-ares on the loop, not in
# resolver threads), ccjail-exec and ccjail-exec's jail init are single-threaded, and nothing in
# supervisor/ creates a thread (no std::thread, std::async, pthread_create or asio thread pool).
# What is shared concurrently is the output ring between a monitor and the daemon, two
# processes, and TSan only sees the threads of one process: it would report nothing there.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

build=${1:-$CCJAIL_BUILD-asan}

log "sanitizer build (ASan+UBSan) in $build"
# Debug: no _FORTIFY_SOURCE, and the block in CMakeLists.txt adds -O1.
cmake -S "$CCJAIL_ROOT" -B "$build" -DCMAKE_BUILD_TYPE=Debug -DCCJAIL_SANITIZE=ON >/dev/null
cmake --build "$build" -j"$(nproc)" --target ccjail_unit_tests ccjail_integration_tests

# Every report aborts the process with a non-zero status, which fails the test (or, for
# ccjail-exec and the processes it forks, the jail run the test asserts on).
# detect_leaks: LeakSanitizer stops the world with ptrace from a helper thread at exit. That works
# in the test binaries and in ccjail-exec's monitor, which are the only processes of these tiers
# that exit through exit() with ASan still mapped: the jail's own processes leave through _exit()
# or execve() (or are killed), so no leak check runs inside a jail, where seccomp and the dropped
# capabilities would make ptrace fail. So leaks stay on everywhere.
export ASAN_OPTIONS=halt_on_error=1:abort_on_error=0:detect_leaks=1:detect_stack_use_after_return=1:check_initialization_order=1:strict_init_order=1:strict_string_checks=1:print_summary=1
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1:print_summary=1

passed=0
failed=0
skipped=0

# Runs one label; counts its tests from ctest's summary, as scripts/test.sh does.
run_label() {
    local label=$1 jobs=$2 out rc=0
    log "sanitize: ctest -L $label"
    out=$(mktemp)
    (cd "$build" && ctest --output-on-failure --timeout 300 -j"$jobs" -L "$label") 2>&1 |
        tee "$out" || rc=$?
    local total f s
    total=$(sed -nE 's/.*tests passed, ([0-9]+) tests failed out of ([0-9]+).*/\2/p' "$out" | tail -1)
    f=$(sed -nE 's/.*tests passed, ([0-9]+) tests failed out of ([0-9]+).*/\1/p' "$out" | tail -1)
    s=$(grep -c '(Skipped)' "$out" || true)
    rm -f "$out"
    if [ -z "$total" ]; then
        # No summary: ctest itself failed (no tests found, a broken build dir).
        failed=$((failed + 1))
        return 0
    fi
    [ "$rc" -ne 0 ] && [ "${f:-0}" -eq 0 ] && f=1
    passed=$((passed + total - f - s))
    failed=$((failed + f))
    skipped=$((skipped + s))
}

started=$SECONDS
run_label unit "$(nproc)"
# One at a time: each builds real jails and some measure throttling.
run_label integration 1

log "sanitize: done in $((SECONDS - started)) s"
echo "sanitize: $passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
