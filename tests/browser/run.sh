#!/usr/bin/env bash
# The browser tier: the web-terminal example (clients/node/examples/web-terminal) driven end to
# end by Debian's headless Chromium. As root: installs chromium if missing, installs both npm
# trees from their lock files, starts a real ccjaild on a temporary socket whose group is
# `ccjail`, starts the example server as the unprivileged system user `ccjail-web` (a member of
# `ccjail`), runs the tests with `node --test`, and stops everything.
# The screenshot is saved to <build-dir>/artifacts/web-terminal.png.
# Usage: tests/browser/run.sh <build-dir>
set -euo pipefail

if [ $# -ne 1 ]; then
  echo "usage: $0 <build-dir>" >&2
  exit 2
fi
if [ "$(id -u)" != 0 ]; then
  echo "$(basename "$0"): run as root: it starts ccjaild and creates the server's user" >&2
  exit 2
fi

build=$(cd "$1" && pwd)
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
example=$root/clients/node/examples/web-terminal
npm_cache=${CCJAIL_CACHE:-/var/cache/ccjail-test}/npm
artifacts=$build/artifacts
server_user=ccjail-web
group=ccjail

log() { printf '\n== %s\n' "$*" >&2; }

passed=0
failed=0
skipped=0

for bin in ccjaild ccjail-exec ccjailctl; do
  if [ ! -x "$build/supervisor/$bin" ]; then
    echo "$build/supervisor/$bin is missing: build ccjail first" >&2
    exit 2
  fi
done

if ! node -e 'process.exit(Number(process.versions.node.split(".")[0]) >= 20 ? 0 : 1)' 2>/dev/null; then
  echo "the web-terminal example and its test need Node.js 20 or later on PATH" >&2
  exit 1
fi

if [ ! -x /usr/bin/chromium ]; then
  log "installing chromium"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core >/dev/null
fi

# The socket's group admits the server; the server's user has no home, shell or password.
getent group "$group" >/dev/null || groupadd --system "$group"
if ! id -u "$server_user" >/dev/null 2>&1; then
  useradd --system --gid "$group" --no-create-home --home-dir /nonexistent \
    --shell /usr/sbin/nologin "$server_user"
fi

log "npm ci (cache $npm_cache)"
mkdir -p "$npm_cache"
(cd "$example" && npm ci --cache "$npm_cache" --prefer-offline --no-audit --no-fund --loglevel=error)
(cd "$here" && npm ci --cache "$npm_cache" --prefer-offline --no-audit --no-fund --loglevel=error)

# The registry's advisory service is a separate endpoint: a mirror that does not serve it makes
# `npm audit` fail without having looked at anything, which is a skip, not a pass.
log "npm audit --audit-level=critical (web-terminal)"
audit_out=$(cd "$example" && npm audit --audit-level=critical --omit=dev 2>&1) && audit_rc=0 || audit_rc=$?
echo "$audit_out" | tail -5
if [ "$audit_rc" -eq 0 ]; then
  echo "audit: passed"
  passed=$((passed + 1))
elif echo "$audit_out" | grep -q 'audit endpoint returned an error'; then
  echo "audit: skipped (the registry's audit endpoint is not reachable from here)"
  skipped=$((skipped + 1))
else
  echo "audit: FAILED (critical advisories)"
  failed=$((failed + 1))
fi

tmp=$(mktemp -d /tmp/ccjail-browser-XXXXXX)
# Traversable, so the server's user reaches the socket inside; nothing in it is world-writable.
chmod 0755 "$tmp"
socket=$tmp/ccjaild.sock
state=$tmp/state
daemon_pid=
server_pid=

cleanup() {
  if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then
    kill -TERM "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  if [ -n "$daemon_pid" ] && kill -0 "$daemon_pid" 2>/dev/null; then
    kill -TERM "$daemon_pid" 2>/dev/null || true
    wait "$daemon_pid" 2>/dev/null || true
  fi
  mkdir -p "$artifacts"
  cp -f "$tmp/ccjaild.log" "$artifacts/browser-ccjaild.log" 2>/dev/null || true
  cp -f "$tmp/server.log" "$artifacts/browser-server.log" 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT

log "ccjaild on $socket"
"$build/supervisor/ccjaild" --profiles-dir "$root/profiles" --state-dir "$state" \
  --socket "$socket" --exec-path "$build/supervisor/ccjail-exec" \
  --socket-group "$group" --client-groups "$group" --kill-grace-ms 1000 \
  --ended-retention-ms 10m 2>"$tmp/ccjaild.log" &
daemon_pid=$!
for _ in $(seq 100); do
  [ -S "$socket" ] && break
  kill -0 "$daemon_pid" 2>/dev/null || break
  sleep 0.1
done
if [ ! -S "$socket" ]; then
  cat "$tmp/ccjaild.log" >&2
  echo "ccjaild did not start" >&2
  exit 1
fi

# The secret belongs to the server's user; the tests read it as root to mint bad tokens.
head -c 48 /dev/urandom | base64 -w0 >"$tmp/jwt-secret"
chown "$server_user:$group" "$tmp/jwt-secret"
chmod 0600 "$tmp/jwt-secret"

port=$(node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')
origin="http://127.0.0.1:$port"
# A small output window, so the tests see the server pause and resume a session.
cat >"$tmp/web-terminal.json" <<JSON
{
  "listen_host": "127.0.0.1",
  "listen_port": $port,
  "ccjail_socket": "$socket",
  "profile": "shell",
  "allowed_origins": ["$origin"],
  "jwt_secret_file": "$tmp/jwt-secret",
  "output_window_chars": 16384
}
JSON
chmod 0644 "$tmp/web-terminal.json"

# The server runs from a copy: the checkout may sit below a directory (root's home, say) that
# the server's user cannot enter. The example imports the library by relative path, so the
# copy keeps the clients/node layout.
app=$tmp/app/clients/node
mkdir -p "$app/examples"
cp -a "$root/clients/node/package.json" "$root/clients/node/src" "$app/"
cp -a "$example" "$app/examples/"
chmod -R a+rX "$tmp/app"

log "web-terminal server as $server_user on $origin"
(cd "$app/examples/web-terminal" && exec env -i PATH=/usr/local/bin:/usr/bin:/bin NODE_ENV=production \
  setpriv --reuid="$server_user" --regid="$group" --init-groups --no-new-privs \
  node server.js --config "$tmp/web-terminal.json") >"$tmp/server.log" 2>&1 &
server_pid=$!
for _ in $(seq 100); do
  grep -q '"event":"listening"' "$tmp/server.log" 2>/dev/null && break
  kill -0 "$server_pid" 2>/dev/null || break
  sleep 0.1
done
if ! grep -q '"event":"listening"' "$tmp/server.log"; then
  cat "$tmp/server.log" >&2
  echo "the web-terminal server did not start" >&2
  exit 1
fi

log "node --test (Chromium $(/usr/bin/chromium --version 2>/dev/null | awk '{print $2}'))"
mkdir -p "$artifacts"
out=$tmp/test.out
set +e
(cd "$here" && env WT_URL="$origin" WT_EXAMPLE_DIR="$example" WT_SECRET_FILE="$tmp/jwt-secret" \
  WT_SERVER_LOG="$tmp/server.log" WT_SERVER_UID="$(id -u "$server_user")" \
  WT_ARTIFACTS="$artifacts" CCJAILCTL="$build/supervisor/ccjailctl" CCJAIL_SOCKET="$socket" \
  CCJAIL_STATE_DIR="$state" \
  node --test --test-concurrency=1 --test-reporter=spec web-terminal-lib.test.js web-terminal.test.js) 2>&1 | tee "$out"
set -e

count() { sed -nE "s/^ℹ $1 ([0-9]+)$/\\1/p" "$out" | tail -1; }
p=$(count pass)
f=$(count fail)
s=$(count skipped)
if [ -z "$p" ]; then
  echo "node --test printed no summary" >&2
  f=$((${f:-0} + 1))
fi
passed=$((passed + ${p:-0}))
failed=$((failed + ${f:-0}))
skipped=$((skipped + ${s:-0}))

if [ -f "$artifacts/web-terminal.png" ]; then
  echo "screenshot: $artifacts/web-terminal.png"
fi
echo "browser: $passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
