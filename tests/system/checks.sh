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

# Diagnosis, not a check: when the shipped unit cannot run a session, find out why and work
# around it with runtime drop-ins, so that the later checks still say something about restart
# and re-adoption. Two causes were seen on systemd 252:
#  1. RestrictSUIDSGID=yes: systemd's filter cannot inspect openat2's flags (they sit in a
#     struct), so it makes openat2 fail with ENOSYS; the workspace walk needs openat2.
#  2. The daemon stays in the unit's own cgroup (only the per-jail process moves itself into
#     `supervisor`), so enabling controllers there fails with EBUSY. The wrapper moves the
#     daemon into the leaf before exec, which is what DelegateSubgroup=supervisor does on
#     systemd 254 and later.
dropins=/run/systemd/system/ccjaild.service.d
apply_dropin() {
    mkdir -p "$dropins"
    printf '%s\n' "$2" >"$dropins/$1.conf"
    echo "runtime drop-in $1.conf: $(tr '\n' ' ' <"$dropins/$1.conf")" | note
    systemctl daemon-reload
    timeout "$t" systemctl restart ccjaild 2>&1 | note
}

with_workarounds() {
    apply_dropin zz-diag-suid "$(printf '[Service]\nRestrictSUIDSGID=no')"
    check_session "(RestrictSUIDSGID=no)" && return 0
    cat >/usr/local/sbin/ccjaild-in-leaf <<'EOS'
#!/bin/sh
leaf=/sys/fs/cgroup/system.slice/ccjaild.service/supervisor
mkdir -p "$leaf" && echo $$ >"$leaf/cgroup.procs" && exec /usr/sbin/ccjaild "$@"
EOS
    chmod 0755 /usr/local/sbin/ccjaild-in-leaf
    apply_dropin zz-diag-leaf "$(printf '[Service]\nExecStart=\nExecStart=/usr/local/sbin/ccjaild-in-leaf')"
    check_session "(RestrictSUIDSGID=no, daemon moved into supervisor)"
}

# Records the delegation layout; checks that the daemon sits in a leaf below the unit's cgroup.
record_layout() {
    systemd-cgls --no-pager -u ccjaild.service 2>&1 | note
    local d
    if [[ -d $unit_cgroup ]]; then
        while IFS= read -r d; do
            echo "${d#/sys/fs/cgroup/}: procs=$(wc -l <"$d/cgroup.procs") subtree_control='$(cat "$d/cgroup.subtree_control")' type=$(cat "$d/cgroup.type")"
        done < <(find "$unit_cgroup" -type d) | note
    fi
}

