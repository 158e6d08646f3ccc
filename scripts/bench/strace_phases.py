#!/usr/bin/env python3
"""Splits traced ccjail-exec runs into phases and prints the median of each as markdown.

Input: files written by `strace -f -y -ttt -T --seccomp-bpf -e trace=<MARKERS>` (MARKERS is
printed by `--markers`, scripts/bench.sh uses it). Only the marker syscalls stop the tracee, so
the phases keep roughly their untraced length; each phase runs from one marker to the next, so
they add up to the whole run. Compare phases with each other and with the untraced median.
"""
import re
import statistics
import sys

MARKERS = ("execve,openat2,memfd_create,mkdir,clone3,write,mount,pivot_root,umount2,"
           "clone,exit_group,rmdir,seccomp,poll,waitid")

LINE = re.compile(r"^(?P<pid>\d+)\s+(?P<ts>\d+\.\d+)\s+(?P<rest>.*)$")
NAME = re.compile(r"^(?:<\.\.\. )?(?P<name>\w+)")
DURATION = re.compile(r"<(?P<dur>\d+\.\d+)>$")

MAIN, INIT, PAYLOAD = "monitor", "init", "payload"

# (what the phase does, the role and syscall whose entry ends it)
PHASES = [
    ("exec, options, profile read and merged", MAIN, "openat2"),
    ("workspace opened, seccomp program from the cache (or compiled), uid, cgroup hierarchies "
     "found", MAIN, "mkdir"),
    ("cgroups created, limits written", MAIN, "clone3"),
    ("clone3 into new namespaces, init moves itself into the v1 cgroups, waits for the go", INIT,
     "mount"),
    ("root file system built", INIT, "pivot_root"),
    ("old root detached, hostname, loopback, setsid", INIT, "clone"),
    ("payload: rlimits, identity, caps, no_new_privs, seccomp", PAYLOAD, "execve"),
    ("/bin/true runs", PAYLOAD, "exit_group"),
    ("init reaps it and reports", INIT, "exit_group"),
    ("monitor: init's exit (namespace teardown), cgroups drained, read, removed", MAIN,
     "exit_group"),
]


class Event:
    __slots__ = ("pid", "ts", "name", "text", "dur", "role")

    def __init__(self, pid, ts, name, text, dur):
        self.pid, self.ts, self.name, self.text, self.dur = pid, ts, name, text, dur
        self.role = None


def parse(path):
    events = []
    with open(path) as f:
        for raw in f:
            m = LINE.match(raw.rstrip("\n"))
            if not m or m["rest"].startswith(("+++", "---")):
                continue
            n = NAME.match(m["rest"])
            if not n:
                continue
            d = DURATION.search(m["rest"])
            events.append(Event(int(m["pid"]), float(m["ts"]), n["name"], m["rest"],
                                float(d["dur"]) * 1e3 if d else 0.0))
    return events


def assign_roles(events):
    """The first pid is the monitor; the pid that runs a mount is init; the one that execs the
    payload is the payload."""
    roles = {}
    if events:
        roles[events[0].pid] = MAIN
    for e in events:
        if e.pid not in roles and e.name == "mount":
            roles[e.pid] = INIT
        if e.pid not in roles and e.name == "execve" and "/true" in e.text:
            roles[e.pid] = PAYLOAD
    for e in events:
        e.role = roles.get(e.pid)


def is_entry(e):
    return not e.text.startswith("<...")


def phases_of(events):
    """Phase durations in ms, or None when a marker is missing."""
    t = events[0].ts
    out = []
    i = 0
    for _, role, name in PHASES:
        while i < len(events) and not (events[i].role == role and events[i].name == name and
                                       is_entry(events[i])):
            i += 1
        if i == len(events):
            return None
        out.append((events[i].ts - t) * 1e3)
        t = events[i].ts
    return out


def costs_of(events):
    """(calls, ms) per costly operation in one run; durations from -T."""
    costs = {}

    def add(key, ms):
        calls, total = costs.get(key, (0, 0.0))
        costs[key] = (calls + 1, total + ms)

    channel_closed = False
    init_exit = None
    for e in events:
        if e.role == INIT and e.name == "exit_group" and is_entry(e):
            init_exit = e.ts
        if e.role == MAIN and e.name == "waitid" and init_exit is not None:
            add("init's exit_group until the monitor reaps it (namespace teardown)",
                (e.ts - init_exit) * 1e3)
            init_exit = None
        done = e.dur > 0 or e.text.endswith("= 0") or "resumed" in e.text
        if not done and "<unfinished" in e.text:
            continue
        if e.name == "write" and "cgroup.procs" in e.text:
            add("write cgroup.procs (v1 attach)", e.dur)
        elif e.name == "write" and "/sys/fs/cgroup/" in e.text:
            add("write cgroup limit files", e.dur)
        elif e.name in ("clone3", "umount2", "pivot_root", "rmdir", "mkdir"):
            add(e.name, e.dur)
        elif e.name == "clone" and e.role == INIT:
            add("clone (payload fork)", e.dur)
        elif e.name == "seccomp" and "SECCOMP_SET_MODE_FILTER, 0," in e.text:
            add("seccomp (filter install)", e.dur)
        elif e.name == "execve" and e.role == PAYLOAD:
            add("execve /bin/true", e.dur)
        elif e.name == "poll" and e.role == MAIN:
            if channel_closed:
                add("monitor poll() after the jail channel hit EOF", e.dur)
        if e.role == MAIN and "POLLHUP" in e.text:
            channel_closed = True
    return costs


def main(paths):
    if paths == ["--markers"]:
        print(MARKERS)
        return 0
    runs, costs = [], {}
    for path in paths:
        events = parse(path)
        assign_roles(events)
        phases = phases_of(events) if events else None
        if phases is None:
            print(f"<!-- {path}: a marker is missing; run skipped -->")
            continue
        runs.append(phases)
        for key, value in costs_of(events).items():
            costs.setdefault(key, []).append(value)
    if not runs:
        print("(no usable trace)")
        return 1
    medians = [statistics.median(r[k] for r in runs) for k in range(len(PHASES))]
    total = sum(medians)
    print(f"Medians over {len(runs)} runs under strace (marker syscalls only). The medians add "
          f"up to {total:.2f} ms; the median traced run took "
          f"{statistics.median(sum(r) for r in runs):.2f} ms.")
    print()
    print("| phase | median ms | share |")
    print("|---|--:|--:|")
    for (label, role, name), med in zip(PHASES, medians):
        print(f"| {label} (until {role} {name}) | {med:.2f} | {100 * med / total:.0f}% |")
    print()
    print("Time inside the costly syscalls (strace -T), median per run over the runs that "
          "made them:")
    print()
    print("| syscall | calls/run | ms/run | runs |")
    print("|---|--:|--:|--:|")
    order = sorted(costs, key=lambda k: -statistics.median(ms for _, ms in costs[k]))
    for key in order:
        calls = statistics.median(c for c, _ in costs[key])
        ms = statistics.median(m for _, m in costs[key])
        print(f"| {key} | {calls:g} | {ms:.2f} | {len(costs[key])} |")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
