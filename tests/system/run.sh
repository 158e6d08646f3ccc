#!/usr/bin/env bash
# The full-system tier: boots a Debian 12 system (systemd as pid 1, cgroup v2 only) under qemu
# with software emulation, installs the freshly built ccjail package there, and checks the
# systemd integration of ccjaild. See tests/system/README.md.
#
#   bash tests/system/run.sh <build-dir>      (the dir scripts/build-deb.sh built the .deb in)
#
# The root disk is a copy-on-write qcow2 overlay of the cached image from build-rootfs.sh, so
# the image is never changed; a second, read-only disk carries this run's payload (the .deb,
# checks.sh, the daemon tier's test binary, the run id), which the image's
# ccjail-system-test.service runs after boot.
# Exit status: 0 when every check passed; 1 when a check failed, the VM timed out or no marker
# came back; 2 on bad usage; 77 when the tier cannot run here. Environment:
#   CCJAIL_SYSTEM_DEB      the package (default: the newest <build-dir>/ccjail_*_amd64.deb)
#   CCJAIL_SYSTEM_TIMEOUT  seconds before the VM is killed (1800)
#   CCJAIL_SYSTEM_MEMORY / CCJAIL_SYSTEM_CPUS  (2048 MiB / 2)
#   CCJAIL_SYSTEM_KEEP=1   keep the work dir (overlay, payload, initramfs) for a look afterwards
#   CCJAIL_SYSTEM_ONLY     after the install, run only these checks (names of checks.sh's
#                          check_* functions without the prefix, e.g. "session daemon_suite")
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
timeout_s=${CCJAIL_SYSTEM_TIMEOUT:-1800}
memory_mb=${CCJAIL_SYSTEM_MEMORY:-2048}
cpus=${CCJAIL_SYSTEM_CPUS:-2}
# Built as modules in the Debian kernel; the initramfs loads them to mount the root disk. ext4
# needs crc32c only as a soft dependency, which modinfo's depends= does not list.
boot_modules=(virtio_pci virtio_blk crc32c_generic ext4)

started=$EPOCHREALTIME
workdir=
vm_pid=

say() { echo "system: $*"; }

elapsed() { awk "BEGIN { printf \"%.1f\", $EPOCHREALTIME - $1 }"; }

finish() {
    echo "system: $2 passed, $3 failed, 0 skipped"
    exit "$1"
}

skip() {
    say "SKIP: $*"
    exit 77
}

# shellcheck disable=SC2317  # runs from the EXIT trap
cleanup() {
    if [[ -n $vm_pid ]] && kill -0 "$vm_pid" 2>/dev/null; then
        kill -TERM "$vm_pid" 2>/dev/null || true
        wait "$vm_pid" 2>/dev/null || true
    fi
    if [[ -n $workdir && -z ${CCJAIL_SYSTEM_KEEP:-} ]]; then
        rm -rf "$workdir"
    elif [[ -n $workdir ]]; then
        say "kept $workdir"
    fi
}

usage() {
    echo "usage: $0 <build-dir>   (see tests/system/README.md)" >&2
    exit 2
}

