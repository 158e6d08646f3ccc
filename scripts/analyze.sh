#!/usr/bin/env bash
# The analyze tier: clang-tidy (the checks in .clang-tidy) and cppcheck (the suppressions in
# .cppcheck-suppressions) over every product source file, supervisor/**/*.cpp, with the compile
# commands of a configured build. Any finding of either tool fails the tier; each tool counts as
# one test in the summary line.
# Usage: scripts/analyze.sh [BUILD-DIR]   (default: $CCJAIL_BUILD; only its
# compile_commands.json is read; scratch files go to $CCJAIL_LINT_DIR, default BUILD-DIR-lint)
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

build=$(realpath -m "${1:-$CCJAIL_BUILD}")
scratch=$(realpath -m "${CCJAIL_LINT_DIR:-$build-lint}")
jobs=$(nproc)
tidy=${CLANG_TIDY:-clang-tidy-14}

if [ ! -f "$build/compile_commands.json" ]; then
    log "configuring $build for its compile_commands.json"
    cmake -S "$CCJAIL_ROOT" -B "$build" >/dev/null
fi
mkdir -p "$scratch"

mapfile -t sources < <(cd "$CCJAIL_ROOT" && find supervisor -name '*.cpp' | sort)
# A file the build does not know would be checked with guessed flags, or not at all: a new file
# needs the build reconfigured first (its sources are globbed at configure time).
missing=0
for f in "${sources[@]}"; do
    if ! grep -q "\"file\": \"$CCJAIL_ROOT/$f\"" "$build/compile_commands.json"; then
        echo "analyze: $f is not in $build/compile_commands.json: re-run cmake on $build" >&2
        missing=$((missing + 1))
    fi
done

passed=0
failed=0
started=$SECONDS

# clang-tidy: one process per file, two at a time, each file's output in its own log so that
# the diagnostics of parallel runs do not interleave. A header's findings are reported once per
# file that includes it: the summary counts distinct ones.
log "analyze: clang-tidy over ${#sources[@]} files ($tidy, -j$jobs)"
tidy_logs=$scratch/clang-tidy
rm -rf "$tidy_logs"
mkdir -p "$tidy_logs"
tidy_started=$SECONDS
export build tidy tidy_logs CCJAIL_ROOT
printf '%s\n' "${sources[@]}" | xargs -P"$jobs" -I{} bash -c \
    'f={}; "$tidy" -p "$build" --quiet "$CCJAIL_ROOT/$f" >"$tidy_logs/${f//\//_}.log" 2>&1 ||
     echo "clang-tidy exited with $? on $f" >>"$tidy_logs/${f//\//_}.log"'
# Only findings located in the project count. The analyzer's path reports can end inside a
# third-party header: clang 14 does not model C++20 coroutines, and reports asio's awaitable
# frame (boost/asio/impl/awaitable.hpp) as uninitialized on every co_await path of the egress
# files. Those are listed, not counted.
ours="^$CCJAIL_ROOT/supervisor/[^:]*:[0-9]+:[0-9]+: (warning|error): |^clang-tidy exited|^Error while"
tidy_findings=$(cat "$tidy_logs"/*.log | grep -E "$ours" | sort -u || true)
tidy_count=$(printf '%s' "$tidy_findings" | grep -c . || true)
elsewhere=$(cat "$tidy_logs"/*.log | grep -E '^/.*:[0-9]+:[0-9]+: (warning|error): ' |
    grep -vE "$ours" | sort -u || true)
if [ -n "$elsewhere" ]; then
    echo "analyze: clang-tidy: not counted, located outside supervisor/:"
    printf '%s\n' "$elsewhere"
fi
if [ "$tidy_count" -eq 0 ]; then
    passed=$((passed + 1))
else
    # The full diagnostics (with source lines and notes) of every file that has findings.
    grep -lE "$ours" "$tidy_logs"/*.log | xargs cat
    printf 'analyze: clang-tidy findings:\n%s\n' "$tidy_findings"
    failed=$((failed + 1))
fi
echo "analyze: clang-tidy: $tidy_count findings in $((SECONDS - tidy_started)) s"

# cppcheck: the same compile commands, restricted to supervisor/; --cppcheck-build-dir keeps
# results of unchanged files between runs.
log "analyze: cppcheck over supervisor/ ($(cppcheck --version), -j$jobs)"
cppcheck_started=$SECONDS
mkdir -p "$scratch/cppcheck"
cppcheck_rc=0
# The project file's path is absolute, so are the file names --file-filter matches. cppcheck
# does not know the compiler's predefined target macros, which syscall_tables.cpp checks.
(cppcheck --project="$build/compile_commands.json" --file-filter="$CCJAIL_ROOT/supervisor/*" \
        -D__x86_64__ -D__linux__ --enable=warning,performance,portability --inline-suppr \
        --suppressions-list="$CCJAIL_ROOT/.cppcheck-suppressions" --library=boost \
        --cppcheck-build-dir="$scratch/cppcheck" -j"$jobs" --quiet --error-exitcode=1 \
        --template='{file}:{line}:{column}: {severity}: {message} [{id}]' \
        >"$scratch/cppcheck.log" 2>&1) || cppcheck_rc=$?
cppcheck_count=$(grep -cE '^[^ ]+:[0-9]+:[0-9]+: [a-z]+: ' "$scratch/cppcheck.log" || true)
if [ "$cppcheck_rc" -eq 0 ] && [ "$cppcheck_count" -eq 0 ]; then
    passed=$((passed + 1))
else
    cat "$scratch/cppcheck.log"
    failed=$((failed + 1))
fi
echo "analyze: cppcheck: $cppcheck_count findings in $((SECONDS - cppcheck_started)) s"

if [ "$missing" -gt 0 ]; then
    echo "analyze: $missing source files have no compile command"
    failed=$((failed + 1))
fi
log "analyze: done in $((SECONDS - started)) s"
echo "analyze: $passed passed, $failed failed, 0 skipped"
[ "$failed" -eq 0 ]
