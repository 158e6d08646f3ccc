#!/usr/bin/env bash
# The cgroup v2 VM tier: boots the stock Debian 12 kernel under qemu (software emulation),
# with the host's root file system shared read-only, and runs the integration suite there on
# a pure cgroup v2 hierarchy. See tests/vm/README.md.
#
#   bash tests/vm/run.sh <build-dir> [gtest arguments...]
#
# Exit status: 0 only when the suite passed inside the VM; 77 when the tier cannot run here
# (the reason is printed; under CI=true that is a failure instead, exit 1); 2 on bad usage;
# 1 for everything else (tests failed, VM timed out or crashed, marker missing).
# The last line is always `vm: N passed, N failed[, N skipped]`.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

timeout_s=${CCJAIL_VM_TIMEOUT:-900}
memory_mb=${CCJAIL_VM_MEMORY:-2048}
cpus=${CCJAIL_VM_CPUS:-2}
test_cgroup=${CCJAIL_VM_CGROUP-system.slice/ccjail-tests.service}
test_subgroup=${CCJAIL_VM_SUBGROUP-supervisor}
p9_options=${CCJAIL_VM_9P_OPTIONS:-cache=loose,msize=512000}
default_tests="tests/integration/ccjail_integration_tests tests/daemon/ccjail_daemon_tests"
# Modules to load in the VM; their dependencies are added from each module's modinfo.
read -r -a vm_modules <<<"9p 9pnet_virtio virtio_pci overlay ${CCJAIL_VM_EXTRA_MODULES:-}"

started=$EPOCHREALTIME
workdir=
vm_pid=

say() { echo "vm: $*"; }

elapsed() { awk "BEGIN { printf \"%.1f\", $EPOCHREALTIME - $1 }"; }

finish() {
    local rc=$1 passed=$2 failed=$3 skipped=${4:-0}
    local line="vm: $passed passed, $failed failed"
    ((skipped > 0)) && line+=", $skipped skipped"
    echo "$line"
    exit "$rc"
}

# Skipping is only for machines that cannot run the tier at all; CI must run it.
skip() {
    if [[ ${CI:-} == true ]]; then
        say "cannot run the VM tier: $* (a failure under CI, which must run this tier)"
        finish 1 0 1
    fi
    say "SKIP: $*"
    finish 77 0 0 1
}

# shellcheck disable=SC2317  # runs from the EXIT trap
cleanup() {
    if [[ -n $vm_pid ]] && kill -0 "$vm_pid" 2>/dev/null; then
        kill -TERM "$vm_pid" 2>/dev/null || true
        wait "$vm_pid" 2>/dev/null || true
    fi
    if [[ -n $workdir && -z ${CCJAIL_VM_KEEP:-} ]]; then
        rm -rf "$workdir"
    fi
}

usage() {
    echo "usage: $0 <build-dir> [gtest arguments...]" >&2
    echo "  CCJAIL_VM_TESTS    test binaries, relative to the build dir ($default_tests)" >&2
    echo "  CCJAIL_VM_COMMAND  a shell command to run instead of test binaries" >&2
    echo "  CCJAIL_VM_TIMEOUT  seconds before the VM is killed ($timeout_s)" >&2
    echo "  CCJAIL_VM_ENV      NAME=VALUE words to export inside the VM" >&2
    echo "  (more in tests/vm/README.md)" >&2
    exit 2
}

ensure_packages() {
    local missing=() pkg
    for pkg in qemu-system-x86 busybox-static; do
        dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
    done
    ((${#missing[@]} == 0)) && return 0
    if ((EUID != 0)); then
        skip "missing packages ${missing[*]} and not root to install them"
    fi
    say "installing ${missing[*]}"
    if ! { apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
        --no-install-recommends "${missing[@]}"; } >&2; then
        skip "could not install ${missing[*]}"
    fi
}

module_deps() {
    tr '\0' '\n' <"$1" | sed -n 's/^depends=//p' | tr ',' ' '
}

# Prints the module files to load, each after the modules it depends on.
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
        [[ -n ${path[$m]:-} ]] || {
            # Not a module file: built into this kernel, nothing to load.
            grep -q "/${m}.ko\$" "$moddir/modules.builtin" 2>/dev/null && return 0
            grep -q "/${m//_/[-_]}.ko\$" "$moddir/modules.builtin" 2>/dev/null && return 0
            say "kernel module $m not found in $moddir" >&2
            return 1
        }
        for d in $(module_deps "${path[$m]}"); do
            visit "$d" || return 1
        done
        echo "${path[$m]}"
    }
    local m
    for m in "$@"; do
        visit "$m" || return 1
    done
}

# busybox insmod reads plain .ko files only; newer Debian kernels compress their modules.
copy_module() {
    local src=$1 dst=$2
    case $src in
    *.ko.xz) xz -dc "$src" >"$dst" ;;
    *.ko.zst) zstd -qdc "$src" >"$dst" ;;
    *.ko.gz) gzip -dc "$src" >"$dst" ;;
    *) cp "$src" "$dst" ;;
    esac
}

