#!/usr/bin/env bash
# Spawn-to-exit latency of /bin/true: a plain fork/exec, bubblewrap with the jail ccjail builds
# for the same profile (with and without ccjail's seccomp filter), and ccjail-exec. The runs are
# interleaved round-robin, so a noisy machine slows every contender alike. See
# docs/performance.md. Then the daemon: spawn-to-exit through ccjaild beside ccjail-exec and
# bwrap, output relay throughput beside a plain pipe, a download through the egress proxy beside
# the same download on the host, and ccjaild's memory with N idle sessions.
#
# Usage (as root): scripts/bench.sh [--runs N] [--warmup N] [--profile NAME]
#                  [--build-dir DIR] [--breakdown-runs N] [--no-breakdown] [--update-docs] [-v]
#                  [--no-daemon | --daemon-only] [--sessions N] [--relay-bytes SIZE]
#                  [--relay-rounds N] [--egress-bytes SIZE]
#   --build-dir DIR   use the binaries of an existing build (default: configure and build
#                     build-bench/ at -O2, RelWithDebInfo)
#   --update-docs     rewrite the results sections of docs/performance.md that ran (nothing else
#                     in the clone is written unless this is given, the build directory aside)
#   --no-daemon       only the ccjail-exec benchmark; --daemon-only: only the daemon's
#   --sessions N      idle sessions for the daemon memory figure (default 500)
#   --relay-bytes SIZE  bytes per relay run, like 1G or 256M (default 1G; pty mode: a quarter)
#   --relay-rounds N  interleaved rounds of the relay contenders (default 5)
#   --egress-bytes SIZE  bytes per egress download (default 512M), as many rounds as the relay
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
run_spawn=1
run_daemon=1
sessions=500
relay_bytes=1G
relay_rounds=5
egress_bytes=512M

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
    --no-daemon) run_daemon=0; shift ;;
    --daemon-only) run_spawn=0; shift ;;
    --sessions) sessions=$2; shift 2 ;;
    --relay-bytes) relay_bytes=$2; shift 2 ;;
    --relay-rounds) relay_rounds=$2; shift 2 ;;
    --egress-bytes) egress_bytes=$2; shift 2 ;;
    -h|--help) usage ;;
    *) echo "bench.sh: unknown argument $1" >&2; usage ;;
  esac
done

require_root
ensure_packages bubblewrap build-essential pkg-config
[ "$breakdown" = 1 ] && [ "$run_spawn" = 1 ] && ensure_packages strace
[ "$run_daemon" = 1 ] && ensure_packages "${CCJAIL_BUILD_PACKAGES[@]}" curl busybox-static
targets=(ccjail-exec)
[ "$run_daemon" = 1 ] && targets+=(ccjaild ccjailctl)

if [ -z "$build_dir" ]; then
  ensure_packages "${CCJAIL_BUILD_PACKAGES[@]}"
  build_dir=$CCJAIL_ROOT/build-bench
  # RelWithDebInfo is -O2, the level a distribution package is built at.
  log "building ${targets[*]} (RelWithDebInfo) in $build_dir"
  cmake -S "$CCJAIL_ROOT" -B "$build_dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
  cmake --build "$build_dir" -j"$(nproc)" --target "${targets[@]}" >/dev/null
fi
build_dir=$(realpath "$build_dir")
ccjail_exec=$build_dir/supervisor/ccjail-exec
core_lib=$build_dir/supervisor/libccjail_core.a
ccjaild=$build_dir/supervisor/ccjaild
ccjailctl=$build_dir/supervisor/ccjailctl
server_lib=$build_dir/supervisor/libccjail_server.a
needed=("$ccjail_exec" "$core_lib")
[ "$run_daemon" = 1 ] && needed+=("$ccjaild" "$server_lib")
for f in "${needed[@]}"; do
  [ -e "$f" ] || { echo "bench.sh: $f is missing; build the ${targets[*]} targets" >&2; exit 1; }
