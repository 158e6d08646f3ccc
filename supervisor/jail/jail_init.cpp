#include "jail/jail_init.hpp"

#include <sched.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <sstream>
#include <string>

#include "jail/egress_listener.hpp"
#include "jail/jail_channel.hpp"
#include "jail/jail_pty.hpp"
#include "jail/process_setup.hpp"
#include "jail/root_filesystem.hpp"

namespace ccjail {
namespace {

constexpr int kSetupFailedExit = 125;

[[noreturn]] void report_and_exit(int channel_fd, const JailError& error) {
    send_message(channel_fd, setup_failure_message(error));
    ::_exit(kSetupFailedExit);
}

// Pipe mode: the monitor's pipes become the program's stdio. Each source is above 2 (the
// monitor's own 0-2 are open), so no dup2 overwrites a source still to be used.
void attach_stdio_pipes(const InitFds& fds) {
    const int sources[] = {fds.stdin_fd, fds.stdout_fd, fds.stderr_fd};
    for (int target = 0; target < 3; ++target) {
        if (sources[target] >= 0 && ::dup2(sources[target], target) < 0) {
            throw_errno(Step::terminal, "cannot attach the stdio pipes");
        }
    }
}

[[noreturn]] void run_payload(const JailSpec& spec, const InitFds& fds, int pty_slave) {
    const int channel_fd = fds.channel;
    try {
        reset_signals();
        ::umask(022);
        enter_new_session();
        if (pty_slave >= 0) {
            attach_controlling_terminal(pty_slave);
        } else {
            attach_stdio_pipes(fds);
        }
        apply_rlimits(spec.profile.limits);
        become_unprivileged(spec.uid, spec.gid);
        set_no_new_privs();
        close_inherited_fds();
        exec_program(spec);
    } catch (const JailError& error) {
        report_and_exit(channel_fd, error);
    } catch (const std::exception& error) {
        report_and_exit(channel_fd, JailError(Step::exec, 0, error.what()));
    }
}

// Init keeps no more power than the payload: same uid, no capabilities, no_new_privs, the same
// seccomp filter, and not dumpable, so a payload allowed to ptrace cannot attach to it.
void drop_init_privileges(const JailSpec& spec) {
    become_unprivileged(spec.uid, spec.gid);
    set_no_new_privs();
    if (::prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0) {
        throw_errno(Step::capabilities, "PR_SET_DUMPABLE");
    }
    load_seccomp(spec.seccomp);
}

// Init is a clone of the monitor and so holds every fd the monitor's caller leaked without
// CLOEXEC (and any the monitor opened): it lives as long as the session, inside the jail's
// namespaces, so it keeps nothing but its channel. (Integration test
// Identity.ADescriptorTheCallerLeakedDoesNotReachTheJail found init holding such an fd.)
void close_all_but(int keep) {
    const auto fd = static_cast<unsigned>(keep);
    if (fd > 0) {
        ::syscall(SYS_close_range, 0U, fd - 1, 0U);
    }
    ::syscall(SYS_close_range, fd + 1, ~0U, 0U);
}

// The init is a copy of ccjail-exec, and /proc/1/cmdline of the jail would show the monitor's
// command line: host paths of the profiles, workspaces, homes and state. The argument and
// environment areas of our own memory are overwritten instead (their bounds are fields 48–51 of
// /proc/self/stat), so the jail sees "ccjail-init" and nothing of the host.
void hide_command_line() {
    std::FILE* stat = std::fopen("/proc/self/stat", "re");
    if (!stat) {
        return;
    }
    char buffer[2048] = {};
    const std::size_t n = std::fread(buffer, 1, sizeof buffer - 1, stat);
    static_cast<void>(std::fclose(stat));  // opened read-only: nothing to lose if closing fails
    const char* fields = std::strrchr(buffer, ')');
    if (n == 0 || !fields) {
        return;
    }
    // Field 3 (state) follows ") "; fields 48..51 are arg_start, arg_end, env_start, env_end.
    unsigned long long bounds[4] = {};
    std::istringstream in(fields + 2);
    std::string field;
    for (int index = 3; index <= 51 && in >> field; ++index) {
        if (index >= 48) {
            bounds[index - 48] = std::strtoull(field.c_str(), nullptr, 10);
        }
    }
    for (int area : {0, 2}) {
        if (bounds[area] != 0 && bounds[area + 1] > bounds[area]) {
            // NOLINTNEXTLINE(performance-no-int-to-ptr): the kernel gives the areas as numbers
            std::memset(reinterpret_cast<void*>(bounds[area]), 0, bounds[area + 1] - bounds[area]);
        }
    }
    constexpr char kName[] = "ccjail-init";
    if (bounds[1] - bounds[0] >= sizeof kName) {
        // NOLINTNEXTLINE(performance-no-int-to-ptr): the kernel gives the areas as numbers
        std::memcpy(reinterpret_cast<void*>(bounds[0]), kName, sizeof kName);
    }
}

sigset_t init_signals() {
    sigset_t set;
    sigemptyset(&set);
    for (int sig : {SIGCHLD, SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2}) {
        sigaddset(&set, sig);
    }
    return set;
}

// Returns the payload's wait status once it has exited; reaps every other child on the way.
int supervise(pid_t payload, const sigset_t& signals) {
    for (;;) {
        siginfo_t info{};
        if (::sigwaitinfo(&signals, &info) < 0) {
            continue;
        }
        if (info.si_signo != SIGCHLD) {
            ::kill(payload, info.si_signo);
            continue;
        }
        int status = 0;
        pid_t pid;
        while ((pid = ::waitpid(-1, &status, WNOHANG)) > 0) {
            if (pid == payload) {
                return status;
            }
        }
    }
}

// A pidfd names the program across pid namespaces: the monitor signals it directly, which
// reaches it with every signal (SIGSTOP and SIGKILL included) rather than the few the init can
// catch and forward. Best effort: without it the monitor signals the init.
void pass_payload_pidfd(int channel_fd, pid_t payload) {
    UniqueFd pidfd(static_cast<int>(::syscall(SYS_pidfd_open, payload, 0)));
    if (pidfd) {
        JailMessage message;
        message.type = JailMessageType::payload_pidfd;
        send_message_with_fd(channel_fd, message, pidfd.get());
    }
}

// The listeners are made here, in the jail's network namespace, and handed up once: the daemon
// accepts on them directly, so no process in the jail carries the bytes and nothing is spawned
// per connection. Created while the init is still root, before the jail's programs exist, so
// no jailed program can take the port first.
void pass_egress_listeners(const NetworkPolicy& network, int channel_fd) {
    auto pass = [&](std::uint16_t port, JailMessageType type) {
        UniqueFd listener = open_loopback_listener(port);
        JailMessage message;
        message.type = type;
        if (!send_message_with_fd(channel_fd, message, listener.get())) {
            throw_errno(Step::network, "cannot pass the egress listener to the monitor");
        }
    };
    if (network.mode == NetworkMode::proxy || network.mode == NetworkMode::gateway) {
        pass(network.proxy_port, JailMessageType::proxy_listener);
    }
    if (network.mode == NetworkMode::gateway) {
        pass(network.gateway_port, JailMessageType::gateway_listener);
    }
}

// Returns the pty slave for the program when the spec asks for a pty.
UniqueFd build_jail(const JailSpec& spec, const JailCgroup& cgroup, int channel_fd) {
    // First into the jail's cgroups, so that everything below is charged and limited there;
    // then the cgroup namespace, whose root becomes the jail's own cgroup (v2: done by clone3).
    if (cgroup.clone_into_fd() < 0) {
        cgroup.attach_self();
        if (::unshare(CLONE_NEWCGROUP) != 0) {
            throw_errno(Step::cgroup_attach, "unshare(CLONE_NEWCGROUP)");
        }
    }
    // The go means the monitor watches us (pidfd, signals); it sends it right after the clone.
    auto go = receive_message(channel_fd);
    if (!go || go->type != JailMessageType::go) {
        ::_exit(kSetupFailedExit);  // the monitor is gone; nobody to report to
    }
    build_root_filesystem(spec);
    set_hostname(spec.profile.hostname);
    if (spec.profile.network.mode != NetworkMode::host) {
        bring_up_loopback();
    }
    pass_egress_listeners(spec.profile.network, channel_fd);
    // A session of its own: terminal signals of the caller reach only the monitor, which
    // forwards them once.
    enter_new_session();
    if (!spec.terminal.pty) {
        return UniqueFd();
    }
    JailPty pty = open_jail_pty(spec.uid, spec.gid, spec.terminal.rows, spec.terminal.cols);
    JailMessage message;
    message.type = JailMessageType::pty_master;
    if (!send_message_with_fd(channel_fd, message, pty.master.get())) {
        throw_errno(Step::terminal, "cannot pass the pty master to the monitor");
    }
    return std::move(pty.slave);
}

}  // namespace

void run_jail_init(const JailSpec& spec, const JailCgroup& cgroup, const InitFds& fds) {
    const int channel_fd = fds.channel;
    // If the monitor dies, so does the jail: nobody would collect its report or its cgroup.
    ::prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
    hide_command_line();
    const sigset_t signals = init_signals();
    ::sigprocmask(SIG_BLOCK, &signals, nullptr);
    UniqueFd pty_slave;
    try {
        pty_slave = build_jail(spec, cgroup, channel_fd);
    } catch (const JailError& error) {
        report_and_exit(channel_fd, error);
    } catch (const std::exception& error) {
        report_and_exit(channel_fd, JailError(Step::clone, 0, error.what()));
    }
    const pid_t payload = ::fork();
    if (payload < 0) {
        report_and_exit(channel_fd, JailError(Step::clone, errno, "fork of the payload failed"));
    }
    if (payload == 0) {
        run_payload(spec, fds, pty_slave.get());
    }
    pty_slave.reset();
    pass_payload_pidfd(channel_fd, payload);
    close_all_but(channel_fd);
    try {
        drop_init_privileges(spec);
    } catch (const JailError& error) {
        ::kill(payload, SIGKILL);
        report_and_exit(channel_fd, error);
    }
    JailMessage exited;
    exited.type = JailMessageType::child_exited;
    exited.wait_status = supervise(payload, signals);
    send_message(channel_fd, exited);
    ::_exit(0);
}

}  // namespace ccjail
