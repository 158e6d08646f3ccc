#!/usr/bin/env bash
# Spawn-to-exit latency of /bin/true: a plain fork/exec, bubblewrap with the jail ccjail builds
# for the same profile (with and without ccjail's seccomp filter), and ccjail-exec. The runs are
# interleaved round-robin, so a noisy machine slows every contender alike. See
# docs/performance.md.
#
# Usage (as root): scripts/bench.sh [--runs N] [--warmup N] [--profile NAME]
#                  [--build-dir DIR] [--breakdown-runs N] [--no-breakdown] [--update-docs] [-v]
#   --build-dir DIR   use the ccjail-exec of an existing build (default: configure and build
#                     build-bench/ at -O2, RelWithDebInfo)
#   --update-docs     rewrite the results section of docs/performance.md (nothing else in the
#                     clone is written unless this is given, the build directory aside)
#   -v, --verbose     show what runs inside each jail (id, hostname, ls /, Seccomp) and the
#                     bwrap command line
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

runs=200
warmup=10
profile=minimal
build_dir=
breakdown_runs=20
breakdown=1
update_docs=0
verbose=0

usage() { sed -n '2,/^$/s/^# \{0,1\}//p' "$0" | sed '/^$/d' >&2; exit 2; }

while [ $# -gt 0 ]; do
  case $1 in
    --runs) runs=$2; shift 2 ;;
    --warmup) warmup=$2; shift 2 ;;
    --profile) profile=$2; shift 2 ;;
    --build-dir) build_dir=$2; shift 2 ;;
    --breakdown-runs) breakdown_runs=$2; shift 2 ;;
    --no-breakdown) breakdown=0; shift ;;
    --update-docs) update_docs=1; shift ;;
    -v|--verbose) verbose=1; shift ;;
    -h|--help) usage ;;
    *) echo "bench.sh: unknown argument $1" >&2; usage ;;
  esac
done

require_root
ensure_packages bubblewrap build-essential pkg-config
[ "$breakdown" = 1 ] && ensure_packages strace

if [ -z "$build_dir" ]; then
  ensure_packages "${CCJAIL_BUILD_PACKAGES[@]}"
  build_dir=$CCJAIL_ROOT/build-bench
  # RelWithDebInfo is -O2, the level a distribution package is built at.
  log "building ccjail-exec (RelWithDebInfo) in $build_dir"
  cmake -S "$CCJAIL_ROOT" -B "$build_dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
  cmake --build "$build_dir" -j"$(nproc)" --target ccjail-exec >/dev/null
fi
build_dir=$(realpath "$build_dir")
ccjail_exec=$build_dir/supervisor/ccjail-exec
core_lib=$build_dir/supervisor/libccjail_core.a
for f in "$ccjail_exec" "$core_lib"; do
  [ -e "$f" ] || { echo "bench.sh: $f is missing; build the ccjail-exec target" >&2; exit 1; }
done
build_type=$(sed -n 's/^CMAKE_BUILD_TYPE:[A-Z]*=//p' "$build_dir/CMakeCache.txt" 2>/dev/null || true)

T=$(mktemp -d /tmp/ccjail-bench.XXXXXX)
cleanup() {
  # Workspaces may hold files owned by the jail's uid; nothing in $T is mounted.
  rm -rf "$T"
}
trap cleanup EXIT

# --- helpers -------------------------------------------------------------------------------
log "building the timing driver and the bwrap peer"
g++ -std=c++20 -O2 -Wall -Wextra -Werror -o "$T/spawn_timer" \
  "$CCJAIL_ROOT/scripts/bench/spawn_timer.cpp"
# The peer links the engine's own profile loader and seccomp compiler, so bwrap gets the same
# binds and the very same BPF program.
read -ra pkg_libs <<< "$(pkg-config --libs libseccomp libcap-ng)"
g++ -std=c++20 -O2 -Wall -Wextra -Werror -I"$CCJAIL_ROOT/supervisor" -o "$T/bwrap_peer" \
  "$CCJAIL_ROOT/scripts/bench/bwrap_peer.cpp" "$core_lib" "${pkg_libs[@]}" -lspdlog -lfmt -lcrypto

mkdir -p "$T/ws/default" "$T/state" "$T/homes" "$T/peer"
"$T/bwrap_peer" "$profile" "$CCJAIL_ROOT/profiles" "$T/ws/default" "$T/peer"
mapfile -t bwrap_args < "$T/peer/bwrap.args"

bwrap_bin=$(command -v bwrap)
true_bin=/bin/true
plain=("$true_bin")
bwrap=("$bwrap_bin" "${bwrap_args[@]}" "$true_bin")
bwrap_seccomp=("3<$T/peer/seccomp.bpf" "$bwrap_bin" "${bwrap_args[@]}" --seccomp 3 "$true_bin")
ccjail=("$ccjail_exec" --profile "$profile" --profiles-dir "$CCJAIL_ROOT/profiles"
        --workspace-root "$T/ws" --workspace "$T/ws/default" --state-dir "$T/state" --homes-root "$T/homes" -- "$true_bin")

