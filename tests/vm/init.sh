#!/bin/busybox sh
# Stage 1 of the VM tier: pid 1 inside the initramfs (busybox only).
#
# Builds the test machine's root: the host's root file system, shared read-only over 9p,
# under a tmpfs overlay so that tests may write anywhere (the writes vanish with the VM and
# never reach the host), with the same paths as on the host (build dir, /usr, /etc, ...).
# Then mounts the kernel file systems, cgroup2 alone (cgroup_no_v1=all on the command line
# makes any v1 mount impossible), and hands over to stage 2 on the host's userland.

/bin/busybox --install -s /bin
export PATH=/bin

# shellcheck disable=SC1091  # written by run.sh into the initramfs
. /vm.conf

# Every failure here must still end with the result marker, or the host would wait for the
# timeout to learn that the VM never got as far as the tests.
die() {
    echo "ccjail-vm: stage 1 failed: $*"
    echo "CCJAIL-VM-RESULT rc=125 run=$RUN_ID"
    poweroff -f
}

must() {
    "$@" || die "$*"
}

must mount -t proc -o nosuid,nodev,noexec proc /proc
must mount -t sysfs -o nosuid,nodev,noexec sysfs /sys
must mount -t devtmpfs -o nosuid devtmpfs /dev

# The Debian kernel builds 9p, virtio-pci and overlayfs as modules; load-order lists them
# with their dependencies first (the package ships no modules.dep: depmod runs at install).
while read -r module; do
    insmod "/modules/$module" || die "insmod $module"
done </modules/load-order

# The virtio-pci device may be probed a moment after its driver loads.
tries=0
until grep -q hostroot /sys/bus/virtio/drivers/9pnet_virtio/*/mount_tag 2>/dev/null; do
    tries=$((tries + 1))
    [ "$tries" -gt 100 ] && die "no 9p device tagged hostroot"
    sleep 0.1
done

mkdir -p /lower /rw /newroot
must mount -t 9p -o "ro,trans=virtio,version=9p2000.L,$P9_OPTIONS" hostroot /lower
must mount -t tmpfs -o "mode=0755,size=$OVERLAY_SIZE" tmpfs /rw
mkdir -p /rw/upper /rw/work
must mount -t overlay -o lowerdir=/lower,upperdir=/rw/upper,workdir=/rw/work overlay /newroot

n=/newroot
must mount -t proc -o nosuid,nodev,noexec proc $n/proc
must mount -t sysfs -o nosuid,nodev,noexec sysfs $n/sys
# Delegation-ready like systemd's mount: nsdelegate makes cgroup namespaces delegation
# boundaries, which is what production jails run under.
must mount -t cgroup2 -o nosuid,nodev,noexec,nsdelegate,memory_recursiveprot cgroup2 \
    $n/sys/fs/cgroup
must mount -t devtmpfs -o nosuid devtmpfs $n/dev
mkdir -p $n/dev/pts $n/dev/shm $n/dev/mqueue
must mount -t devpts -o nosuid,noexec,newinstance,ptmxmode=0666,mode=0620,gid=5 devpts \
    $n/dev/pts
must mount -t tmpfs -o nosuid,nodev,mode=1777 tmpfs $n/dev/shm
must mount -t mqueue -o nosuid,nodev,noexec mqueue $n/dev/mqueue
# Fresh, empty /tmp and /run unless the host keeps the build or the sources there (run.sh
# decides); the overlay keeps them writable either way.
for dir in $FRESH_DIRS; do
    case $dir in
    /tmp) mode=1777 ;;
    *) mode=0755 ;;
    esac
    must mount -t tmpfs -o nosuid,nodev,mode=$mode tmpfs "$n$dir"
done

mkdir -p $n/run/ccjail-vm
cp /vm.conf /tests.conf /stage2.sh /bin/busybox $n/run/ccjail-vm/ || die "copying stage 2"

# The initial network namespace starts with lo down; tests talk to loopback servers.
ip link set lo up || die "lo up"
hostname ccjail-vm

# shellcheck disable=SC2093  # exec fails only when switch_root cannot start
exec switch_root $n /bin/bash /run/ccjail-vm/stage2.sh
die "switch_root"
