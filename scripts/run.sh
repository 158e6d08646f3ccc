#!/usr/bin/env bash
# The main job on a fresh Debian 12 machine, as root: install what is missing, build, and start
# a jailed interactive shell on the `shell` profile (the daemon takes this place once it exists).
# Usage: scripts/run.sh [--user LABEL] [-- BASH-ARGS...]   e.g. scripts/run.sh -- -c 'id; ls /'
# The shell profile runs `bash -l`; arguments after -- go to that bash.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
require_root

user=demo
args=()
while [ $# -gt 0 ]; do
  case "$1" in
    --user) user=$2; shift 2 ;;
    --) shift; args=("$@"); break ;;
    *) echo "usage: $0 [--user LABEL] [-- COMMAND...]" >&2; exit 2 ;;
  esac
done

ensure_packages "${CCJAIL_BUILD_PACKAGES[@]}" git bash coreutils
build_ccjail

# A terminal of the jail's own when we have one to relay it to.
tty_flag=()
[ -t 0 ] && [ -t 1 ] && tty_flag=(--pty)
log "jailed shell: profile shell, user $user, workspace /var/lib/ccjail/workspaces/$user (exit to leave)"
exec "$CCJAIL_BUILD/supervisor/ccjail-exec" --profile shell --profiles-dir "$CCJAIL_ROOT/profiles" \
  --user "$user" "${tty_flag[@]}" --status-json - -- "${args[@]}"
