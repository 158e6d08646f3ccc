#!/bin/bash
# The full-system tier's checks, run inside the VM (Debian 12, systemd as pid 1, cgroup v2) by
# ccjail-system-runner from the payload disk:
#
#   bash checks.sh <payload-dir> <run-id>
#
# Installs the package offline, then checks the systemd integration of ccjaild. Each check
# prints `ok NAME` or `not ok NAME: WHY`; lines starting with `#` record what the system looked
# like (the cgroup layout, the restart after SIGKILL, the security score). The last line is the
# marker `CCJAIL-SYSTEM-RESULT rc=.. passed=.. failed=.. run=..` that run.sh looks for.
set -u

payload=$1
run_id=$2
passed=0
failed=0
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export SYSTEMD_PAGER='' SYSTEMD_COLORS=0 LANG=C.UTF-8
# Under software emulation a jail takes seconds to build; nothing here should take minutes.
t=${CCJAIL_SYSTEM_STEP_TIMEOUT:-180}

ok() {
    echo "ok $1"
    passed=$((passed + 1))
}

not_ok() {
    echo "not ok $1: $2"
    failed=$((failed + 1))
}

note() { sed 's/^/# /'; }

# Waits up to $1 seconds (wall clock: under emulation each try itself takes a while) for the
# command to succeed.
wait_for() {
    local deadline=$((SECONDS + $1))
    shift
    while ((SECONDS < deadline)); do
        "$@" && return 0
        sleep 0.5
    done
    return 1
}

main_pid() { systemctl show -p MainPID --value ccjaild.service; }

unit_cgroup=/sys/fs/cgroup/system.slice/ccjaild.service

check_install() {
    cp "$payload/ccjail.deb" /root/ccjail.deb
    local out
    # Offline by construction (the VM has no network device), so every dependency must already
    # be in the image. (--no-download would say so too, but apt 2.6 then rejects a local .deb.)
    if out=$(DEBIAN_FRONTEND=noninteractive timeout "$t" apt-get install -y -q \
        /root/ccjail.deb 2>&1); then
        ok "install: apt-get install /root/ccjail.deb (offline)"
    else
        not_ok "install" "apt-get install failed"
        echo "$out" | tail -n 20 | note
        return 1
    fi
    echo "$out" | grep -iE 'ccjail|warn|error' | note
}

check_socket() {
    local enabled active
    enabled=$(systemctl is-enabled ccjaild.socket 2>&1)
    active=$(systemctl is-active ccjaild.socket 2>&1)
    if [[ $enabled == enabled && $active == active && -S /run/ccjail/ccjaild.sock ]]; then
        ok "socket: ccjaild.socket enabled, listening on /run/ccjail/ccjaild.sock"
    else
        not_ok "socket" "is-enabled=$enabled is-active=$active socket file: $(ls -l /run/ccjail/ccjaild.sock 2>&1)"
    fi
    echo "service before first connect: is-enabled=$(systemctl is-enabled ccjaild.service 2>&1) is-active=$(systemctl is-active ccjaild.service 2>&1)" | note
    stat -c '%A %U:%G %n' /run/ccjail/ccjaild.sock 2>&1 | note
}

check_activation() {
    local before out
    before=$(systemctl is-active ccjaild.service 2>&1)
    if ! out=$(timeout "$t" ccjailctl list 2>&1); then
        not_ok "activation" "ccjailctl list failed: $out"
        journalctl -u ccjaild -b --no-pager -n 30 2>&1 | note
        return 1
    fi
    local after
    after=$(systemctl is-active ccjaild.service 2>&1)
    if [[ $before != active && $after == active ]]; then
        ok "activation: first ccjailctl list started ccjaild ($before -> $after)"
    else
        not_ok "activation" "service was $before before the first connect, $after after"
    fi
    echo "$out" | note
}

check_status() {
    local status
    status=$(systemctl show -p StatusText --value ccjaild.service)
    echo "StatusText=$status Type=$(systemctl show -p Type --value ccjaild) NRestarts=$(systemctl show -p NRestarts --value ccjaild)" | note
    if [[ $(systemctl is-active ccjaild) == active && $status =~ ^[0-9]+\ sessions?$ ]]; then
        ok "status: active, sd_notify StatusText '$status'"
    else
        not_ok "status" "is-active=$(systemctl is-active ccjaild) StatusText='$status'"
    fi
}

