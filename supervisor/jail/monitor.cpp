#include "jail/monitor.hpp"

#include <fcntl.h>
#include <linux/sched.h>
#include <poll.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <optional>
#include <vector>

#include "jail/jail_channel.hpp"
#include "jail/jail_init.hpp"
#include "jail/terminal_relay.hpp"

namespace ccjail {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

constexpr milliseconds kCpuCheckEvery{250};

// Forwarded to the jail; SIGWINCH is watched too, and turned into a pty resize.
constexpr int kWatchedSignals[] = {SIGTERM, SIGINT, SIGHUP, SIGWINCH};

struct ClonedInit {
    pid_t pid = -1;
    UniqueFd pidfd;
};

// clone3 gives a pidfd (no pid-reuse races when waiting or signalling) and, on cgroup v2,
// CLONE_INTO_CGROUP: the jail never runs a single instruction outside its cgroup.
ClonedInit clone_init(const JailSpec& spec, const JailCgroup& cgroup, const InitFds& init_fds,
                      int parent_channel) {
    std::uint64_t flags = CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWIPC | CLONE_NEWUTS | CLONE_PIDFD;
    if (spec.profile.network.mode != NetworkMode::host) {
        flags |= CLONE_NEWNET;
    }
    const bool v2 = cgroup.clone_into_fd() >= 0;
    if (v2) {
        flags |= CLONE_NEWCGROUP | CLONE_INTO_CGROUP;
    }
    int pidfd = -1;
    struct clone_args args {};
    args.flags = flags;
    args.pidfd = reinterpret_cast<std::uint64_t>(&pidfd);
    args.exit_signal = SIGCHLD;
    args.cgroup = v2 ? static_cast<std::uint64_t>(cgroup.clone_into_fd()) : 0;
    const long pid = ::syscall(SYS_clone3, &args, sizeof args);
    if (pid < 0) {
        throw_errno(Step::clone, "clone3");
    }
    if (pid == 0) {
        ::close(parent_channel);
        run_jail_init(spec, cgroup, init_fds);
    }
    return {static_cast<pid_t>(pid), UniqueFd(pidfd)};
}

UniqueFd block_and_watch_signals() {
    sigset_t set;
    sigemptyset(&set);
    for (int sig : kWatchedSignals) {
        sigaddset(&set, sig);
    }
    ::sigprocmask(SIG_BLOCK, &set, nullptr);
    UniqueFd fd(::signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK));
    if (!fd) {
        throw_errno(Step::supervise, "signalfd");
    }
    return fd;
}

// What the monitor learned while the session ran.
struct Observed {
    std::optional<SetupFailure> failure;
    std::optional<int> wait_status;
    std::optional<ExitStatus> ended_by;  // set when the monitor itself ended the session
    // A kill asked for through SessionControl::end: the report's status however the program
    // then ends, unless a limit ended it first.
    std::optional<ExitStatus> end_requested;
};

void take_message(const JailMessage& message, Observed& observed) {
    if (message.type == JailMessageType::setup_failed && !observed.failure) {
        // The record crossed a process boundary: a step outside the closed set is not cast.
        const bool known = message.step >= 0 && message.step <= static_cast<int>(Step::supervise);
        const Step step = known ? static_cast<Step>(message.step) : Step::supervise;
        observed.failure = SetupFailure{step, message.err, std::string(message.text)};
    } else if (message.type == JailMessageType::child_exited) {
        observed.wait_status = message.wait_status;
    }
}

bool readable_now(int fd) {
    struct pollfd p = {fd, POLLIN, 0};
    return fd >= 0 && ::poll(&p, 1, 0) > 0 && (p.revents & (POLLIN | POLLHUP));
}

