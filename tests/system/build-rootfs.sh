#!/usr/bin/env bash
# Makes sure the full-system tier's Debian 12 root file system image exists in the cache, and
# prints its path (a raw ext4 image; run.sh boots copy-on-write overlays of it, never the image).
#
#   bash tests/system/build-rootfs.sh
#
# The image is made with debootstrap (minbase plus the packages below: systemd as init, udev,
# dbus, the tools the checks use, and every runtime library of the ccjail package, because the
# VM has no network and `apt-get install ./ccjail.deb` must resolve offline), then configured
# for a serial-console test boot, and packed with `mkfs.ext4 -d`. It also carries the modules
# of the stock Debian kernel that tests/vm/fetch-kernel.sh caches, so udev can load drivers.
#
# The cache key hashes the package list, the suite, the kernel package and this script's
# configuration format; a changed key builds a new image and drops the old ones. A lock makes
# concurrent runs wait for one build. Environment:
#   CCJAIL_SYSTEM_CACHE   cache directory (/var/cache/ccjail-test/system)
#   CCJAIL_SYSTEM_MIRROR  Debian mirror (the host's deb.debian.org)
#   CCJAIL_SYSTEM_REBUILD=1  build even when the cached image is current
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cache=${CCJAIL_SYSTEM_CACHE:-/var/cache/ccjail-test/system}
mirror=${CCJAIL_SYSTEM_MIRROR:-http://deb.debian.org/debian}
security_mirror=${CCJAIL_SYSTEM_SECURITY_MIRROR:-http://deb.debian.org/debian-security}
suite=bookworm
image_size=${CCJAIL_SYSTEM_IMAGE_SIZE:-3G}
# Bump when the configuration below changes in a way the package list does not show.
format=2

# The package's Depends (dpkg-deb -f ccjail_*.deb Depends) are all here: libc6, libstdc++6,
# libgcc-s1, libseccomp2, libssl3, libc-ares2, libsystemd0, passwd, procps. run.sh checks the
# .deb's Depends against the image before booting.
packages=(
    systemd systemd-sysv udev dbus init-system-helpers kmod
    procps curl bash coreutils util-linux iproute2 git ca-certificates less
    passwd libc6 libstdc++6 libgcc-s1 libseccomp2 libssl3 libc-ares2 libsystemd0
)

log() { echo "system: $*" >&2; }

elapsed() { awk "BEGIN { printf \"%.1f\", $EPOCHREALTIME - $1 }"; }

ensure_host_tools() {
    local missing=() pkg
    for pkg in debootstrap e2fsprogs qemu-utils; do
        dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
    done
    ((${#missing[@]} == 0)) && return 0
    log "installing ${missing[*]}"
    apt-get update -q >&2 || true
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
        "${missing[@]}" >&2
}

cache_key() {
    local kdir=$1
    {
        echo "suite=$suite format=$format kernel=$(basename "$kdir")"
        printf '%s\n' "${packages[@]}" | sort -u
    } | sha256sum | cut -c1-16
}

in_root() {
    chroot "$root" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin \
        DEBIAN_FRONTEND=noninteractive LANG=C.UTF-8 "$@"
}

# The kernel file systems a chroot's apt and maintainer scripts expect; unmounted on exit.
mount_chroot_fs() {
    mount -t proc proc "$root/proc"
    mount -t sysfs sysfs "$root/sys"
    mount --bind /dev "$root/dev"
    mounted=1
}

# shellcheck disable=SC2317  # runs from the EXIT trap
umount_chroot_fs() {
    [[ -n ${mounted:-} ]] || return 0
    umount "$root/dev" "$root/sys" "$root/proc" 2>/dev/null || true
    mounted=
}

# shellcheck disable=SC2317  # runs from the EXIT trap
cleanup() {
    umount_chroot_fs
    [[ -n ${work:-} ]] && rm -rf "$work"
}

step() {
    local name=$1 t=$EPOCHREALTIME
    shift
    log "$name ..."
    "$@"
    local took
    took=$(elapsed "$t")
    log "$name took ${took}s"
    echo "$name ${took}s" >>"$work/timings"
}

run_debootstrap() {
    local list
    list=$(
        IFS=,
        echo "${packages[*]}"
    )
    debootstrap --variant=minbase --include="$list" "$suite" "$root" "$mirror" \
        >"$work/debootstrap.log" 2>&1 || {
        tail -n 30 "$work/debootstrap.log" >&2
        tail -n 30 "$root/debootstrap/debootstrap.log" >&2 2>/dev/null || true
        return 1
    }
}

# The security suite matters: the package is built on an up-to-date host, and its versioned
# Depends (libssl3, libc6) must be satisfiable in the image.
upgrade_packages() {
    cat >"$root/etc/apt/sources.list" <<EOF
deb $mirror $suite main
deb $mirror $suite-updates main
deb $security_mirror $suite-security main
EOF
    mount_chroot_fs
    if ! in_root apt-get update -q >"$work/apt.log" 2>&1 ||
        ! in_root apt-get dist-upgrade -y -q --no-install-recommends >>"$work/apt.log" 2>&1; then
        tail -n 30 "$work/apt.log" >&2
        return 1
    fi
    in_root apt-get clean
    umount_chroot_fs
}

install_kernel_modules() {
    local kdir=$1 kver
    kver=$(ls "$kdir/lib/modules")
    mkdir -p "$root/lib/modules"
    cp -a "$kdir/lib/modules/$kver" "$root/lib/modules/"
    in_root depmod -a "$kver"
}

configure_system() {
    echo ccjail-system >"$root/etc/hostname"
    printf '127.0.0.1 localhost\n127.0.1.1 ccjail-system\n::1 localhost\n' >"$root/etc/hosts"
    echo '/dev/vda / ext4 rw,errors=remount-ro 0 1' >"$root/etc/fstab"
    # One fixed machine id: an empty one would make every boot a "first boot" (preset-all).
    rm -f "$root/etc/machine-id" "$root/var/lib/dbus/machine-id"
    in_root systemd-machine-id-setup >/dev/null
    # A password-less root, for debugging by hand (getty@tty1 with a display, or a drop-in).
    in_root passwd -d root >/dev/null
    # Timers and services that would only compete with the checks for the emulated CPUs; and
    # the serial getty, whose vhangup of ttyS0 cuts off (SIGHUP) the checks writing there.
    in_root systemctl mask apt-daily.timer apt-daily-upgrade.timer e2scrub_all.timer \
        e2scrub_reap.service fstrim.timer systemd-timesyncd.service \
        serial-getty@ttyS0.service >/dev/null 2>&1 || true
    # The checks run after boot from the payload disk; this runner is the image's only part.
    install -m 0755 "$here/vm-runner.sh" "$root/usr/local/sbin/ccjail-system-runner"
    cat >"$root/etc/systemd/system/ccjail-system-test.service" <<'EOF'
[Unit]
Description=ccjail full-system tier: run the checks from the payload disk, then power off
After=multi-user.target
ConditionPathExists=/dev/vdb

[Service]
Type=oneshot
ExecStart=/usr/local/sbin/ccjail-system-runner
StandardOutput=tty
StandardError=tty
TTYPath=/dev/ttyS0
TimeoutStartSec=infinity

[Install]
WantedBy=multi-user.target
EOF
    in_root systemctl enable ccjail-system-test.service >/dev/null 2>&1
    rm -rf "$root/var/cache/apt/archives"/*.deb "$root/var/log"/*.log
}

make_image() {
    local out=$1
    rm -f "$out"
    truncate -s "$image_size" "$out"
    # stdout carries only the image's path.
    mkfs.ext4 -q -L ccjail-root -E root_owner=0:0 -d "$root" "$out" >&2
}

main() {
    ((EUID == 0)) || {
        log "building the root file system needs root (debootstrap, chroot)"
        return 1
    }
    mkdir -p "$cache"
    exec 9>"$cache/.lock"
    flock 9

    local kdir key image
    kdir=$(bash "$here/../vm/fetch-kernel.sh")
    key=$(cache_key "$kdir")
    image=$cache/rootfs-$key.img
    if [[ -f $image && -f $image.complete && -z ${CCJAIL_SYSTEM_REBUILD:-} ]]; then
        log "cached root file system $image is current"
        echo "$image"
        return 0
    fi

    local started=$EPOCHREALTIME
    ensure_host_tools
    trap cleanup EXIT
    work=$(mktemp -d "$cache/.build.XXXXXX")
    root=$work/root
    mkdir -p "$root"
    : >"$work/timings"
    log "building Debian $suite root file system (key $key) in $work"
    step debootstrap run_debootstrap
    step upgrade upgrade_packages
    step modules install_kernel_modules "$kdir"
    step configure configure_system
    step mkfs make_image "$work/rootfs.img"

    mv "$work/rootfs.img" "$image"
    # shellcheck disable=SC2016  # dpkg-query's own ${field} syntax
    in_root dpkg-query -W -f '${Package} ${Version}\n' >"$image.packages"
    echo "total $(elapsed "$started")s" >>"$work/timings"
    mv "$work/timings" "$image.timings"
    touch "$image.complete"
    local old
    for old in "$cache"/rootfs-*.img; do
        [[ $old == "$image" ]] || rm -f "$old" "$old".*
    done
    log "root file system built in $(elapsed "$started")s: $image ($(du -h "$image" | cut -f1) used)"
    echo "$image"
}

main "$@"
