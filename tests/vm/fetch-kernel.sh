#!/usr/bin/env bash
# Makes sure the stock Debian 12 kernel package is downloaded and unpacked in the cache,
# and prints the directory it was unpacked into (it holds boot/vmlinuz-* and
# lib/modules/<version>/kernel/...).
#
# The package is fetched with `apt-get download` and unpacked with `dpkg-deb -x`: it is never
# installed, so the host's /boot and /lib/modules stay untouched. The cache lives outside the
# clone (CI works in a fresh clone each run) and is keyed by package name and version, so a
# kernel security update fetches the new one and drops the old.
set -euo pipefail

cache=${CCJAIL_VM_CACHE:-/var/cache/ccjail-test/vm}

log() { echo "vm: $*" >&2; }

# linux-image-amd64 is the meta package; its dependency names the current ABI package
# (linux-image-6.1.0-<n>-amd64), which changes with every ABI bump.
current_package() {
    apt-cache depends linux-image-amd64 2>/dev/null |
        awk '$1 == "Depends:" && $2 ~ /^linux-image-[0-9]/ { print $2; exit }'
}

candidate_version() {
    apt-cache policy "$1" 2>/dev/null | awk '$1 == "Candidate:" { print $2; exit }'
}

newest_cached() {
    local d best=
    for d in "$cache"/linux-image-*; do
        [[ -f $d/.complete ]] && best=$d
    done
    [[ -n $best ]] && echo "$best"
}

fetch_into() {
    local pkg=$1 dir=$2 tmp
    tmp=$(mktemp -d "$cache/.fetch.XXXXXX") || return 1
    # apt's sandbox user cannot write into a root-only cache directory; it then downloads as
    # root and warns. Let it write into a world-writable scratch dir instead of silencing that.
    chmod 0777 "$tmp"
    log "downloading $pkg ($3) into $cache"
    if ! (cd "$tmp" && apt-get download -q "$pkg" >&2) ||
        ! mkdir -p "$tmp/root" || ! dpkg-deb -x "$tmp"/*.deb "$tmp/root"; then
        rm -rf "$tmp"
        return 1
    fi
    rm -f "$tmp"/*.deb
    rm -rf "$dir"
    mv "$tmp/root" "$dir"
    rmdir "$tmp"
    touch "$dir/.complete"
}

main() {
    mkdir -p "$cache"
    exec 9>"$cache/.lock"
    flock 9

    local pkg ver dir
    pkg=$(current_package) || true
    if [[ -z $pkg ]]; then
        # Package lists missing or stale (fresh machine): refresh once, then ask again.
        log "apt lists know no linux-image-amd64; running apt-get update"
        apt-get update -q >&2 || true
        pkg=$(current_package) || true
    fi

    if [[ -z $pkg ]]; then
        dir=$(newest_cached) || {
            log "cannot resolve the Debian kernel package and nothing is cached in $cache"
            return 1
        }
        log "apt cannot resolve the kernel package; using cached $(basename "$dir")"
        echo "$dir"
        return 0
    fi

    ver=$(candidate_version "$pkg")
    dir=$cache/${pkg}_${ver//:/_}
    if [[ ! -f $dir/.complete ]] && ! fetch_into "$pkg" "$dir" "$ver"; then
        # An old package list names a version the archive no longer serves: refresh, retry.
        log "download failed; running apt-get update and retrying"
        apt-get update -q >&2 || true
        pkg=$(current_package) || true
        ver=$(candidate_version "$pkg")
        dir=$cache/${pkg}_${ver//:/_}
        if [[ ! -f $dir/.complete ]] && ! fetch_into "$pkg" "$dir" "$ver"; then
            dir=$(newest_cached) || {
                log "cannot download $pkg and nothing is cached in $cache"
                return 1
            }
            log "cannot download $pkg; using cached $(basename "$dir")"
        fi
    fi
    local old
    for old in "$cache"/linux-image-*; do
        [[ $old != "$dir" && -d $old ]] && rm -rf "$old"
    done
    echo "$dir"
}

main "$@"