class Supervision : public SessionControl {
  public:
    Supervision(const JailSpec& spec, const MonitorOptions& options, JailCgroup& cgroup,
                ClonedInit& init, int channel, int signal_fd, UniqueFd exec_status)
        : spec_(spec),
          options_(options),
          cgroup_(cgroup),
          init_(init),
          channel_(channel),
          signal_fd_(signal_fd),
          exec_status_(std::move(exec_status)),
          start_(Clock::now()),
          wall_deadline_(start_ + milliseconds(spec.profile.limits.wall_time_ms)) {}

    Observed run() {
        if (options_.hooks) {
            options_.hooks->jail_started(*this);
        }
        while (!init_exited_) {
            wait_once();
        }
        read_pending_messages();
        if (readable_now(exec_status_.get())) {
            read_exec_status();
        }
        if (relay_) {
            relay_->drain();
        }
        return observed_;
    }

    void forward_signal(int signal) override {
        const int target = payload_pidfd_ ? payload_pidfd_.get() : init_.pidfd.get();
        ::syscall(SYS_pidfd_send_signal, target, signal, nullptr, 0);
    }

    void end(milliseconds grace, ExitStatus status) override {
        if (!observed_.end_requested) {
            observed_.end_requested = status;
        }
        // The init forwards SIGTERM to the program; a program that ignores it meets the
        // cgroup kill after the grace.
        ::syscall(SYS_pidfd_send_signal, init_.pidfd.get(), SIGTERM, nullptr, 0);
        const auto deadline = Clock::now() + grace;
        if (!kill_deadline_ || deadline < *kill_deadline_) {
            kill_deadline_ = deadline;
        }
    }

    const JailCgroup& cgroup() const override { return cgroup_; }
    pid_t init_pid() const override { return init_.pid; }

  private:
    void wait_once() {
        std::vector<struct pollfd> fds = {{init_.pidfd.get(), POLLIN, 0},
                                          {channel_open_ ? channel_ : -1, POLLIN, 0},
                                          {signal_fd_, POLLIN, 0},
                                          {exec_status_.get(), POLLIN, 0}};
        if (relay_) {
            relay_->add_pollfds(fds);
        }
        const std::size_t first_hook_fd = fds.size();
        if (options_.hooks) {
            options_.hooks->add_pollfds(fds);
        }
        const int rc = ::poll(fds.data(), fds.size(), timeout_ms());
        if (rc < 0 && errno != EINTR) {
            throw_errno(Step::supervise, "poll");
        }
        if (rc < 0) {
            return;
        }
        if (fds[1].revents & (POLLIN | POLLHUP)) {
            read_channel();
        }
        if (fds[2].revents & POLLIN) {
            take_signals();
        }
        if (fds[3].revents & (POLLIN | POLLHUP)) {
            read_exec_status();
        }
        if (relay_ && first_hook_fd > 4) {
            relay_->handle(fds);
        }
        if (options_.hooks) {
            options_.hooks->handle(fds, first_hook_fd);
        }
        if (fds[0].revents & POLLIN) {
            reap_init();
            return;
        }
        enforce_limits();
    }

    void read_channel() {
        UniqueFd attached;
        auto message = receive_message(channel_, &attached);
        if (!message) {
            channel_open_ = false;  // every jail-side copy is closed (or exec'd)
            return;
        }
        if (message->type == JailMessageType::pty_master && attached) {
            if (options_.hooks) {
                options_.hooks->take_pty_master(std::move(attached));
            } else if (!relay_) {
                relay_.emplace(options_.input_fd, options_.output_fd, std::move(attached));
                relay_->copy_window_size();
            }
            return;
        }
        if (message->type == JailMessageType::payload_pidfd && attached) {
            payload_pidfd_ = std::move(attached);
            return;
        }
        if ((message->type == JailMessageType::proxy_listener ||
             message->type == JailMessageType::gateway_listener) &&
            attached) {
            // Without a daemon nobody serves the jail's connections: the listener is closed
            // and they are refused (ccjail-exec refuses such profiles up front).
            if (options_.hooks) {
                options_.hooks->take_egress_listener(
                    message->type == JailMessageType::proxy_listener ? EgressListener::proxy
                                                                     : EgressListener::gateway,
                    std::move(attached));
            }
            return;
        }
        take_message(*message, observed_);
    }

