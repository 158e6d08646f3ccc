#!/bin/bash
# Installed in the tier's image as /usr/local/sbin/ccjail-system-runner and started by
# ccjail-system-test.service once multi-user.target is reached: mounts the payload disk that
# run.sh made for this boot (/dev/vdb: the .deb, the checks, the run id), runs the checks, and
# powers the VM off. Every path out prints the result marker, or the host would only learn of
# a failure from its timeout.
payload=/run/ccjail-payload
mkdir -p "$payload"
if ! mount -o ro /dev/vdb "$payload"; then
    echo "ccjail-system: cannot mount the payload disk /dev/vdb"
    echo "CCJAIL-SYSTEM-RESULT rc=125 passed=0 failed=1 run=unknown"
    systemctl poweroff --no-block
    exit 0
fi
run_id=$(cat "$payload/run-id" 2>/dev/null || echo unknown)
rc=0
bash "$payload/checks.sh" "$payload" "$run_id" || rc=$?
grep -q "CCJAIL-SYSTEM-RESULT" /run/ccjail-system-result 2>/dev/null ||
    echo "CCJAIL-SYSTEM-RESULT rc=$((rc == 0 ? 125 : rc)) passed=0 failed=1 run=$run_id"
sync
systemctl poweroff --no-block
exit 0
