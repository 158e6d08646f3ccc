#pragma once

#include <chrono>

#include "jail/report.hpp"
#include "jail/spec.hpp"

namespace ccjail {

struct MonitorOptions {
    CgroupOptions cgroup;
    // After SIGTERM/SIGINT/SIGHUP reaches the monitor and is forwarded, how long the session may
    // take to end before its cgroup is killed.
    std::chrono::milliseconds kill_grace{5000};
    // How long an exiting session may take to empty its cgroup before leftovers are killed.
    std::chrono::milliseconds drain_timeout{2000};
    // With a pty (JailSpec::terminal), what the monitor relays to and from the jail's terminal.
    int input_fd = 0;
    int output_fd = 1;
};

// Runs one jail to its end and returns its report: creates the cgroup, clones the jail's init
// into the new namespaces, enforces the wall-clock and CPU-time limits, forwards termination
// signals, and removes the cgroup afterwards. A failure to build the jail is a report with
// status setup_failed, never an exception; the host is left as it was.
ExitReport run_jail(const JailSpec& spec, const MonitorOptions& options);

}  // namespace ccjail
