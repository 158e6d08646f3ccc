#!/bin/bash
# Stage 2 of the VM tier: pid 1 after switch_root, running on the host's own userland (seen
# read-only over 9p under a tmpfs overlay). Places the test run in a delegated cgroup the way
# systemd places ccjaild, runs the suites, and reports one result line on the serial console:
#
#   CCJAIL-VM-RESULT rc=<n> passed=<n> failed=<n> skipped=<n> run=<id>
#
# The run id is a nonce chosen by the host for this boot, so output of the tests themselves can
# never pass for the marker.
set -u

conf=/run/ccjail-vm
# shellcheck disable=SC1091  # written by run.sh into the initramfs
. $conf/vm.conf
# shellcheck disable=SC1091
. $conf/tests.conf

export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export HOME=/root TMPDIR=/tmp LANG=C.UTF-8 TERM=dumb
((${#TEST_ENV[@]} > 0)) && export "${TEST_ENV[@]}"
cd /

passed=0
failed=0
skipped=0

# Powering off shuts the 9p device down; pid 1 must then fault in no page of the shared root,
# or it dies of SIGBUS and the kernel panics on the way out. So the last program is busybox
# from a tmpfs copy, which powers off synchronously with reboot(2).
power_off() {
    exec $conf/busybox poweroff -f
}

enable_controllers() {
    local dir=$1 c
    for c in $DELEGATE_CONTROLLERS; do
        if grep -qw "$c" "$dir/cgroup.controllers"; then
            echo "+$c" >"$dir/cgroup.subtree_control" || return 1
        fi
    done
}

# Like a systemd unit with Delegate=yes and DelegateSubgroup=: every ancestor of the unit's
# cgroup enables the controllers, the unit's own subtree_control is left to ccjail, and the
# tests (standing in for ccjaild) run in a leaf below the unit.
enter_test_cgroup() {
    local dir=/sys/fs/cgroup part
    [[ -z $TEST_CGROUP ]] && return 0
    for part in ${TEST_CGROUP//\// }; do
        enable_controllers "$dir" || return 1
        dir=$dir/$part
        mkdir -p "$dir" || return 1
    done
    if [[ -n $TEST_SUBGROUP ]]; then
        dir=$dir/$TEST_SUBGROUP
        mkdir -p "$dir" || return 1
    fi
    echo "$BASHPID" >"$dir/cgroup.procs"
}

# Adds the counts from gtest's closing summary. Brief mode prints no failure count, so failures
# are what ran minus what passed or skipped. A binary that failed without a summary (crash,
# abort, missing) counts as one failure, so that a broken run never reads as green.
count_gtest() {
    local out=$1 rc=$2 ran p s f
    ran=$(sed -n 's/^\[==========\] \([0-9]*\) tests\{0,1\} from .* ran\..*/\1/p' "$out" | tail -n 1)
    p=$(sed -n 's/^\[  PASSED  \] \([0-9]*\) tests\{0,1\}\.$/\1/p' "$out" | tail -n 1)
    s=$(sed -n 's/^\[  SKIPPED \] \([0-9]*\) tests\{0,1\}[.,].*/\1/p' "$out" | tail -n 1)
    p=${p:-0} s=${s:-0}
    f=$((${ran:-0} - p - s))
    if ((rc != 0 && f <= 0)); then
        f=1
    fi
    passed=$((passed + p))
    skipped=$((skipped + s))
    failed=$((failed + f))
}

run_gtest_binaries() {
    local rc=0 bin out one i=0
    for bin in "${TEST_BINARIES[@]}"; do
        i=$((i + 1))
        out=$conf/output-$i.txt
        echo "ccjail-vm: running $bin ${TEST_ARGS[*]}"
        if [[ ! -x $bin ]]; then
            echo "ccjail-vm: $bin is missing or not executable"
            failed=$((failed + 1))
            rc=1
            continue
        fi
        # tee keeps a copy away from the console, where kernel messages may interleave.
        "$bin" "${TEST_ARGS[@]}" 2>&1 | tee "$out"
        one=${PIPESTATUS[0]}
        echo "ccjail-vm: $bin exited with $one"
        count_gtest "$out" "$one"
        ((one != 0)) && rc=1
    done
    return $rc
}

run_command() {
    echo "ccjail-vm: running: $TEST_COMMAND"
    bash -c "$TEST_COMMAND"
    local rc=$?
    if ((rc == 0)); then passed=1; else failed=1; fi
    return $rc
}

run_tests() {
    enter_test_cgroup || {
        echo "ccjail-vm: cannot set up the test cgroup $TEST_CGROUP"
        return 125
    }
    cd "$WORK_DIR" || return 125
    if [[ -n $TEST_COMMAND ]]; then
        run_command
    else
        run_gtest_binaries
    fi
}

echo "ccjail-vm: kernel $(uname -r); cgroup2 controllers: $(cat /sys/fs/cgroup/cgroup.controllers)"
echo "ccjail-vm: up $(cut -d' ' -f1 /proc/uptime)s after boot"
start=$EPOCHREALTIME
start_uptime=$(cut -d' ' -f1 /proc/uptime)

# A subshell, so that only the tests (not pid 1) move into the test cgroup; the counters come
# back through a file.
(
    run_tests
    rc=$?
    echo "$rc $passed $failed $skipped" >$conf/counts
    exit $rc
)
rc=$?
read -r _ passed failed skipped <$conf/counts 2>/dev/null || {
    passed=0
    failed=1
    skipped=0
}

echo "ccjail-vm: tests took $(awk "BEGIN { printf \"%.1f\", $EPOCHREALTIME - $start }")s"
if ((rc != 0)) && [[ -n ${DMESG_ON_FAILURE:-} ]]; then
    echo "ccjail-vm: kernel messages since the tests started:"
    dmesg | awk -v t="$start_uptime" '{ s = $0; sub(/^\[ */, "", s); if (s + 0 >= t + 0) print }' |
        tail -n 60
fi
echo "CCJAIL-VM-RESULT rc=$rc passed=$passed failed=$failed skipped=$skipped run=$RUN_ID"
power_off