check_ccjailctl_check() {
    local out rc=0
    out=$(timeout "$t" ccjailctl check 2>&1) || rc=$?
    echo "$out" | note
    if ((rc == 0)); then
        ok "check: ccjailctl check reports no failure"
    else
        not_ok "check" "ccjailctl check exited $rc"
    fi
}

check_session() {
    local out rc=0
    out=$(timeout "$t" ccjailctl run --pipe --profile shell --user alice -- -c 'id -u; echo hi' 2>&1) || rc=$?
    echo "$out" | note
    local uid
    uid=$(echo "$out" | grep -E '^[0-9]+$' | head -n 1)
    if ((rc == 0)) && [[ -n $uid && $uid != 0 ]] && echo "$out" | grep -qx hi; then
        ok "session${1:+ $1}: shell profile ran as uid $uid and printed hi"
    else
        not_ok "session${1:+ $1}" "exit $rc, output above"
        return 1
    fi
}

sessions_cgroup=/sys/fs/cgroup/system.slice/ccjail-sessions.service

# Records the delegation layout of both units.
record_layout() {
    systemd-cgls --no-pager -u ccjaild.service 2>&1 | note
    systemd-cgls --no-pager -u ccjail-sessions.service 2>&1 | note
    local d
    for d in $(find "$unit_cgroup" "$sessions_cgroup" -type d 2>/dev/null); do
        echo "${d#/sys/fs/cgroup/}: procs=$(wc -l <"$d/cgroup.procs") subtree_control='$(cat "$d/cgroup.subtree_control")'"
    done | note
}