    void read_pending_messages() {
        while (channel_open_ && readable_now(channel_)) {
            read_channel();
        }
    }

    // EOF on the exec-status pipe: the program exec'd, or it (or the init before the fork)
    // failed. A failure was sent on the channel before that process exited and closed its end,
    // so it is already queued there when the EOF shows.
    void read_exec_status() {
        char byte;
        if (::read(exec_status_.get(), &byte, 1) > 0) {
            return;  // nobody writes it; a byte would be a bug, not an exec
        }
        exec_status_.reset();
        read_pending_messages();
        if (!observed_.failure && options_.hooks) {
            options_.hooks->program_running();
        }
    }

    void take_signals() {
        struct signalfd_siginfo info {};
        while (::read(signal_fd_, &info, sizeof info) == sizeof info) {
            if (info.ssi_signo == SIGWINCH) {
                if (relay_) {
                    relay_->copy_window_size();
                }
                continue;
            }
            ::syscall(SYS_pidfd_send_signal, init_.pidfd.get(), info.ssi_signo, nullptr, 0);
            if (!kill_deadline_) {
                kill_deadline_ = Clock::now() + options_.kill_grace;
            }
        }
    }

    void reap_init() {
        siginfo_t info{};
        ::waitid(P_PIDFD, static_cast<id_t>(init_.pidfd.get()), &info, WEXITED);
        init_exited_ = true;
    }

    // Ends the session from outside: init dies with the rest of the cgroup.
    void end_session(ExitStatus why) {
        if (!observed_.ended_by) {
            observed_.ended_by = why;
        }
        cgroup_.kill_all(options_.drain_timeout);
    }

    void enforce_limits() {
        if (observed_.ended_by) {
            return;  // already killed; waiting for the init to be reapable
        }
        const auto now = Clock::now();
        if (now >= wall_deadline_) {
            end_session(ExitStatus::wall_timeout);
        } else if (kill_deadline_ && now >= *kill_deadline_) {
            end_session(observed_.end_requested.value_or(ExitStatus::killed));
        } else if (now >= next_cpu_check_) {
            // Reading the cgroup's counters costs several file reads: not on every wake-up of a
            // busy terminal relay, only every kCpuCheckEvery.
            next_cpu_check_ = now + kCpuCheckEvery;
            if (cpu_used_ms() >= spec_.profile.limits.cpu_time_ms) {
                end_session(ExitStatus::cpu_timeout);
            }
        }
    }

    std::uint64_t cpu_used_ms() const {
        const auto usage = cgroup_.usage();
        return (usage.cpu_user_usec + usage.cpu_system_usec) / 1000;
    }

    // The session-wide CPU budget is polled every 250 ms, so an overrun is bounded by 250 ms
    // times the CPU quota.
    int timeout_ms() const {
        if (observed_.ended_by) {
            return static_cast<int>(kCpuCheckEvery.count());  // only the reap is left to see
        }
        auto next = std::min(wall_deadline_, next_cpu_check_);
        if (kill_deadline_) {
            next = std::min(next, *kill_deadline_);
        }
        const auto left = std::chrono::duration_cast<milliseconds>(next - Clock::now()).count();
        return static_cast<int>(std::max<long long>(0, left));
    }

    const JailSpec& spec_;
    const MonitorOptions& options_;
    JailCgroup& cgroup_;
    ClonedInit& init_;
    int channel_;
    int signal_fd_;
    UniqueFd exec_status_;  // read end; empty without hooks and after its EOF
    UniqueFd payload_pidfd_;
    Clock::time_point start_;
    Clock::time_point wall_deadline_;
    std::optional<Clock::time_point> kill_deadline_;
    Clock::time_point next_cpu_check_ = Clock::now() + kCpuCheckEvery;
    bool channel_open_ = true;
    bool init_exited_ = false;
    Observed observed_;
    std::optional<TerminalRelay> relay_;
};

