#!/usr/bin/env bash
# Installs the Claude Code CLI at the version the `claude-code` profile pins, checks its native
# binary against the pinned sha256, and points the path the profile binds at it.
#
#   scripts/install-claude-code.sh [--root DIR] [--link PATH | --no-link] [--npm-cache DIR]
#
#   --root DIR       versions live in DIR/<version> (default /var/cache/ccjail-test/claude-code,
#                    the test cache; admins: e.g. /opt/ccjail/claude-code-versions)
#   --link PATH      made a symlink to DIR/<version> (default /opt/ccjail/claude-code, the
#                    profile's bind source); --no-link leaves it alone
#   --npm-cache DIR  npm's download cache (default /var/cache/ccjail-test/npm)
#
# Idempotent: a tree that is already there with the right version and hash is kept, and
# nothing is downloaded. A new install is built next to the final directory and renamed into
# place, so a jail never binds a half-written tree. Prints the version directory on stdout.
# Needs npm (Debian 12: apt-get install npm) and write access to DIR and PATH (root).
set -euo pipefail

readonly VERSION=2.1.332
readonly SHA256=a2df1f41bb00250992926420d0063f89b127cb81abdd284dbefb80c50ff1d026
readonly PACKAGE=@anthropic-ai/claude-code
# The package's `bin` entry: its postinstall hard-links the platform binary over this stub.
readonly BIN_REL=node_modules/@anthropic-ai/claude-code/bin/claude.exe
readonly NATIVE_REL=node_modules/@anthropic-ai/claude-code-linux-x64/claude

root=/var/cache/ccjail-test/claude-code
link=/opt/ccjail/claude-code
npm_cache=/var/cache/ccjail-test/npm

while [ $# -gt 0 ]; do
  case $1 in
    --root) root=$2; shift 2 ;;
    --link) link=$2; shift 2 ;;
    --no-link) link=; shift ;;
    --npm-cache) npm_cache=$2; shift 2 ;;
    -h|--help) sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "install-claude-code: unknown argument $1" >&2; exit 2 ;;
  esac
done

say() { echo "install-claude-code: $*" >&2; }

if [ "$(uname -m)" != x86_64 ]; then
  say "the pinned sha256 is that of the linux-x64 binary; this machine is $(uname -m)"
  exit 1
fi

# True when DIR holds the pinned version whose bin entry is the pinned binary.
tree_ok() {
  local dir=$1
  [ -f "$dir/$BIN_REL" ] || return 1
  local version
  version=$(sed -nE 's/^  "version": "([^"]+)".*/\1/p' \
    "$dir/node_modules/@anthropic-ai/claude-code/package.json" 2>/dev/null | head -1)
  [ "$version" = "$VERSION" ] || return 1
  [ "$(sha256sum "$dir/$BIN_REL" | cut -d' ' -f1)" = "$SHA256" ]
}

install_tree() {
  local dir=$1
  command -v npm >/dev/null || { say "npm is missing (apt-get install npm)"; exit 1; }
  local staging
  staging=$(mktemp -d "$dir.partial.XXXXXX")
  # An exact pin, so that a later `npm install` in the tree stays on it; allowScripts because
  # npm 11 runs no dependency's install script unless the project allows it (older npm
  # ignores the field and runs it anyway).
  printf '{ "private": true, "dependencies": { "%s": "%s" }, "allowScripts": { "%s": true } }\n' \
    "$PACKAGE" "$VERSION" "$PACKAGE" >"$staging/package.json"
  say "npm install $PACKAGE@$VERSION into $staging"
  # The postinstall script is what puts the native binary at the bin entry; without it the
  # entry is a stub that only prints an error.
  if ! npm install --prefix "$staging" --cache "$npm_cache" --no-audit --no-fund \
      --save-exact --omit=dev "$PACKAGE@$VERSION" >&2; then
    rm -rf "$staging"
    say "npm install failed"
    exit 1
  fi
  if [ "$(sha256sum "$staging/$BIN_REL" | cut -d' ' -f1)" != "$SHA256" ] &&
    [ -f "$staging/$NATIVE_REL" ]; then
    say "the postinstall did not run; running it"
    (cd "$staging/node_modules/@anthropic-ai/claude-code" && node install.cjs) >&2
  fi
  local got
  got=$(sha256sum "$staging/$BIN_REL" | cut -d' ' -f1)
  if [ "$got" != "$SHA256" ]; then
    rm -rf "$staging"
    say "sha256 mismatch for $BIN_REL: got $got, expected $SHA256"
    exit 1
  fi
  chmod -R a+rX,go-w "$staging"
  chmod 0755 "$staging"
  rm -rf "$dir.old"
  if [ -e "$dir" ]; then mv "$dir" "$dir.old"; fi
  mv "$staging" "$dir"
  rm -rf "$dir.old"
}

# A symlink renamed over the old one: the path is never missing and never half-made.
point_link() {
  local dir=$1 path=$2
  mkdir -p "$(dirname "$path")"
  if [ -e "$path" ] && [ ! -L "$path" ]; then
    say "$path exists and is not a symlink; leaving it (use --link elsewhere or --no-link)"
    exit 1
  fi
  if [ "$(readlink "$path" 2>/dev/null || true)" = "$dir" ]; then
    return 0
  fi
  ln -sfn "$dir" "$path.new.$$"
  mv -T "$path.new.$$" "$path"
  say "$path -> $dir"
}

mkdir -p "$root" "$npm_cache"
dir=$(cd "$root" && pwd)/$VERSION
if tree_ok "$dir"; then
  say "$PACKAGE@$VERSION already installed in $dir (sha256 ok)"
else
  install_tree "$dir"
  tree_ok "$dir" || { say "the installed tree does not check out"; exit 1; }
  say "installed $PACKAGE@$VERSION in $dir (sha256 ok)"
fi
if [ -n "$link" ]; then
  point_link "$dir" "$link"
fi
echo "$dir"