# The documented layout (docs/operations.md): ccjaild and the monitors in ccjaild.service's own
# cgroup, which enables no controller (so systemd can always start a new main process there);
# the jails as leaves of ccjail-sessions.service beside its `holder` leaf, with memory and pids.
check_layout() {
    local id pid cg holder
    id=$(timeout "$t" ccjailctl run --detach --profile shell --user layout -- -c 'sleep 300' 2>&1 | tail -n 1)
    sleep 1
    record_layout
    pid=$(main_pid)
    cg=$(cut -d: -f3 "/proc/$pid/cgroup" 2>/dev/null)
    holder=$(systemctl show -p MainPID --value ccjail-sessions.service)
    echo "ccjaild $pid in $cg; holder $holder in $(cut -d: -f3 "/proc/$holder/cgroup" 2>/dev/null); session $id" | note
    local why=()
    [[ $cg == /system.slice/ccjaild.service ]] || why+=("ccjaild in '$cg'")
    [[ -z $(cat "$unit_cgroup/cgroup.subtree_control" 2>/dev/null) ]] || why+=("ccjaild.service enables controllers")
    [[ $(cut -d: -f3 "/proc/$holder/cgroup" 2>/dev/null) == /system.slice/ccjail-sessions.service/holder ]] || why+=("holder not in its leaf")
    grep -qw memory "$sessions_cgroup/cgroup.subtree_control" 2>/dev/null || why+=("no memory controller for jails")
    [[ -d $sessions_cgroup/jail-$id && -n $(cat "$sessions_cgroup/jail-$id/cgroup.procs" 2>/dev/null) ]] || why+=("no populated $sessions_cgroup/jail-$id")
    [[ -e $sessions_cgroup/jail-$id/memory.max ]] || why+=("jail-$id has no memory.max")
    timeout "$t" ccjailctl kill "$id" >/dev/null 2>&1
    if ((${#why[@]} == 0)); then
        ok "layout: ccjaild in its unit's cgroup, jail-$id with memory.max beside the holder in ccjail-sessions.service"
    else
        not_ok "layout" "${why[*]}"
    fi
}

journal_since() { journalctl -u ccjaild --since "$1" --no-pager -o cat 2>/dev/null; }

# systemctl reload with a broken profile keeps the old one; with an invalid ccjaild.json keeps
# the running configuration; neither touches the daemon's pid.
check_reload() {
    local pid since profile=/etc/ccjail/profiles/shell.json config=/etc/ccjail/ccjaild.json
    pid=$(main_pid)
    cp "$profile" /root/shell.json.good
    cp "$config" /root/ccjaild.json.good
    since=$(date '+%Y-%m-%d %H:%M:%S')
    sleep 1
    echo '{"extends": "base", "network": "wifi"}' >"$profile"
    echo '{"max_sessions": "many"}' >"$config"
    if ! timeout "$t" systemctl reload ccjaild; then
        not_ok "reload" "systemctl reload failed"
    fi
    wait_for 30 sh -c "journalctl -u ccjaild --since '$since' --no-pager | grep -q profiles_loaded"
    local log
    log=$(journal_since "$since")
    echo "$log" | grep -E 'config_reload|profiles_loaded' | cut -c1-400 | note
    local why=()
    echo "$log" | grep -q '"event":"config_reload_failed".*max_sessions' || why+=("no config_reload_failed naming max_sessions")
    echo "$log" | grep -q '"kept_previous":{"shell"' || why+=("shell not kept_previous")
    check_session "(after reload with a broken shell.json)" >/dev/null || why+=("the kept shell profile does not run")
    [[ $(main_pid) == "$pid" && $(systemctl is-active ccjaild) == active ]] || why+=("pid $pid -> $(main_pid)")
    cp /root/shell.json.good "$profile"
    cp /root/ccjaild.json.good "$config"
    timeout "$t" systemctl reload ccjaild
    if ((${#why[@]} == 0)); then
        ok "reload: broken profile and invalid config refused, old ones kept, same pid $pid"
    else
        not_ok "reload" "${why[*]}"
    fi
}

# Starts a detached session that writes lines 1..1000, waits, writes 1001..2000 (while the daemon
# is down or just re-adopting), then sleeps; prints its id.
start_detached() {
    timeout "$t" ccjailctl run --detach --pipe --profile shell --user alice -- \
        -c 'seq 1 1000; sleep 6; seq 1001 2000; sleep 300' 2>&1 | tail -n 1
}

sleepers() { pgrep -x sleep | tr '\n' ' '; }

# Every process of both units' cgroups, as "pid:comm".
unit_processes() {
    local p
    for p in /proc/[0-9]*; do
        grep -qE 'ccjaild.service|ccjail-sessions.service' "$p/cgroup" 2>/dev/null &&
            echo -n "${p#/proc/}:$(cat "$p/comm" 2>/dev/null) "
    done
}

jail_cgroups() { find "$sessions_cgroup" "$unit_cgroup" -mindepth 1 -maxdepth 1 -type d -name 'jail-*' 2>/dev/null | tr '\n' ' '; }

# A crash of the daemon, as `systemctl kill -s KILL ccjaild` (every process of ccjaild.service:
# only the daemon lives there, the monitors and jails are in ccjail-sessions.service) and as a
# SIGKILL of the main process alone: systemd restarts ccjaild, which re-adopts the session; its
# output, written partly while no daemon ran, arrives whole.
check_kill_restart() {
    local whom=$1 id
    id=$(start_detached)
    if [[ ! $id =~ ^[0-9a-f]{16}$ ]]; then
        not_ok "kill-restart($whom)" "detached session did not start: $id"
        return 1
    fi
    sleep 2
    local old_pid restarts
    old_pid=$(main_pid)
    restarts=$(systemctl show -p NRestarts --value ccjaild)
    local args=(-s KILL)
    [[ $whom != all ]] && args+=(--kill-whom="$whom")
    systemctl kill "${args[@]}" ccjaild
    # RestartSec=2s, and a start under emulation takes a while.
    if ! wait_for 90 sh -c "[ \"\$(systemctl show -p NRestarts --value ccjaild)\" -gt $restarts ] && [ \"\$(systemctl is-active ccjaild)\" = active ]"; then
        echo "no restart within 90s: $(systemctl show -p ActiveState,SubState,Result,ExecMainStatus,NRestarts ccjaild | tr '\n' ' ')" | note
    fi
    journalctl -u ccjaild -b --no-pager -o cat -n 8 2>&1 | cut -c1-300 | note
    sleep 6
    local out expected
    out=$(timeout 20 ccjailctl attach --read-only --from-offset 0 "$id" 2>/dev/null)
    expected=$(seq 1 2000)
    local why=()
    [[ $(systemctl is-active ccjaild) == active && $(main_pid) != "$old_pid" ]] || why+=("not restarted: pid $old_pid -> $(main_pid)")
    timeout "$t" ccjailctl list 2>&1 | grep -q -- "$id" || why+=("session $id not listed")
    [[ $out == "$expected" ]] || why+=("output after re-adoption: $(echo "$out" | wc -l) lines, first '$(echo "$out" | head -n 1)', last '$(echo "$out" | tail -n 1)'")
    timeout "$t" ccjailctl kill "$id" >/dev/null 2>&1
    if ((${#why[@]} == 0)); then
        ok "kill-restart($whom): ccjaild restarted (pid $old_pid -> $(main_pid)), session $id re-adopted, its 2000 lines intact"
    else
        not_ok "kill-restart($whom)" "${why[*]}"
    fi
}

# systemctl stop: the daemon ends every session; then ccjaild-stop stops ccjail-sessions.service
# too, and nothing is left of either.
check_stop() {
    timeout "$t" ccjailctl run --detach --profile shell --user alice -- -c 'sleep 300' >/dev/null 2>&1 || true
    sleep 1
    if ! timeout "$t" systemctl stop ccjaild; then
        not_ok "stop" "systemctl stop failed"
        return 1
    fi
    wait_for 30 sh -c '! systemctl is-active -q ccjail-sessions'
    local procs cgroups
    procs=$(unit_processes)
    cgroups=$(jail_cgroups)
    echo "after stop: ccjaild $(systemctl is-active ccjaild), ccjail-sessions $(systemctl is-active ccjail-sessions), processes '$procs', jail cgroups '$cgroups'" | note
    if [[ $(systemctl is-active ccjaild) != active && $(systemctl is-active ccjail-sessions) != active && -z $procs && -z $cgroups && -z $(sleepers) ]]; then
        ok "stop: no jail process, monitor or cgroup left; ccjail-sessions.service stopped with it"
    else
        not_ok "stop" "leftovers: processes '$procs' cgroups '$cgroups' sleepers '$(sleepers)'"
    fi
}

# A crash, then a stop before the restart: no daemon is left to end the session, and it lives on
# in ccjail-sessions.service (for the monitors' orphan timeout) until that unit is stopped,
# which leaves nothing.
check_crash_then_stop() {
    timeout "$t" systemctl start ccjaild
    local id
    id=$(start_detached)
    sleep 1
    systemctl kill --kill-whom=main -s KILL ccjaild
    timeout "$t" systemctl stop ccjaild
    local kept
    kept=$(sleepers)
    echo "after crash and stop: ccjaild $(systemctl is-active ccjaild), ccjail-sessions $(systemctl is-active ccjail-sessions), sleep pids '$kept'" | note
    timeout "$t" systemctl stop ccjail-sessions
    local procs cgroups
    procs=$(unit_processes)
    cgroups=$(jail_cgroups)
    echo "after stopping ccjail-sessions: processes '$procs', jail cgroups '$cgroups'" | note
    if [[ $id =~ ^[0-9a-f]{16}$ && -n $kept && -z $procs && -z $cgroups && -z $(sleepers) ]]; then
        ok "crash-then-stop: session $id kept by ccjail-sessions.service, gone with its stop"
    else
        not_ok "crash-then-stop" "session '$id', kept '$kept', leftovers: processes '$procs' cgroups '$cgroups'"
    fi
}

check_security() {
    local unit out score scores=()
    for unit in ccjaild.service ccjail-sessions.service; do
        out=$(systemd-analyze security --no-pager "$unit" 2>&1)
        echo "$out" | grep -E '^✗|^\s*✗|Overall' | note
        score=$(echo "$out" | grep -o "Overall exposure level for $unit: .*" | head -n 1)
        [[ -n $score ]] && scores+=("$score")
    done
    if ((${#scores[@]} == 2)); then
        ok "security: ${scores[0]}; ${scores[1]}"
    else
        not_ok "security" "systemd-analyze security printed no score"
    fi
}

# The daemon tier's suite (tests/daemon, the test binary of this build) against the installed
# programs and the installed base profile: each test starts /usr/sbin/ccjaild with
# /usr/bin/ccjail-exec on a socket of its own. It runs in a transient service with Delegate=yes
# and moves itself into a leaf of it, as the packaged units' processes do, so the jails'
# cgroups are built the way they are under the service. Each test counts as one check.
check_daemon_suite() {
    local dir=$payload/daemon-suite
    if [[ ! -x $dir/ccjail_daemon_tests ]]; then
        not_ok "daemon suite" "no test binary on the payload disk (the build had no tests)"
        return 1
    fi
    local out=/root/daemon-suite.txt rc=0 limit=$((t * 6))
    # A file, not `bash -c`: systemd expands $ in a unit's command line (systemd-run has no
    # --expand-environment=no before 254), which turned `echo $$` into `echo $`.
    local enter_leaf=/root/enter-supervisor-leaf.sh
    # shellcheck disable=SC2016  # expanded by the unit's shell
    printf '%s\n' 'leaf=/sys/fs/cgroup$(sed -n "s/^0:://p" /proc/self/cgroup)/supervisor' \
        'mkdir -p "$leaf" && echo $$ >"$leaf/cgroup.procs" && exec "$@"' >"$enter_leaf"
    timeout -k 10 "$limit" systemd-run --quiet --wait --pipe --collect \
        --unit=ccjail-daemon-suite -p Delegate=yes -p RuntimeMaxSec="$limit" \
        --setenv=CCJAIL_DTEST_CCJAILD=/usr/sbin/ccjaild \
        --setenv=CCJAIL_DTEST_EXEC=/usr/bin/ccjail-exec \
        --setenv=CCJAIL_DTEST_CTL=/usr/bin/ccjailctl \
        --setenv=CCJAIL_DTEST_BASE_PROFILE=/etc/ccjail/profiles/base.json \
        --setenv=CCJAIL_DTEST_PROBE_DIR="$dir/probes" \
        --setenv=CCJAIL_DTEST_PROFILES_DIR="$dir/profiles" \
        /bin/bash "$enter_leaf" "$dir/ccjail_daemon_tests" --gtest_color=no \
        --gtest_brief=1 </dev/null >"$out" 2>&1 || rc=$?
    local ran p s f
    ran=$(sed -n 's/^\[==========\] \([0-9]*\) tests\{0,1\} from .* ran\..*/\1/p' "$out" | tail -n 1)
    p=$(sed -n 's/^\[  PASSED  \] \([0-9]*\) tests\{0,1\}\.$/\1/p' "$out" | tail -n 1)
    s=$(sed -n 's/^\[  SKIPPED \] \([0-9]*\) tests\{0,1\}[.,].*/\1/p' "$out" | tail -n 1)
    p=${p:-0} s=${s:-0}
    f=$((${ran:-0} - p - s))
    ((rc != 0 && f <= 0)) && f=1
    echo "daemon suite against the installed programs: ${ran:-0} ran, $p passed, $s skipped, $f failed (exit $rc)" | note
    grep -E '^\[  SKIPPED \] [A-Za-z]' "$out" | sort -u | note
    passed=$((passed + p))
    if ((f > 0)); then
        local names count=1
        names=$(grep -E '^\[  FAILED  \] [A-Za-z]' "$out" | sed 's/^\[  FAILED  \] //; s/ (.*//' | sort -u)
        if [[ -n $names ]]; then
            count=$(grep -c . <<<"$names")
            while IFS= read -r name; do not_ok "daemon suite: $name" "see the output below"; done <<<"$names"
        else
            not_ok "daemon suite" "the test binary ended without a summary (exit $rc)"
        fi
        ((f > count)) && failed=$((failed + f - count))
        tail -n 80 "$out" | note
        return 1
    fi
    echo "ok daemon suite: $p tests passed against /usr/sbin/ccjaild"
}

run_check() {
    local started=$EPOCHREALTIME rc=0
    "$@" || rc=$?
    echo "$1 took $(awk "BEGIN { printf \"%.1f\", $EPOCHREALTIME - $started }")s" | note
    return "$rc"
}

main() {
    echo "# ccjail full-system checks (run $run_id): $(uname -r), systemd $(systemctl --version | head -n 1 | cut -d' ' -f2), $(stat -fc %T /sys/fs/cgroup)"
    echo "# checks start $(cut -d' ' -f1 /proc/uptime)s after the kernel started"
    if [[ -n $(tr -d '[:space:]' 2>/dev/null <"$payload/only") ]]; then
        # CCJAIL_SYSTEM_ONLY (run.sh): the install, then only the named checks.
        local name
        if run_check check_install; then
            for name in $(cat "$payload/only"); do run_check "check_$name"; done
        fi
    elif run_check check_install; then
        run_check check_socket
        run_check check_activation
        run_check check_status
        run_check check_ccjailctl_check
        run_check check_session
        run_check check_layout
        run_check check_reload
        run_check check_kill_restart all
        run_check check_kill_restart main
        run_check check_stop
        run_check check_crash_then_stop
        # Socket activation again, from a stopped service.
        run_check check_activation
        run_check check_security
        run_check check_daemon_suite
    fi
    local rc=0
    ((failed > 0)) && rc=1
    echo "CCJAIL-SYSTEM-RESULT rc=$rc passed=$passed failed=$failed run=$run_id" |
        tee /run/ccjail-system-result
}

main