ExitStatus status_for(const Observed& observed, const CgroupUsage& usage, ExitReport& report) {
    if (observed.failure) {
        report.failure = observed.failure;
        return ExitStatus::setup_failed;
    }
    if (observed.wait_status && WIFSIGNALED(*observed.wait_status)) {
        report.signal = WTERMSIG(*observed.wait_status);
    } else if (observed.wait_status && WIFEXITED(*observed.wait_status)) {
        report.exit_code = WEXITSTATUS(*observed.wait_status);
    }
    if (observed.ended_by) {
        return *observed.ended_by;
    }
    if (observed.end_requested) {
        return *observed.end_requested;
    }
    if (!observed.wait_status) {
        // init died without a word: only a kill from outside the jail can do that.
        return usage.oom_kills > 0 ? ExitStatus::oom : ExitStatus::killed;
    }
    if (WIFSIGNALED(*observed.wait_status)) {
        if (report.signal == SIGKILL && usage.oom_kills > 0) {
            return ExitStatus::oom;
        }
        if (report.signal == SIGXCPU) {
            return ExitStatus::cpu_timeout;
        }
        return ExitStatus::signaled;
    }
    return ExitStatus::exited;
}

ExitReport failed_before_clone(const JailSpec& spec, const JailError& error) {
    ExitReport report;
    report.id = spec.id;
    report.status = ExitStatus::setup_failed;
    report.failure = SetupFailure{error.step(), error.err(), error.what()};
    return report;
}

}  // namespace

ExitReport run_jail(const JailSpec& spec, const MonitorOptions& options) {
    const auto start = Clock::now();
    std::unique_ptr<JailCgroup> cgroup;
    UniqueFd parent_channel, child_channel, signal_fd, exec_status_read, exec_status_write;
    ClonedInit init;
    // The clone is the last thing that can fail here: every failure below leaves no process,
    // and the cgroup object removes itself.
    try {
        cgroup = create_jail_cgroup(spec.id, spec.cgroup_limits, options.cgroup);
        int pair[2];
        if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, pair) != 0) {
            throw_errno(Step::clone, "socketpair");
        }
        parent_channel.reset(pair[0]);
        child_channel.reset(pair[1]);
        if (options.hooks) {
            int pipe_fds[2];
            if (::pipe2(pipe_fds, O_CLOEXEC) != 0) {
                throw_errno(Step::clone, "pipe2");
            }
            exec_status_read.reset(pipe_fds[0]);
            exec_status_write.reset(pipe_fds[1]);
        }
        signal_fd = block_and_watch_signals();
        InitFds init_fds;
        init_fds.channel = child_channel.get();
        init_fds.stdin_fd = options.payload_stdio.in;
        init_fds.stdout_fd = options.payload_stdio.out;
        init_fds.stderr_fd = options.payload_stdio.err;
        init_fds.exec_status = exec_status_write.get();
        init = clone_init(spec, *cgroup, init_fds, parent_channel.get());
    } catch (const JailError& error) {
        return failed_before_clone(spec, error);
    }
    child_channel.reset();
    exec_status_write.reset();
    JailMessage go;
    go.type = JailMessageType::go;
    send_message(parent_channel.get(), go);

    Supervision supervision(spec, options, *cgroup, init, parent_channel.get(), signal_fd.get(),
                            std::move(exec_status_read));
    const Observed observed = supervision.run();
    if (!cgroup->wait_empty(options.drain_timeout)) {
        cgroup->kill_all(options.drain_timeout);
    }
    ExitReport report;
    report.id = spec.id;
    report.usage = cgroup->usage();
    report.throttled_usec = report.usage.throttled_usec;
    report.status = status_for(observed, report.usage, report);
    report.wall_ms = static_cast<std::uint64_t>(
        std::chrono::duration_cast<milliseconds>(Clock::now() - start).count());
    return report;
}

}  // namespace ccjail
