#!/usr/bin/env python3
"""Splits traced ccjail-exec runs into phases and prints the median of each as markdown.

Input: files written by `strace -f -ttt -T -o FILE` with a small set of marker syscalls traced
(scripts/bench.sh lists them). Every phase runs from one marker to the next one, so the phases
add up to the whole run. Tracing makes each marker a little slower: compare phases with each
other and with the untraced median, not with the table's absolute figures.
"""
import re
import statistics
import sys

LINE = re.compile(r"^(?P<pid>\d+)\s+(?P<ts>\d+\.\d+)\s+(?P<rest>.*)$")
CALL = re.compile(r"^(?:<\.\.\. )?(?P<name>\w+)(?P<args>.*?)(?:<(?P<dur>\d+\.\d+)>)?$")

# (label, what ends the phase) in the order they happen; the matcher sees (pid role, name, text).
PHASES = [
    ("start, dynamic linking, options, profile read and merged",
     lambda e: e.main and e.name == "openat2"),
    ("workspace opened, uid assigned, seccomp filter compiled",
     lambda e: e.main and e.name == "mkdir"),
    ("cgroup created and limits written",
     lambda e: e.main and e.name == "clone3"),
    ("clone3 into new namespaces, init waits for the go",
     lambda e: not e.main and e.name == "mount"),
    ("root file system built, pivot_root",
     lambda e: not e.main and e.name == "pivot_root" and e.done),
    ("hostname, loopback, payload forked, identity, caps, seccomp loaded",
     lambda e: not e.main and e.name == "execve"),
    ("/bin/true runs", lambda e: not e.main and e.name == "exit_group" and e.payload),
    ("init reports and exits, monitor drains, cgroup read and removed",
     lambda e: e.main and e.name == "exit_group"),
]


class Event:
    def __init__(self, pid, ts, name, text, dur, main, payload):
        self.pid, self.ts, self.name, self.text = pid, ts, name, text
        self.dur, self.main, self.payload = dur, main, payload
        self.done = "resumed" in text or "unfinished" not in text


def events_of(path):
    main_pid = None
    payload_pid = None
    out = []
    with open(path) as f:
        for raw in f:
            m = LINE.match(raw.rstrip("\n"))
            if not m:
                continue
            pid, ts, rest = int(m["pid"]), float(m["ts"]), m["rest"]
            if rest.startswith("+++") or rest.startswith("---"):
                continue
            c = CALL.match(rest)
            if not c:
                continue
            name = c["name"]
            if main_pid is None:
                main_pid = pid
            if name == "execve" and pid != main_pid and "/true" in rest:
                payload_pid = pid
            dur = float(c["dur"]) if c["dur"] else 0.0
            out.append(Event(pid, ts, name, rest, dur, pid == main_pid, pid == payload_pid))
    return out


def phases_of(events):
    """Returns the phase durations in ms, or None when a marker is missing."""
    t = events[0].ts
    durations = []
    i = 0
    for _, ends in PHASES:
        while i < len(events) and not ends(events[i]):
            i += 1
        if i == len(events):
            return None
        durations.append((events[i].ts - t) * 1e3)
        t = events[i].ts
    # The last marker is exit_group's entry; the process is gone right after it.
    return durations


def syscall_costs(events):
    """Total in-kernel time (ms, from -T) of the expensive markers, per run."""
    costs = {}
    for e in events:
        if e.name in ("mkdir", "rmdir", "clone3", "seccomp", "pivot_root", "mount") and e.done:
            key = e.name
            costs.setdefault(key, [0, 0.0])
            costs[key][0] += 1
            costs[key][1] += e.dur * 1e3
    return costs


def main(paths):
    runs = []
    costs = {}
    for path in paths:
        events = events_of(path)
        if not events:
            continue
        phases = phases_of(events)
        if phases is None:
            print(f"<!-- {path}: a marker is missing; run skipped -->")
            continue
        runs.append(phases)
        for name, (count, ms) in syscall_costs(events).items():
            costs.setdefault(name, []).append((count, ms))
    if not runs:
        print("(no usable trace)")
        return 1
    totals = [sum(r) for r in runs]
    total_median = statistics.median(totals)
    print(f"Median over {len(runs)} runs under strace (markers only; traced total "
          f"{total_median:.2f} ms):")
    print()
    print("| phase (ends at) | median ms | share |")
    print("|---|--:|--:|")
    for k, (label, _) in enumerate(PHASES):
        med = statistics.median(r[k] for r in runs)
        print(f"| {label} | {med:.2f} | {100 * med / total_median:.0f}% |")
    print()
    print("In-kernel time of the costly syscalls (strace -T), median per run:")
    print()
    print("| syscall | calls/run | ms/run |")
    print("|---|--:|--:|")
    for name in sorted(costs, key=lambda n: -statistics.median(ms for _, ms in costs[n])):
        calls = statistics.median(c for c, _ in costs[name])
        ms = statistics.median(m for _, m in costs[name])
        print(f"| {name} | {calls:g} | {ms:.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
