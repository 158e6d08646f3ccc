#pragma once

#include <poll.h>
#include <sys/types.h>

#include <chrono>
#include <vector>

#include "common/unique_fd.hpp"
#include "jail/report.hpp"
#include "jail/spec.hpp"

namespace ccjail {

// What the monitor lets its caller do to a running session (daemon mode, supervisor/link/).
class SessionControl {
  public:
    virtual ~SessionControl() = default;
    // Delivers `signal` to the program (to the jail's init until the program's pidfd arrived).
    virtual void forward_signal(int signal) = 0;
    // SIGTERM now, the cgroup killed after `grace`; the report's status becomes `status`
    // (unless a limit ended the session first).
    virtual void end(std::chrono::milliseconds grace, ExitStatus status) = 0;
    virtual const JailCgroup& cgroup() const = 0;
    virtual pid_t init_pid() const = 0;
};

enum class EgressListener { proxy, gateway };

// Daemon mode: the monitor reports to these instead of relaying a terminal, and polls the
// caller's descriptors (the daemon link, the adopt socket) in its own loop.
class MonitorHooks {
  public:
    virtual ~MonitorHooks() = default;
    // The init runs; `control` is valid until run_jail returns.
    virtual void jail_started(SessionControl& control) = 0;
    // The pty master of the jail's devpts (pty mode); the caller keeps it.
    virtual void take_pty_master(UniqueFd master) = 0;
    // Network modes proxy and gateway: a listening TCP socket in the jail's network namespace,
    // for the daemon to accept the jail's connections on.
    virtual void take_egress_listener(EgressListener kind, UniqueFd listener) = 0;
    // The program's execve succeeded (the exec-status pipe reached EOF with no failure).
    virtual void program_running() = 0;
    virtual void add_pollfds(std::vector<struct pollfd>& fds) = 0;
    // `fds` holds what add_pollfds appended, from index `first` on.
    virtual void handle(const std::vector<struct pollfd>& fds, std::size_t first) = 0;
};

// Pipe mode: the program's ends of the caller's pipes, given to it as fds 0, 1 and 2. The
// caller closes its copies once MonitorHooks::jail_started ran (the init holds them then).
struct PayloadStdio {
    int in = -1;
    int out = -1;
    int err = -1;
};

struct MonitorOptions {
    CgroupOptions cgroup;
    // After SIGTERM/SIGINT/SIGHUP reaches the monitor and is forwarded, how long the session may
    // take to end before its cgroup is killed.
    std::chrono::milliseconds kill_grace{5000};
    // How long an exiting session may take to empty its cgroup before leftovers are killed.
    std::chrono::milliseconds drain_timeout{2000};
    // With a pty (JailSpec::terminal) and no hooks, what the monitor relays to and from the
    // jail's terminal.
    int input_fd = 0;
    int output_fd = 1;
    // Daemon mode; null for the standalone runner.
    MonitorHooks* hooks = nullptr;
    PayloadStdio payload_stdio;
};

// Runs one jail to its end and returns its report: creates the cgroup, clones the jail's init
// into the new namespaces, enforces the wall-clock and CPU-time limits, forwards termination
// signals, and removes the cgroup afterwards. A failure to build the jail is a report with
// status setup_failed, never an exception; the host is left as it was.
ExitReport run_jail(const JailSpec& spec, const MonitorOptions& options);

}  // namespace ccjail
