#pragma once

#include "cgroup/cgroup.hpp"
#include "jail/spec.hpp"

namespace ccjail {

// The descriptors the init inherits from the monitor through clone3 (its fd table is a copy).
struct InitFds {
    int channel = -1;
    // Pipe mode: the program's fds 0, 1 and 2; -1 keeps the monitor's own.
    int stdin_fd = -1;
    int stdout_fd = -1;
    int stderr_fd = -1;
    // The write end of the exec-status pipe (close-on-exec): only the program keeps it, so the
    // monitor sees EOF once execve succeeded or everything that could report a failure is gone.
    int exec_status = -1;
};

// The jail's pid 1. Runs in the child of clone3, still root, in the new namespaces: builds the
// root file system, waits for the monitor's go, then forks the payload and stays behind as a tiny
// init: reaps zombies, forwards SIGTERM/SIGINT/SIGHUP/SIGQUIT/SIGUSR1/SIGUSR2 to the payload,
// reports the payload's wait status on `fds.channel` and exits. When pid 1 of a pid namespace
// exits the kernel kills everything left in it, so double-forked daemons die with the session.
// On cgroup v1 it first moves itself into the jail's cgroups and only then creates its cgroup
// namespace (on v2 clone3 did both). Never returns.
[[noreturn]] void run_jail_init(const JailSpec& spec, const JailCgroup& cgroup, const InitFds& fds);

}  // namespace ccjail
