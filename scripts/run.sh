#!/usr/bin/env bash
# The main job on a fresh Debian 12 machine, as root: install what is missing, build, and run
# the supervisor daemon ccjaild in the foreground on the repo's profiles, with everything it
# writes below run/ in the clone (socket run/ccjaild.sock). Ctrl-C stops it cleanly (every
# session is killed with its grace period). Flags after -- go to ccjaild (docs/operations.md).
# Usage: scripts/run.sh [-- CCJAILD-FLAGS...]
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
require_root

args=()
while [ $# -gt 0 ]; do
  case "$1" in
    --) shift; args=("$@"); break ;;
    *) echo "usage: $0 [-- CCJAILD-FLAGS...]" >&2; exit 2 ;;
  esac
done

ensure_packages "${CCJAIL_BUILD_PACKAGES[@]}" git bash coreutils
build_ccjail

state="$CCJAIL_ROOT/run/state"
socket="$CCJAIL_ROOT/run/ccjaild.sock"
mkdir -p "$CCJAIL_ROOT/run"
ctl="$CCJAIL_BUILD/supervisor/ccjailctl --socket $socket"
log "ccjaild on $socket (state in $state); in another terminal, try:"
cat >&2 <<TRY
  $ctl run --user alice                 # a jailed login shell (profile "shell")
  $ctl run --pipe --user alice -- -c 'id; ls /'
  $ctl list
  $ctl check --profiles-dir $CCJAIL_ROOT/profiles
TRY
exec "$CCJAIL_BUILD/supervisor/ccjaild" --profiles-dir "$CCJAIL_ROOT/profiles" \
  --socket "$socket" --state-dir "$state" --exec-path "$CCJAIL_BUILD/supervisor/ccjail-exec" \
  "${args[@]}"