# Prints the module files to load, each after the modules it depends on (the package ships no
# modules.dep: depmod runs when it is installed).
module_load_order() {
    local moddir=$1
    shift
    local -A path=() seen=()
    local f name
    while IFS= read -r f; do
        name=${f##*/}
        name=${name%%.ko*}
        path[${name//-/_}]=$f
    done < <(find "$moddir/kernel" -name '*.ko*')

    visit() {
        local m=${1//-/_} d
        [[ -n ${seen[$m]:-} ]] && return 0
        seen[$m]=1
        if [[ -z ${path[$m]:-} ]]; then
            grep -q "/${m//_/[-_]}.ko\$" "$moddir/modules.builtin" 2>/dev/null && return 0
            say "kernel module $m not found in $moddir" >&2
            return 1
        fi
        for d in $(tr '\0' '\n' <"${path[$m]}" | sed -n 's/^depends=//p' | tr ',' ' '); do
            visit "$d" || return 1
        done
        echo "${path[$m]}"
    }
    local m
    for m in "$@"; do
        visit "$m" || return 1
    done
}

build_initramfs() {
    local kdir=$1 kver=$2 out=$3 root=$workdir/initramfs f name
    mkdir -p "$root"/{bin,dev,proc,sys,newroot,modules}
    cp /bin/busybox "$root/bin/busybox"
    install -m 0755 "$here/init.sh" "$root/init"
    local files
    files=$(module_load_order "$kdir/lib/modules/$kver" "${boot_modules[@]}") || return 1
    : >"$root/modules/load-order"
    for f in $files; do
        name=${f##*/}
        name=${name%%.ko*}.ko
        case $f in
        *.ko.xz) xz -dc "$f" >"$root/modules/$name" ;;
        *.ko.zst) zstd -qdc "$f" >"$root/modules/$name" ;;
        *) cp "$f" "$root/modules/$name" ;;
        esac
        echo "$name" >>"$root/modules/load-order"
    done
    (cd "$root" && find . | busybox cpio -o -H newc -R 0:0 2>/dev/null) >"$out"
}

# The VM is offline: every package the .deb depends on must already be in the image.
check_depends() {
    local deb=$1 image=$2 dep missing=()
    for dep in $(dpkg-deb -f "$deb" Depends | tr ',' '\n' | sed 's/(.*)//; s/|.*//' | tr -d ' '); do
        grep -q "^${dep}[: ]" "$image.packages" || missing+=("$dep")
    done
    if ((${#missing[@]} > 0)); then
        say "the image lacks ${missing[*]}, which the package depends on: add them to build-rootfs.sh"
        return 1
    fi
}

# The daemon tier's suite, run in the VM against the installed programs: its test binary and
# probe from the build, its profiles from the source tree. A build without the tests leaves
# the directory out, and the check in the VM says so.
copy_daemon_suite() {
    local dir=$1 bin=$build_dir/tests/daemon/ccjail_daemon_tests
    [[ -x $bin ]] || {
        say "no $bin: the daemon suite will not run in the VM (build the tests first)"
        return 0
    }
    mkdir -p "$dir/daemon-suite/probes" "$dir/daemon-suite/profiles"
    cp "$bin" "$dir/daemon-suite/"
    cp "$build_dir/tests/daemon/probes/daemon_probe" "$dir/daemon-suite/probes/"
    cp "$here/../daemon/profiles/"*.json "$dir/daemon-suite/profiles/"
}

build_payload() {
    local deb=$1 out=$2 dir=$workdir/payload
    mkdir -p "$dir"
    cp "$deb" "$dir/ccjail.deb"
    cp "$here/checks.sh" "$dir/checks.sh"
    copy_daemon_suite "$dir"
    # Only when set: an empty line would still be a non-empty file to checks.sh.
    if [[ -n ${CCJAIL_SYSTEM_ONLY:-} ]]; then
        echo "$CCJAIL_SYSTEM_ONLY" >"$dir/only"
    fi
    echo "$run_id" >"$dir/run-id"
    local size_mb=$(($(du -sm "$dir" | cut -f1) + 32))
    truncate -s "${size_mb}M" "$out"
    mkfs.ext4 -q -L ccjail-payload -d "$dir" "$out" >/dev/null
}

boot_vm() {
    local kernel=$1 initrd=$2 overlay=$3 payload=$4 raw=$5
    local append="root=/dev/vda rw systemd.unified_cgroup_hierarchy=1 console=ttyS0"
    append+=" panic=-1 mitigations=off loglevel=4 ${CCJAIL_SYSTEM_APPEND:-}"
    # KVM is present on these machines but hangs: software emulation only.
    timeout -k 10 "$timeout_s" qemu-system-x86_64 \
        -accel tcg,thread=multi -cpu max -smp "$cpus" -m "$memory_mb" \
        -nodefaults -no-user-config -display none -no-reboot -serial stdio \
        -kernel "$kernel" -initrd "$initrd" -append "$append" \
        -drive "file=$overlay,if=virtio,format=qcow2,cache=unsafe" \
        -drive "file=$payload,if=virtio,format=raw,readonly=on" \
        </dev/null >"$raw" 2>&1 &
    vm_pid=$!
    tail -n +1 -F --pid="$vm_pid" "$raw" 2>/dev/null | tr -d '\r' &
    local tail_pid=$! rc=0
    wait "$vm_pid" || rc=$?
    vm_pid=
    wait "$tail_pid" 2>/dev/null || true
    return "$rc"
}

main() {
    (($# == 1)) || usage
    [[ -d $1 ]] || usage
    build_dir=$(cd "$1" && pwd)
    [[ $(uname -m) == x86_64 ]] || skip "needs an x86-64 host"
    ((EUID == 0)) || skip "needs root (debootstrap, chroot)"

    local deb=${CCJAIL_SYSTEM_DEB:-}
    if [[ -z $deb ]]; then
        # shellcheck disable=SC2012  # the newest package by modification time
        deb=$(ls -t "$build_dir"/ccjail_*_amd64.deb 2>/dev/null | head -n 1) || true
    fi
    [[ -f $deb ]] || {
        say "no ccjail_*_amd64.deb in $build_dir: run scripts/build-deb.sh $build_dir first"
        finish 1 0 1
    }

    local t image kdir kver
    t=$EPOCHREALTIME
    image=$(bash "$here/build-rootfs.sh") || {
        say "FAIL: could not build the root file system"
        finish 1 0 1
    }
    say "root file system ready in $(elapsed "$t")s: $image"
    kdir=$(bash "$here/../vm/fetch-kernel.sh") || skip "cannot fetch the Debian kernel package"
    kver=$(ls "$kdir/lib/modules")
    check_depends "$deb" "$image" || finish 1 0 1

    trap cleanup EXIT
    trap 'say "interrupted"; finish 130 0 1' INT TERM HUP
    workdir=$(mktemp -d /tmp/ccjail-system.XXXXXX)
    run_id=$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')
    qemu-img create -q -f qcow2 -F raw -b "$image" "$workdir/root.qcow2"
    build_payload "$deb" "$workdir/payload.img"
    build_initramfs "$kdir" "$kver" "$workdir/initrd.cpio" || finish 1 0 1

    local log_dir=${CCJAIL_SYSTEM_LOG_DIR:-$build_dir/tests/system}
    mkdir -p "$log_dir"
    local log=$log_dir/serial.log raw=$workdir/serial.raw
    say "booting $(basename "$deb") on Debian kernel $kver (tcg, $cpus cpus, $memory_mb MiB, timeout ${timeout_s}s)"
    local boot_started=$EPOCHREALTIME vm_rc=0
    boot_vm "$kdir/boot/vmlinuz-$kver" "$workdir/initrd.cpio" "$workdir/root.qcow2" \
        "$workdir/payload.img" "$raw" || vm_rc=$?
    tr -d '\r' <"$raw" >"$log"
    say "VM ran $(elapsed "$boot_started")s; tier took $(elapsed "$started")s; console log: $log"

    local marker
    marker=$(grep -ao "CCJAIL-SYSTEM-RESULT rc=[0-9]* passed=[0-9]* failed=[0-9]* run=$run_id" "$log" | tail -n 1) || true
    if [[ -z $marker ]]; then
        if ((vm_rc == 124 || vm_rc == 137)); then
            say "FAIL: the VM did not finish within ${timeout_s}s and was killed"
        else
            say "FAIL: the VM stopped (qemu status $vm_rc) without reporting a result"
        fi
        finish 1 0 1
    fi
    local rc passed failed
    rc=$(sed -n 's/.* rc=\([0-9]*\).*/\1/p' <<<"$marker")
    passed=$(sed -n 's/.*passed=\([0-9]*\).*/\1/p' <<<"$marker")
    failed=$(sed -n 's/.*failed=\([0-9]*\).*/\1/p' <<<"$marker")
    grep -a '^not ok ' "$log" | sed 's/^/system: /' || true
    if ((rc != 0 || failed > 0)); then
        say "FAIL: checks failed inside the VM (status $rc)"
        finish 1 "$passed" $((failed > 0 ? failed : 1))
    fi
    # A full run has 15 checks before the daemon suite's tests: fewer verdicts mean checks were
    # skipped (as when an empty CCJAIL_SYSTEM_ONLY once selected none), which is not a pass.
    if [[ -z ${CCJAIL_SYSTEM_ONLY:-} ]] && ((passed < 15)); then
        say "FAIL: only $passed checks reported a verdict; a full run has at least 15"
        finish 1 "$passed" 1
    fi
    say "PASS: every check passed inside the VM"
    finish 0 "$passed" "$failed"
}

main "$@"
