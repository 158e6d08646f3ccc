#!/bin/busybox sh
# shellcheck shell=dash
# pid 1 of the full-system tier's initramfs (busybox only): loads the drivers the Debian kernel
# builds as modules (virtio-pci, virtio-blk, ext4), mounts the root disk /dev/vda read-write,
# and hands pid 1 over to the image's systemd.
/bin/busybox --install -s /bin
export PATH=/bin

die() {
    echo "ccjail-system: initramfs failed: $*"
    echo "CCJAIL-SYSTEM-RESULT rc=125 passed=0 failed=1 run=initramfs"
    poweroff -f
}

mount -t proc proc /proc || die "mount /proc"
mount -t sysfs sysfs /sys || die "mount /sys"
mount -t devtmpfs devtmpfs /dev || die "mount /dev"

while read -r module; do
    insmod "/modules/$module" || die "insmod $module"
done </modules/load-order

# The disk appears a moment after virtio-blk probes the device.
tries=0
until [ -b /dev/vda ]; do
    tries=$((tries + 1))
    [ "$tries" -gt 100 ] && die "no /dev/vda"
    sleep 0.1
done
mount -t ext4 -o rw /dev/vda /newroot || die "mount /dev/vda"

# systemd mounts /proc, /sys and the cgroup2 hierarchy itself; devtmpfs moves along.
mount --move /dev /newroot/dev || die "move /dev"
umount /sys /proc
exec switch_root /newroot /sbin/init
