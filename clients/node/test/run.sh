#!/usr/bin/env bash
# The Node client's tier: starts a real ccjaild as root on a temporary socket and state dir
# (the repo's profiles plus test/profiles/), runs `node --test` against it, stops the daemon
# and prints `node: N passed, F failed, S skipped`. Builds nothing.
# Usage: bash clients/node/test/run.sh BUILD-DIR
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
package=$(dirname "$here")
repo=$(cd "$package/../.." && pwd)

if [ $# -ne 1 ]; then
  echo "usage: $0 BUILD-DIR" >&2
  exit 2
fi
build=$(cd "$1" && pwd)
ccjaild="$build/supervisor/ccjaild"
exec_bin="$build/supervisor/ccjail-exec"

if [ "$(id -u)" -ne 0 ]; then
  echo "node: skipped: ccjaild must run as root"
  echo "node: 0 passed, 0 failed, 0 skipped"
  exit 77
fi
for bin in "$ccjaild" "$exec_bin"; do
  [ -x "$bin" ] || { echo "node: $bin is missing (build ccjaild and ccjail-exec first)" >&2; exit 2; }
done
command -v node >/dev/null || { echo "node: node is not installed" >&2; exit 2; }

root=$(mktemp -d /tmp/ccjail-node-XXXXXX)
# Traversable, so the test that connects as another uid reaches the socket.
chmod 0755 "$root"
mkdir -p "$root/profiles" "$root/state"
cp "$repo"/profiles/*.json "$here"/profiles/*.json "$root/profiles/"
chmod 0644 "$root"/profiles/*.json

# socket_mode 0666 and no groups: root is admin, any other uid reaches the role check and is
# refused there (the `forbidden` test).
cat > "$root/ccjaild.json" <<JSON
{
  "socket_mode": "0666",
  "socket_group": "",
  "client_groups": [],
  "admin_groups": [],
  "kill_grace_ms": 2000,
  "shutdown_grace_ms": 20000,
  "log_level": "info"
}
JSON
chmod 0644 "$root/ccjaild.json"

export CCJAILD_BIN="$ccjaild"
export CCJAIL_EXEC_BIN="$exec_bin"
export CCJAIL_TEST_CONFIG="$root/ccjaild.json"
export CCJAIL_TEST_PROFILES="$root/profiles"
export CCJAIL_TEST_ROOT="$root"
export CCJAIL_SOCKET="$root/state/run/ccjaild.sock"

daemon_pid=""
stop_daemon() {
  [ -n "$daemon_pid" ] || return 0
  kill -TERM "$daemon_pid" 2>/dev/null || true
  for _ in $(seq 1 300); do
    kill -0 "$daemon_pid" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "$daemon_pid" 2>/dev/null; then
    echo "node: ccjaild did not stop within 30 s; killing it" >&2
    kill -KILL "$daemon_pid" 2>/dev/null || true
  fi
  wait "$daemon_pid" 2>/dev/null || true
  daemon_pid=""
}
cleanup() {
  stop_daemon
  if [ -z "${CCJAIL_NODE_KEEP:-}" ]; then rm -rf "$root"; else echo "node: kept $root" >&2; fi
}
trap cleanup EXIT

"$ccjaild" --config "$root/ccjaild.json" --state-dir "$root/state" --profiles-dir "$root/profiles" \
  --exec-path "$exec_bin" --socket "$CCJAIL_SOCKET" </dev/null >"$root/ccjaild.log" 2>&1 &
daemon_pid=$!
for _ in $(seq 1 150); do
  [ -S "$CCJAIL_SOCKET" ] && break
  kill -0 "$daemon_pid" 2>/dev/null || break
  sleep 0.1
done
if [ ! -S "$CCJAIL_SOCKET" ]; then
  echo "node: ccjaild did not start; its log:" >&2
  cat "$root/ccjaild.log" >&2
  exit 1
fi
export CCJAILD_PID="$daemon_pid"

tap="$root/results.tap"
rc=0
# CCJAIL_NODE_TESTS picks files (e.g. "test/flow.test.js") while working on one.
(cd "$package" && node --test --test-concurrency=1 --test-timeout=120000 \
  --test-reporter=spec --test-reporter-destination=stdout \
  --test-reporter=tap --test-reporter-destination="$tap" ${CCJAIL_NODE_TESTS:-test/*.test.js}) || rc=$?

stop_daemon
count() { sed -nE "s/^# $1 ([0-9]+)$/\1/p" "$tap" | tail -1; }
passed=$(count pass); failed=$(count fail); skipped=$(count skipped)
passed=${passed:-0}; failed=${failed:-0}; skipped=${skipped:-0}
if [ "$rc" -ne 0 ] && [ "$failed" -eq 0 ]; then
  failed=1
fi
if [ "$failed" -ne 0 ]; then
  echo "node: the daemon log's last lines:" >&2
  tail -n 40 "$root/ccjaild.log" >&2 || true
fi
echo "node: $passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