write_conf() {
    local name
    for name in "$@"; do
        printf '%s=%q\n' "$name" "${!name}"
    done
}

# The directories the VM covers with an empty tmpfs: those that hold neither the build dir nor
# the sources the build came from (a CI clone may well live under /tmp).
fresh_dirs() {
    local keep=("$build_dir" "$(cd "$here/../.." && pwd)") src d k fresh=()
    src=$(sed -n 's/^CMAKE_HOME_DIRECTORY:INTERNAL=//p' "$build_dir/CMakeCache.txt" 2>/dev/null)
    [[ -n $src ]] && keep+=("$src")
    for d in /tmp /run; do
        for k in "${keep[@]}"; do
            [[ $k == "$d" || $k == "$d"/* ]] && continue 2
        done
        fresh+=("$d")
    done
    echo "${fresh[*]}"
}

# The upper-case variables are read by the VM's stages through vm.conf.
# shellcheck disable=SC2034
build_initramfs() {
    local kdir=$1 kver=$2 out=$3 root=$workdir/initramfs f name
    mkdir -p "$root"/{bin,dev,proc,sys,modules}
    cp /bin/busybox "$root/bin/busybox"
    cp "$here/init.sh" "$root/init"
    cp "$here/stage2.sh" "$root/stage2.sh"
    chmod 0755 "$root/init" "$root/stage2.sh"

    local files
    files=$(module_load_order "$kdir/lib/modules/$kver" "${vm_modules[@]}") || return 1
    : >"$root/modules/load-order"
    for f in $files; do
        name=${f##*/}
        name=${name%%.ko*}.ko
        copy_module "$f" "$root/modules/$name"
        echo "$name" >>"$root/modules/load-order"
    done

    RUN_ID=$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')
    P9_OPTIONS=$p9_options
    OVERLAY_SIZE=${CCJAIL_VM_OVERLAY_SIZE:-60%}
    TEST_CGROUP=$test_cgroup
    TEST_SUBGROUP=$test_subgroup
    DELEGATE_CONTROLLERS="cpu io memory pids"
    WORK_DIR=$build_dir
    FRESH_DIRS=$(fresh_dirs)
    DMESG_ON_FAILURE=1
    write_conf RUN_ID P9_OPTIONS OVERLAY_SIZE TEST_CGROUP TEST_SUBGROUP DELEGATE_CONTROLLERS WORK_DIR \
        FRESH_DIRS DMESG_ON_FAILURE >"$root/vm.conf"
    declare -p TEST_BINARIES TEST_ARGS TEST_COMMAND TEST_ENV >"$root/tests.conf"

    (cd "$root" && find . | busybox cpio -o -H newc -R 0:0 2>/dev/null) >"$out"
}

resolve_tests() {
    TEST_COMMAND=${CCJAIL_VM_COMMAND:-}
    # The VM starts from a clean environment; these NAME=VALUE words are exported there.
    read -r -a TEST_ENV <<<"${CCJAIL_VM_ENV:-}"
    TEST_BINARIES=()
    TEST_ARGS=(--gtest_color=no)
    (($# == 0)) && TEST_ARGS+=(--gtest_brief=1)
    TEST_ARGS+=("$@")
    [[ -n $TEST_COMMAND ]] && return 0
    local t
    for t in ${CCJAIL_VM_TESTS:-$default_tests}; do
        [[ $t == /* ]] || t=$build_dir/$t
        if [[ ! -x $t ]]; then
            say "test binary $t does not exist: build the project first"
            finish 1 0 1
        fi
        TEST_BINARIES+=("$t")
    done
}

boot_vm() {
    local kernel=$1 initrd=$2 raw=$3
    local append="console=ttyS0 panic=-1 quiet systemd.unified_cgroup_hierarchy=1"
    append+=" cgroup_no_v1=all mitigations=off ${CCJAIL_VM_APPEND:-}"
    # KVM is present on these machines but hangs: software emulation only. -cpu max gives the
    # guest every feature TCG emulates, so host binaries built for any x86-64 level run.
    timeout -k 10 "$timeout_s" qemu-system-x86_64 \
        -accel tcg,thread=multi -cpu max -smp "$cpus" -m "$memory_mb" \
        -nodefaults -no-user-config -display none -no-reboot -serial stdio \
        -kernel "$kernel" -initrd "$initrd" -append "$append" \
        -fsdev local,id=hostroot,path=/,security_model=none,readonly=on,multidevs=remap \
        -device virtio-9p-pci,fsdev=hostroot,mount_tag=hostroot \
        </dev/null >"$raw" 2>&1 &
    vm_pid=$!
    # Stream the console while the VM runs; tail stops once qemu is gone.
    tail -n +1 -F --pid="$vm_pid" "$raw" 2>/dev/null | tr -d '\r' &
    local tail_pid=$!
    local rc=0
    wait "$vm_pid" || rc=$?
    vm_pid=
    wait "$tail_pid" 2>/dev/null || true
    return "$rc"
}

main() {
    (($# >= 1)) || usage
    [[ -d $1 ]] || {
        echo "vm: build dir $1 does not exist" >&2
        usage
    }
    build_dir=$(cd "$1" && pwd)
    shift

    [[ $(uname -m) == x86_64 ]] || skip "the VM shares the host's x86-64 userland; this is $(uname -m)"
    resolve_tests "$@"
    ensure_packages

    local kdir kver kernel
    kdir=$(bash "$here/fetch-kernel.sh") || skip "cannot fetch the Debian kernel package"
    kver=$(ls "$kdir/lib/modules")
    kernel=$kdir/boot/vmlinuz-$kver
    [[ -f $kernel ]] || skip "no kernel image in $kdir"

    trap cleanup EXIT
    trap 'say "interrupted"; finish 130 0 1' INT TERM HUP
    workdir=$(mktemp -d /tmp/ccjail-vm.XXXXXX)
    build_initramfs "$kdir" "$kver" "$workdir/initrd.cpio" || finish 1 0 1

    local log_dir=${CCJAIL_VM_LOG_DIR:-$build_dir/tests/vm}
    mkdir -p "$log_dir"
    local log=$log_dir/serial.log raw=$workdir/serial.raw
    say "booting Debian kernel $kver (tcg, ${cpus} cpus, ${memory_mb} MiB, timeout ${timeout_s}s)"
    local boot_started=$EPOCHREALTIME vm_rc=0
    boot_vm "$kernel" "$workdir/initrd.cpio" "$raw" || vm_rc=$?
    tr -d '\r' <"$raw" >"$log"
    say "VM ran $(elapsed "$boot_started")s; tier took $(elapsed "$started")s; console log: $log"

    local marker
    marker=$(grep -ao "CCJAIL-VM-RESULT rc=[0-9]* passed=[0-9]* failed=[0-9]* skipped=[0-9]* run=$RUN_ID" "$log" | tail -n 1) || true
    if [[ -z $marker ]]; then
        marker=$(grep -ao "CCJAIL-VM-RESULT rc=[0-9]* run=$RUN_ID" "$log" | tail -n 1) || true
    fi
    if [[ -z $marker ]]; then
        if ((vm_rc == 124 || vm_rc == 137)); then
            say "FAIL: the VM did not finish within ${timeout_s}s and was killed"
        else
            say "FAIL: the VM stopped (qemu status $vm_rc) without reporting a result"
        fi
        finish 1 0 1
    fi

    local rc passed failed skipped
    rc=$(sed -n 's/.*rc=\([0-9]*\).*/\1/p' <<<"$marker")
    passed=$(sed -n 's/.*passed=\([0-9]*\).*/\1/p' <<<"$marker")
    failed=$(sed -n 's/.*failed=\([0-9]*\).*/\1/p' <<<"$marker")
    skipped=$(sed -n 's/.*skipped=\([0-9]*\).*/\1/p' <<<"$marker")
    passed=${passed:-0} failed=${failed:-0} skipped=${skipped:-0}
    if ((rc == 125)); then
        say "FAIL: the VM could not set up the test environment (see the log)"
        finish 1 "$passed" $((failed > 0 ? failed : 1))
    fi
    if ((rc != 0 || failed > 0)); then
        say "FAIL: the suite failed inside the VM (status $rc)"
        finish 1 "$passed" $((failed > 0 ? failed : 1)) "$skipped"
    fi
    say "PASS: the suite passed inside the VM"
    finish 0 "$passed" "$failed" "$skipped"
}

main "$@"
