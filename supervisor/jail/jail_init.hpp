#pragma once

#include "cgroup/cgroup.hpp"
#include "jail/spec.hpp"

namespace ccjail {

// The jail's pid 1. Runs in the child of clone3, still root, in the new namespaces: builds the
// root file system, waits for the monitor's go, then forks the payload and stays behind as a tiny
// init: reaps zombies, forwards SIGTERM/SIGINT/SIGHUP/SIGQUIT/SIGUSR1/SIGUSR2 to the payload,
// reports the payload's wait status on `channel_fd` and exits. When pid 1 of a pid namespace
// exits the kernel kills everything left in it, so double-forked daemons die with the session.
// On cgroup v1 it first moves itself into the jail's cgroups and only then creates its cgroup
// namespace (on v2 clone3 did both). Never returns.
[[noreturn]] void run_jail_init(const JailSpec& spec, const JailCgroup& cgroup, int channel_fd);

}  // namespace ccjail
