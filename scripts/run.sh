#!/usr/bin/env bash
# The main job on a fresh Debian 12 machine, as root: install what is missing, build, and start
# a jailed interactive shell on the `shell` profile (the daemon takes this place once it exists).
# Usage: scripts/run.sh [--user LABEL] [-- COMMAND...]
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
require_root

user=demo
command=(bash -i)
while [ $# -gt 0 ]; do
  case "$1" in
    --user) user=$2; shift 2 ;;
    --) shift; command=("$@"); break ;;
    *) echo "usage: $0 [--user LABEL] [-- COMMAND...]" >&2; exit 2 ;;
  esac
done

ensure_packages "${CCJAIL_BUILD_PACKAGES[@]}" git bash coreutils
build_ccjail

state=/var/lib/ccjail
mkdir -p "$state/workspaces/$user"
log "jailed shell: profile shell, user $user, workspace $state/workspaces/$user (exit to leave)"
exec "$CCJAIL_BUILD/supervisor/ccjail-exec" --profile shell --profiles-dir "$CCJAIL_ROOT/profiles" \
  --user "$user" --status-json - -- "${command[@]}"