# --- the jails work and are what they claim --------------------------------------------------
probe='id; hostname; ls /; grep -E "^(Seccomp|NoNewPrivs|CapEff):" /proc/self/status'
check_jail() {
  local name=$1; shift
  local out
  if ! out=$("$@" /bin/sh -c "$probe" 2>&1); then
    echo "bench.sh: $name does not work:" >&2
    echo "$out" >&2
    exit 1
  fi
  if [ "$verbose" = 1 ]; then
    printf '\n-- inside %s:\n%s\n' "$name" "$out" >&2
  fi
}
log "checking that every jail runs"
check_jail bwrap "${bwrap[@]:0:${#bwrap[@]}-1}"
check_jail "bwrap+seccomp" "$bwrap_bin" "${bwrap_args[@]}" --seccomp 3 3<"$T/peer/seccomp.bpf"
check_jail ccjail-exec "${ccjail[@]:0:${#ccjail[@]}-1}"
if [ "$verbose" = 1 ]; then
  printf '\n-- bwrap command line:\n%s\n' "${bwrap[*]}" >&2
fi

# --- the machine -----------------------------------------------------------------------------
cgroup_kind() {
  case $(stat -fc %T /sys/fs/cgroup) in
    cgroup2fs) echo "v2 (unified)" ;;
    tmpfs) if [ -d /sys/fs/cgroup/unified ]; then echo "v1 (hybrid)"; else echo "v1"; fi ;;
    *) echo unknown ;;
  esac
}
machine() {
  local cpu
  cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)
  echo "- date: $(date -u +%Y-%m-%dT%H:%MZ)"
  echo "- kernel: $(uname -r), cgroup $(cgroup_kind), $(nproc) CPUs ($cpu)"
  echo "- load average before the runs: $(cut -d' ' -f1-3 /proc/loadavg)"
  echo "- bubblewrap $("$bwrap_bin" --version | awk '{print $2}'), ccjail-exec build: ${build_type:-unknown}"
  echo "- $runs runs per contender after $warmup warm-up rounds, interleaved round-robin"
}

# --- the benchmark ---------------------------------------------------------------------------
log "running: $runs rounds of 4 contenders"
machine > "$T/machine.md"
"$T/spawn_timer" --runs "$runs" --warmup "$warmup" \
  --ratio ccjail-exec/bwrap --ratio ccjail-exec/bwrap+seccomp --ratio bwrap/plain \
  --ratio ccjail-exec/plain -- \
  plain "${plain[@]}" ::: bwrap "${bwrap[@]}" ::: bwrap+seccomp "${bwrap_seccomp[@]}" ::: \
  ccjail-exec "${ccjail[@]}" > "$T/table.md"
echo "- load average after the runs: $(cut -d' ' -f1-3 /proc/loadavg)" >> "$T/machine.md"

# Process start alone (exec, dynamic linking, static initializers, option parsing): the part of
# a spawn that does not depend on the jail at all.
log "process start alone: --help of both"
"$T/spawn_timer" --runs "$runs" --warmup "$warmup" --ratio ccjail-exec-help/bwrap-version -- \
  bwrap-version "$bwrap_bin" --version ::: ccjail-exec-help "$ccjail_exec" --help \
  > "$T/startup.md"

# --- where ccjail-exec's time goes -----------------------------------------------------------
if [ "$breakdown" = 0 ]; then
  echo "(breakdown not run: --no-breakdown)" > "$T/breakdown.md"
elif command -v python3 >/dev/null; then
  log "breakdown: $breakdown_runs traced runs of ccjail-exec"
  # Only the marker syscalls stop the tracee (--seccomp-bpf), so tracing costs little outside
  # them; -T gives each one's own duration, -y names the file a write goes to.
  markers=$(python3 "$CCJAIL_ROOT/scripts/bench/strace_phases.py" --markers)
  for i in $(seq 1 "$breakdown_runs"); do
    strace -f -y --seccomp-bpf -qq -ttt -T -o "$T/trace.$i" -e trace="$markers" "${ccjail[@]}"
  done
  python3 "$CCJAIL_ROOT/scripts/bench/strace_phases.py" "$T"/trace.* > "$T/breakdown.md"
else
  echo "(breakdown not run: it needs python3)" > "$T/breakdown.md"
fi

report() {
  echo "### Machine and table"
  echo
  cat "$T/machine.md"
  echo
  cat "$T/table.md"
  echo
  echo "Process start alone (\`bwrap --version\`, \`ccjail-exec --help\`), same method:"
  echo
  cat "$T/startup.md"
  echo
  echo "### Where ccjail-exec's time goes"
  echo
  cat "$T/breakdown.md"
}
echo
report

if [ "$update_docs" = 1 ]; then
  doc=$CCJAIL_ROOT/docs/performance.md
  begin='<!-- bench:begin (scripts/bench.sh --update-docs rewrites this section) -->'
  end='<!-- bench:end -->'
  if ! grep -qF "$begin" "$doc" || ! grep -qF "$end" "$doc"; then
    echo "bench.sh: $doc lacks the bench markers" >&2
    exit 1
  fi
  report > "$T/section.md"
  awk -v begin="$begin" -v end="$end" -v section="$T/section.md" '
    $0 == begin { print; while ((getline line < section) > 0) print line; skip = 1; next }
    $0 == end { skip = 0 }
    !skip { print }
  ' "$doc" > "$T/performance.md"
  cat "$T/performance.md" > "$doc"
  log "updated $doc"
fi