done
build_type=$(sed -n 's/^CMAKE_BUILD_TYPE:[A-Z]*=//p' "$build_dir/CMakeCache.txt" 2>/dev/null || true)

T=$(mktemp -d /tmp/ccjail-bench.XXXXXX)
daemon_pid=
cleanup() {
  if [ -n "$daemon_pid" ] && kill -0 "$daemon_pid" 2>/dev/null; then
    # SIGTERM: the daemon ends its sessions within shutdown_grace_ms, then exits.
    kill -TERM "$daemon_pid" 2>/dev/null || true
    wait "$daemon_pid" 2>/dev/null || true
  fi
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
if [ "$run_daemon" = 1 ]; then
  # The daemon's client side: the project's client library and frame codec from this build.
  log "building the daemon benchmark client"
  g++ -std=c++20 -O2 -Wall -Wextra -Werror -DSPDLOG_FMT_EXTERNAL -DFMT_HEADER_ONLY \
    -I"$CCJAIL_ROOT/supervisor" -o "$T/daemon_bench" "$CCJAIL_ROOT/scripts/bench/daemon_bench.cpp" \
    "$server_lib" "$core_lib" -lboost_filesystem "${pkg_libs[@]}" -lcrypto -lpthread
fi

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
spawn_benchmark() {
  log "running: $runs rounds of 4 contenders"
  machine > "$T/machine.md"
  "$T/spawn_timer" --runs "$runs" --warmup "$warmup" \
    --ratio ccjail-exec/bwrap --ratio ccjail-exec/bwrap+seccomp --ratio bwrap/plain \
    --ratio ccjail-exec/plain -- \
    plain "${plain[@]}" ::: bwrap "${bwrap[@]}" ::: bwrap+seccomp "${bwrap_seccomp[@]}" ::: \
    ccjail-exec "${ccjail[@]}" > "$T/table.md"
  echo "- load average after the runs: $(cut -d' ' -f1-3 /proc/loadavg)" >> "$T/machine.md"

  # Process start alone (exec, dynamic linking, static initializers, option parsing): the part
  # of a spawn that does not depend on the jail at all.
  log "process start alone: --help of both"
  "$T/spawn_timer" --runs "$runs" --warmup "$warmup" --ratio ccjail-exec-help/bwrap-version -- \
    bwrap-version "$bwrap_bin" --version ::: ccjail-exec-help "$ccjail_exec" --help \
    > "$T/startup.md"

  # --- where ccjail-exec's time goes ---------------------------------------------------------
  if [ "$breakdown" = 0 ]; then
    echo "(breakdown not run: --no-breakdown)" > "$T/breakdown.md"
  elif command -v python3 >/dev/null; then
    log "breakdown: $breakdown_runs traced runs of ccjail-exec"
    # Only the marker syscalls stop the tracee (--seccomp-bpf), so tracing costs little outside
    # them; -T gives each one's own duration, -y names the file a write goes to.
    local markers i
    markers=$(python3 "$CCJAIL_ROOT/scripts/bench/strace_phases.py" --markers)
    for i in $(seq 1 "$breakdown_runs"); do
      strace -f -y --seccomp-bpf -qq -ttt -T -o "$T/trace.$i" -e trace="$markers" "${ccjail[@]}"
    done
    python3 "$CCJAIL_ROOT/scripts/bench/strace_phases.py" "$T"/trace.* > "$T/breakdown.md"
  else
    echo "(breakdown not run: it needs python3)" > "$T/breakdown.md"
  fi
}

spawn_report() {
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

# --- the daemon ------------------------------------------------------------------------------
# A private ccjaild on a socket in $T: the shipped profiles plus scripts/bench/profiles/, limits
# wide enough for the session count, and ended sessions forgotten after 2 s so that the memory
# figure can see them go.
start_daemon() {
  mkdir -p "$T/daemon/profiles" "$T/daemon/state"
  cp "$CCJAIL_ROOT"/profiles/*.json "$CCJAIL_ROOT"/scripts/bench/profiles/*.json "$T/daemon/profiles/"
  local limit=$((sessions + 100))
  cat > "$T/daemon/ccjaild.json" <<JSON
{
  "socket_group": "", "client_groups": [], "admin_groups": [],
  "max_sessions": $limit, "max_sessions_per_uid": $limit, "max_sessions_per_user": $limit,
  "spawn_rate_per_user_per_min": 0, "spawn_burst_per_user": $limit,
  "ended_retention_ms": 2000, "kill_grace_ms": 1000, "shutdown_grace_ms": 5000,
  "log_level": "info"
}
JSON
  socket=$T/daemon/ccjaild.sock
  "$ccjaild" --config "$T/daemon/ccjaild.json" --profiles-dir "$T/daemon/profiles" \
    --state-dir "$T/daemon/state" --socket "$socket" --exec-path "$ccjail_exec" \
    > "$T/daemon/ccjaild.log" 2>&1 &
  daemon_pid=$!
  local i
  for i in $(seq 1 100); do
    [ -S "$socket" ] && return 0
    kill -0 "$daemon_pid" 2>/dev/null || break
    sleep 0.1
  done
  echo "bench.sh: ccjaild did not start; its log:" >&2
  cat "$T/daemon/ccjaild.log" >&2
  exit 1
}

# One file downloaded over HTTP from a loopback server on the host (busybox httpd): by curl on
# the host, and by curl in a jail of network mode proxy through the daemon's CONNECT tunnel.
# Interleaved rounds; the ratio is what the proxy costs a download.
egress_benchmark() {
  local dir=$T/egress bytes port round httpd_pid
  bytes=$(numfmt --from=iec "$egress_bytes")
  log "daemon: egress download, $relay_rounds rounds of $egress_bytes"
  mkdir -p "$dir/www"
  head -c "$bytes" /dev/zero > "$dir/www/blob"
  port=$(( 20000 + RANDOM % 20000 ))
  busybox httpd -f -p "127.0.0.1:$port" -h "$dir/www" &
  httpd_pid=$!
  sleep 0.3
  : > "$T/egress.host"; : > "$T/egress.proxy"
  local get=(curl -sS -o /dev/null -w '%{speed_download}\n')
  for round in $(seq 1 "$relay_rounds"); do
    "${get[@]}" "http://127.0.0.1:$port/blob" >> "$T/egress.host"
    "$ccjailctl" --socket "$socket" run --pipe --profile bench-egress --user bench -- \
      "${get[@]}" --noproxy '' -p -x http://127.0.0.1:3128 "http://localhost:$port/blob" \
      >> "$T/egress.proxy"
  done
  kill "$httpd_pid" 2>/dev/null; wait "$httpd_pid" 2>/dev/null || true
  rm -rf "$dir"
  local host proxy
  host=$(sort -n "$T/egress.host" | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] / 1e6 }')
  proxy=$(sort -n "$T/egress.proxy" | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] / 1e6 }')
  {
    echo "| contender | bytes per run | runs | median MB/s | ÷ host |"
    echo "|---|--:|--:|--:|--:|"
    awk -v h="$host" -v p="$proxy" -v s="$(numfmt --to=iec "$bytes")" -v c="$relay_rounds" 'BEGIN {
      printf "| curl on the host, straight to the server | %s | %d | %d | 1.00 |\n", s, c, h
      printf "| curl in a jail (network proxy), CONNECT through ccjaild | %s | %d | %d | %.2f |\n", s, c, p, p / h
    }'
  } > "$T/daemon-egress.md"
}

# The median of the 4th field (MB/s) of `relay` lines in a file, and the line count.
median_mbps() {
  awk '{print $4}' "$1" | sort -n | awk '{v[NR] = $1} END {
    if (NR == 0) { print "- 0"; exit }
    m = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
    printf "%.0f %d\n", m, NR }'
}

daemon_benchmark() {
  local rss_kib
  log "daemon: starting ccjaild"
  start_daemon
  rss_kib=$(awk '/^VmRSS:/ {print $2}' "/proc/$daemon_pid/status")
  {
    echo "- date: $(date -u +%Y-%m-%dT%H:%MZ)"
    echo "- kernel: $(uname -r), cgroup $(cgroup_kind), $(nproc) CPUs, $(awk '/^MemTotal:/ {printf "%.0f GiB", $2 / 1048576}' /proc/meminfo) RAM"
    echo "- load average before the runs: $(cut -d' ' -f1-3 /proc/loadavg)"
    echo "- ccjaild and ccjail-exec build: ${build_type:-unknown}; ccjaild RSS at start: $((rss_kib / 1024)) MiB"
  } > "$T/daemon-machine.md"

  log "daemon: spawn-to-exit, $runs rounds of 3 contenders"
  "$T/daemon_bench" latency --socket "$socket" --daemon-pid "$daemon_pid" --profile "$profile" \
    --runs "$runs" --warmup "$warmup" --ratio daemon/ccjail-exec --ratio daemon/bwrap \
    --ratio ccjail-exec/bwrap -- \
    bwrap "${bwrap[@]}" ::: ccjail-exec "${ccjail[@]}" > "$T/daemon-latency.md"

  log "daemon: output relay, $relay_rounds rounds of $relay_bytes"
  local bytes pty_bytes round
  bytes=$(numfmt --from=iec "$relay_bytes")
  pty_bytes=$((bytes / 4))
  : > "$T/relay.plain"; : > "$T/relay.plain1m"; : > "$T/relay.lean"; : > "$T/relay.client"
  : > "$T/relay.pty"
  local relay=("$T/daemon_bench" relay --socket "$socket" --profile bench-daemon)
  for round in $(seq 1 "$relay_rounds"); do
    head -c "$bytes" /dev/zero | "$T/daemon_bench" read-stdin >> "$T/relay.plain"
    "${relay[@]}" --bytes "$bytes" --reader lean >> "$T/relay.lean"
    head -c "$bytes" /dev/zero | "$T/daemon_bench" read-stdin --pipe-size 1M >> "$T/relay.plain1m"
    "${relay[@]}" --bytes "$bytes" --reader client >> "$T/relay.client"
    "$T/daemon_bench" relay --socket "$socket" --profile bench-daemon-pty-block \
      --bytes "$pty_bytes" --mode pty --reader lean >> "$T/relay.pty"
  done
  local plain plain1m
  plain=$(median_mbps "$T/relay.plain" | cut -d' ' -f1)
  plain1m=$(median_mbps "$T/relay.plain1m" | cut -d' ' -f1)
  {
    echo "| contender | bytes per run | runs | median MB/s | ÷ plain pipe | ÷ plain pipe, 1 MiB buffer |"
    echo "|---|--:|--:|--:|--:|--:|"
    local name file size median count
    while IFS=';' read -r name file size; do
      read -r median count < <(median_mbps "$T/relay.$file")
      awk -v n="$name" -v s="$size" -v m="$median" -v c="$count" -v p="$plain" -v q="$plain1m" \
        'BEGIN { printf "| %s | %s | %d | %d | %.2f | %.2f |\n", n, s, c, m, m / p, m / q }'
    done <<ROWS
plain pipe: \`head -c N /dev/zero \| daemon_bench read-stdin\`;plain;$(numfmt --to=iec "$bytes")
plain pipe, the reader sets a 1 MiB pipe buffer;plain1m;$(numfmt --to=iec "$bytes")
daemon, pipe mode, lean reader;lean;$(numfmt --to=iec "$bytes")
daemon, pipe mode, \`ccjail::client::Client\` reader;client;$(numfmt --to=iec "$bytes")
daemon, pty mode (\`pty_overflow\` block), lean reader;pty;$(numfmt --to=iec "$pty_bytes")
ROWS
  } > "$T/daemon-relay.md"

  egress_benchmark

  log "daemon: memory with $sessions idle sessions (two cycles), then with their rings written"
  local ring
  ring=$((1024 * 1024))
  "$T/daemon_bench" sessions --socket "$socket" --daemon-pid "$daemon_pid" \
    --profile bench-daemon --count "$sessions" --users 10 --cycles 2 > "$T/daemon-idle.md"
  "$T/daemon_bench" sessions --socket "$socket" --daemon-pid "$daemon_pid" \
    --profile bench-daemon --count "$sessions" --users 10 --cycles 1 --touch "$ring" \
    > "$T/daemon-touched.md"
  echo "- load average after the runs: $(cut -d' ' -f1-3 /proc/loadavg)" >> "$T/daemon-machine.md"
}

daemon_report() {
  echo "#### Daemon: machine"
  echo
  cat "$T/daemon-machine.md"
  echo
  echo "#### Daemon: spawn-to-exit of \`/bin/true\` (profile \`$profile\`)"
  echo
  echo "$runs runs per contender after $warmup warm-up rounds, interleaved round-robin. For"
  echo "\`daemon\`, CPU is ccjaild's own plus the monitors it reaped plus the client's, and the RSS"
  echo "column is ccjaild's VmRSS."
  echo
  cat "$T/daemon-latency.md"
  echo
  echo "#### Daemon: output relay throughput (profile \`bench-daemon\`)"
  echo
  echo "$relay_rounds interleaved rounds; MB = 10^6 bytes, from the first byte read to EOF."
  echo
  cat "$T/daemon-relay.md"
  echo
  echo "#### Daemon: a download through the egress proxy (profile \`bench-egress\`)"
  echo
  echo "$relay_rounds interleaved rounds from a busybox httpd on the host's loopback; MB = 10^6"
  echo "bytes, curl's average speed. The proxied download crosses the daemon twice (jail to ccjaild,"
  echo "ccjaild to the server), through one 16 KiB buffer per direction."
  echo
  cat "$T/daemon-egress.md"
  echo
  echo "#### Daemon: memory with $sessions idle sessions (profile \`bench-daemon\`, 1 MiB ring)"
  echo
  echo "Idle: pty sessions running \`sleep 600\`, spawned one after the other from one connection"
  echo "and detached; nothing was ever written to their rings. Two cycles of spawn, kill, forget."
  echo
  cat "$T/daemon-idle.md"
  echo
  echo "Rings written: each session first writes 1 MiB (its ring's size) to its terminal, which"
  echo "the daemon reads into the ring, then sleeps."
  echo
  cat "$T/daemon-touched.md"
}

# Replaces what lies between two marker lines of docs/performance.md with the output of $3.
update_section() {
  local begin=$1 end=$2 producer=$3
  local doc=$CCJAIL_ROOT/docs/performance.md
  if ! grep -qF "$begin" "$doc" || ! grep -qF "$end" "$doc"; then
    echo "bench.sh: $doc lacks the markers $begin ... $end" >&2
    exit 1
  fi
  "$producer" > "$T/section.md"
  awk -v begin="$begin" -v end="$end" -v section="$T/section.md" '
    $0 == begin { print; while ((getline line < section) > 0) print line; skip = 1; next }
    $0 == end { skip = 0 }
    !skip { print }
  ' "$doc" > "$T/performance.md"
  cat "$T/performance.md" > "$doc"
  log "updated $doc ($begin)"
}

if [ "$run_spawn" = 1 ]; then
  spawn_benchmark
  echo
  spawn_report
fi
if [ "$run_daemon" = 1 ]; then
  daemon_benchmark
  echo
  daemon_report
fi

if [ "$update_docs" = 1 ]; then
  if [ "$run_spawn" = 1 ]; then
    update_section '<!-- bench:begin (scripts/bench.sh --update-docs rewrites this section) -->' \
      '<!-- bench:end -->' spawn_report
  fi
  if [ "$run_daemon" = 1 ]; then
    update_section '<!-- bench-daemon:begin (scripts/bench.sh --update-docs rewrites this section) -->' \
      '<!-- bench-daemon:end -->' daemon_report
  fi
fi