check_layout() {
    record_layout
    local pid cg
    pid=$(main_pid)
    cg=$(cut -d: -f3 "/proc/$pid/cgroup" 2>/dev/null)
    echo "MainPID $pid in $cg" | note
    if [[ $cg == /system.slice/ccjaild.service/* ]]; then
        ok "layout: daemon in leaf $cg below the unit's delegated cgroup"
    else
        not_ok "layout" "daemon (pid $pid) in '$cg', not in a leaf below ccjaild.service"
    fi
}

check_reload() {
    local pid since
    pid=$(main_pid)
    since=$(date '+%Y-%m-%d %H:%M:%S')
    sleep 1
    if ! timeout "$t" systemctl reload ccjaild; then
        not_ok "reload" "systemctl reload failed"
        return 1
    fi
    local logged=
    wait_for 30 sh -c "journalctl -u ccjaild --since '$since' --no-pager | grep -q profiles_checked" &&
        logged=1
    journalctl -u ccjaild --since "$since" --no-pager 2>&1 | tail -n 5 | note
    if [[ -n $logged && $(systemctl is-active ccjaild) == active && $(main_pid) == "$pid" ]]; then
        ok "reload: same pid $pid still active, profiles_checked logged"
    else
        not_ok "reload" "logged=${logged:-no} is-active=$(systemctl is-active ccjaild) pid $pid -> $(main_pid)"
    fi
}

# Starts a detached `sleep 300` session; prints its id.
start_detached() {
    timeout "$t" ccjailctl run --detach --profile shell --user alice -- -c 'sleep 300' 2>&1
}

sleepers() { pgrep -x sleep | tr '\n' ' '; }

# SIGKILL the daemon the way the issue names it, wait for systemd to restart it, and see whether
# the detached session lived on and was re-adopted. `systemctl kill` signals the whole unit
# unless told --kill-whom=main, so both forms are recorded.
check_kill_restart() {
    local whom=$1 id
    if ! id=$(start_detached) || [[ -z $id ]]; then
        not_ok "kill-restart($whom)" "detached session did not start: $id"
        return 1
    fi
    id=$(echo "$id" | tail -n 1)
    sleep 2
    record_layout
    local old_pid restarts status_before
    old_pid=$(main_pid)
    restarts=$(systemctl show -p NRestarts --value ccjaild)
    status_before=$(systemctl show -p StatusText --value ccjaild)
    echo "whom=$whom: session $id; before: pid $old_pid, StatusText '$status_before', sleep pids: $(sleepers)" | note
    local args=(-s KILL)
    [[ $whom != default ]] && args+=(--kill-whom="$whom")
    systemctl kill "${args[@]}" ccjaild
    sleep 1
    echo "right after kill: sleep pids: $(sleepers); ActiveState=$(systemctl show -p ActiveState --value ccjaild) SubState=$(systemctl show -p SubState --value ccjaild)" | note
    # RestartSec=2s, and a start under emulation takes a while.
    if wait_for 90 sh -c "[ \"\$(systemctl show -p NRestarts --value ccjaild)\" -gt $restarts ] && [ \"\$(systemctl is-active ccjaild)\" = active ]"; then
        echo "restarted: pid $old_pid -> $(main_pid), NRestarts $(systemctl show -p NRestarts --value ccjaild)" | note
    else
        echo "no restart within 90s: $(systemctl show -p ActiveState,SubState,Result,ExecMainStatus,ExecMainCode,NRestarts ccjaild | tr '\n' ' ')" | note
    fi
    systemctl status --no-pager -n 0 ccjaild 2>&1 | note
    record_layout
    journalctl -u ccjaild -b --no-pager -n 25 2>&1 | note
    local list alive=no listed=no
    list=$(timeout "$t" ccjailctl list 2>&1) || true
    echo "$list" | note
    [[ -n $(sleepers) ]] && alive=yes
    echo "$list" | grep -q -- "$id" && listed=yes
    echo "after: sleep pids: $(sleepers); StatusText '$(systemctl show -p StatusText --value ccjaild)'" | note
    if [[ $(systemctl is-active ccjaild) == active && $(main_pid) != "$old_pid" && $alive == yes && $listed == yes ]]; then
        ok "kill-restart($whom): daemon restarted (pid $old_pid -> $(main_pid)), session $id survived and is listed"
    else
        not_ok "kill-restart($whom)" "is-active=$(systemctl is-active ccjaild) pid $old_pid -> $(main_pid), session process alive=$alive, listed=$listed"
    fi
    # Leave the daemon running for the next check, whatever happened (a 219/CGROUP restart
    # loop is ended with a stop first, which also ends what the crash left behind).
    if ! systemctl is-active -q ccjaild; then
        timeout "$t" systemctl stop ccjaild 2>&1 | note
        timeout "$t" systemctl start ccjaild 2>&1 | note
    fi
}

check_stop() {
    timeout "$t" ccjailctl run --detach --profile shell --user alice -- -c 'sleep 300' >/dev/null 2>&1 || true
    sleep 1
    echo "before stop: sleep pids: $(sleepers)" | note
    if ! timeout "$t" systemctl stop ccjaild; then
        not_ok "stop" "systemctl stop failed"
        return 1
    fi
    local procs=() cgroups
    local p
    for p in /proc/[0-9]*; do
        grep -q 'ccjaild.service' "$p/cgroup" 2>/dev/null && procs+=("${p#/proc/}:$(cat "$p/comm" 2>/dev/null)")
    done
    cgroups=$(find "$unit_cgroup" -mindepth 1 -type d 2>/dev/null | tr '\n' ' ')
    echo "after stop: ActiveState=$(systemctl show -p ActiveState --value ccjaild) unit cgroup exists=$([[ -d $unit_cgroup ]] && echo yes || echo no) child cgroups='$cgroups' processes='${procs[*]}' sleep pids='$(sleepers)' ccjail-exec='$(pgrep -f ccjail-exec | tr '\n' ' ')'" | note
    if [[ $(systemctl is-active ccjaild) != active && -z $cgroups && ${#procs[@]} == 0 && -z $(sleepers) ]]; then
        ok "stop: no jail process and no jail cgroup left"
    else
        not_ok "stop" "leftovers: cgroups='$cgroups' processes='${procs[*]}' sleepers='$(sleepers)'"
    fi
    echo "socket after stop: $(systemctl is-active ccjaild.socket)" | note
}

check_security() {
    local out
    out=$(systemd-analyze security --no-pager ccjaild.service 2>&1)
    echo "$out" | grep -E '^✗|^\s*✗|Overall' | note
    local score
    score=$(echo "$out" | grep -o 'Overall exposure level for ccjaild.service: .*' | head -n 1)
    if [[ -n $score ]]; then
        ok "security: $score"
    else
        not_ok "security" "systemd-analyze security printed no score"
        echo "$out" | tail -n 5 | note
    fi
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
    if run_check check_install; then
        run_check check_socket
        run_check check_activation
        run_check check_status
        run_check check_ccjailctl_check
        run_check check_session || run_check with_workarounds
        run_check check_layout
        run_check check_reload
        run_check check_kill_restart default
        run_check check_kill_restart main
        run_check check_stop
        run_check check_security
    fi
    local rc=0
    ((failed > 0)) && rc=1
    echo "CCJAIL-SYSTEM-RESULT rc=$rc passed=$passed failed=$failed run=$run_id" |
        tee /run/ccjail-system-result
}

main
