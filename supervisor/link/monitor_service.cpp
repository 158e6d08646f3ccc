#include "link/monitor_service.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <cstdio>
#include <ctime>
#include <deque>
#include <iostream>
#include <optional>

#include "cgroup/cgroup.hpp"
#include "jail/monitor.hpp"
#include "link/link_codec.hpp"
#include "link/session_socket.hpp"
#include "link/session_usage.hpp"
#include "link/start_message.hpp"

namespace ccjail::link {
namespace {

using nlohmann::json;
using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

constexpr int kPipeBytes = 1 << 20;
// A daemon that stops reading must not freeze the monitor (which enforces the limits): a send
// that cannot complete in this time drops the link, and the session waits for an adopt.
constexpr struct timeval kSendTimeout = {2, 0};
// Connections on the adopt socket that have not yet said `adopt`.
constexpr std::size_t kMaxPendingAdopts = 4;

// RFC 3339 UTC with milliseconds, like the daemon's lines (audit::format_timestamp, which this
// static binary does not link: it would pull spdlog in).
std::string timestamp_now() {
    const auto now = std::chrono::system_clock::now();
    const std::time_t seconds = std::chrono::system_clock::to_time_t(now);
    const auto ms = std::chrono::duration_cast<milliseconds>(now.time_since_epoch()).count() % 1000;
    struct tm utc {};
    ::gmtime_r(&seconds, &utc);
    char text[40];
    const std::size_t n = std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%S", &utc);
    static_cast<void>(std::snprintf(text + n, sizeof text - n, ".%03dZ", static_cast<int>(ms)));
    return text;
}

void log_line(const char* level, const std::string& session, const std::string& message) {
    // The daemon's line shape (RFC 3339 ts), so one journald query reads both.
    const json line = {{"ts", timestamp_now()}, {"level", level},     {"event", "monitor"},
                       {"pid", ::getpid()},     {"session", session}, {"message", message}};
    std::cerr << line.dump(-1, ' ', false, json::error_handler_t::replace) << std::endl;
}

// Boost.Process 1.81 leaks nearly every fd of the daemon into its children: the monitor keeps
// only its stdio and the link, and puts /dev/null where it will never read or write.
void detach_from_daemon(int link_fd) {
    static_cast<void>(::signal(SIGPIPE, SIG_IGN));  // cannot fail for SIGPIPE
    ::setsid();  // fails only for a group leader, which is detached enough
    const int null = ::open("/dev/null", O_RDWR | O_CLOEXEC);
    if (null >= 0) {
        ::dup2(null, STDIN_FILENO);
        ::dup2(null, STDOUT_FILENO);
        if (null > STDERR_FILENO) {
            ::close(null);
        }
    }
    const auto link = static_cast<unsigned>(link_fd);
    if (link > 3) {
        ::syscall(SYS_close_range, 3U, link - 1, 0U);
    }
    ::syscall(SYS_close_range, link + 1, ~0U, 0U);
    ::fcntl(link_fd, F_SETFD, FD_CLOEXEC);
}

struct Pipe {
    UniqueFd read;
    UniqueFd write;
};

// Relay throughput is bounded by the pipe buffer (64 KiB by default): 1 MiB when the host lets
// us. The pipe is given to the jail's uid so the program can reopen /dev/stdout and friends.
Pipe make_pipe(uid_t uid, gid_t gid) {
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0) {
        throw_errno(Step::terminal, "pipe2");
    }
    Pipe pipe{UniqueFd(fds[0]), UniqueFd(fds[1])};
    ::fcntl(pipe.write.get(), F_SETPIPE_SZ, kPipeBytes);
    if (::fchown(pipe.read.get(), uid, gid) != 0) {
        // Best effort: without it only reopening /dev/stdin by path fails, reading works.
    }
    return pipe;
}

// A write end whose read end is gone: what an adopting daemon gets for a closed stdin, so the
// descriptor order of `ready` never changes and no write reaches the program.
UniqueFd closed_stdin_placeholder() {
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0) {
        return UniqueFd(::open("/dev/null", O_WRONLY | O_CLOEXEC));
    }
    ::close(fds[0]);
    return UniqueFd(fds[1]);
}

ExitReport setup_failure(const std::string& id, const JailError& error) {
    ExitReport report;
    report.id = id;
    report.status = ExitStatus::setup_failed;
    report.failure = SetupFailure{error.step(), error.err(), error.what()};
    return report;
}

// Written to a temporary name, then renamed: a daemon never reads half a report.
void write_exit_file(const std::filesystem::path& path, const json& report) {
    const std::filesystem::path temporary = path.string() + ".tmp";
    UniqueFd fd(
        ::open(temporary.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600));
    if (!fd) {
        throw_errno(Step::supervise, "cannot create " + temporary.string());
    }
    const std::string text = report.dump() + "\n";
    if (::write(fd.get(), text.data(), text.size()) != static_cast<ssize_t>(text.size()) ||
        ::fsync(fd.get()) != 0) {
        throw_errno(Step::supervise, "cannot write " + temporary.string());
    }
    if (::rename(temporary.c_str(), path.c_str()) != 0) {
        throw_errno(Step::supervise, "cannot rename " + temporary.string());
    }
}

class MonitorService : public MonitorHooks {
  public:
    explicit MonitorService(int link_fd) : link_(link_fd) { set_send_timeout(link_.get()); }

    int run() {
        LinkMessage first;
        if (!receive_start(first)) {
            return 1;
        }
        try {
            start_ = parse_start_message(first.body);
        } catch (const JailError& error) {
            // Without a valid session and sessions dir there is nothing to adopt later.
            log_line("error", "", error.what());
            send({{"type", "exit"}, {"report", to_json(setup_failure("", error))}});
            return 1;
        }
        rings_ = std::move(first.fds);
        report_ = to_json(run_session());
        finish();
        return 0;
    }

    // MonitorHooks
    void jail_started(SessionControl& control) override {
        control_ = &control;
        init_pid_ = control.init_pid();
        cgroup_path_ = control.cgroup().describe();
        // The init holds the program's ends now; ours would keep stdout from ever ending.
        payload_in_.reset();
        payload_out_.reset();
        payload_err_.reset();
    }
    void take_pty_master(UniqueFd master) override { master_ = std::move(master); }

    void take_egress_listener(EgressListener kind, UniqueFd listener) override {
        egress_.emplace_back(kind, std::move(listener));
    }
    void program_running() override {
        running_ = true;
        send_ready();
    }
    void add_pollfds(std::vector<struct pollfd>& fds) override {
        fds.push_back({link_ ? link_.get() : -1, POLLIN, 0});
        fds.push_back({listener_.get(), POLLIN, 0});
        for (const auto& pending : pending_) {
            fds.push_back({pending.get(), POLLIN, 0});
        }
    }
    void handle(const std::vector<struct pollfd>& fds, std::size_t first) override {
        // A link problem must never end the session: everything stays inside this call.
        try {
            const std::size_t pending_count = pending_.size();
            if (fds[first].revents) {
                read_link();
            }
            if (fds[first + 1].revents & POLLIN) {
                accept_adopters();
            }
            for (std::size_t i = pending_count; i-- > 0;) {
                if (fds[first + 2 + i].revents) {
                    read_pending(i);
                }
            }
        } catch (const std::exception& error) {
            log_line("error", start_.session, error.what());
        }
    }

  private:
    bool receive_start(LinkMessage& first) {
        try {
            if (receive_link_message(link_.get(), first) != ReceiveResult::message) {
                log_line("error", "", "the link closed before start");
                return false;
            }
        } catch (const JailError& error) {
            log_line("error", "", error.what());
            return false;
        }
        if (first.body.value("type", "") != "start") {
            log_line("error", "", "the first message on the link is not start");
            return false;
        }
        return true;
    }

    ExitReport run_session() {
        std::optional<SessionJail> jail;
        try {
            listener_ = listen_session_socket(path(".sock"));
            jail = resolve_session_jail(start_);
            mode_ = jail->mode;
            check_ring_count();
        } catch (const JailError& error) {
            log_line("error", start_.session, error.what());
            return setup_failure(start_.session, error);
        }
        MonitorOptions options;
        options.cgroup = start_.host.cgroup;
        try {
            enter_monitors_leaf(options.cgroup);
        } catch (const JailError& error) {
            log_line("error", start_.session, error.what());
            return setup_failure(start_.session, error);
        }
        options.kill_grace = start_.kill_grace;
        options.hooks = this;
        if (mode_ == protocol::SpawnMode::pipe) {
            try {
                make_stdio_pipes(jail->spec, options.payload_stdio);
            } catch (const JailError& error) {
                return setup_failure(start_.session, error);
            }
        }
        ExitReport report = run_jail(jail->spec, options);
        control_ = nullptr;
        payload_in_.reset();
        payload_out_.reset();
        payload_err_.reset();
        return report;
    }

    void check_ring_count() const {
        const std::size_t expected = mode_ == protocol::SpawnMode::pty ? 1 : 2;
        if (rings_.size() != expected) {
            throw JailError(Step::request, EINVAL,
                            "start: expected " + std::to_string(expected) +
                                " ring descriptors, got " + std::to_string(rings_.size()));
        }
    }

    void make_stdio_pipes(const JailSpec& spec, PayloadStdio& stdio) {
        Pipe in = make_pipe(spec.uid, spec.gid);
        Pipe out = make_pipe(spec.uid, spec.gid);
        Pipe err = make_pipe(spec.uid, spec.gid);
        stdin_w_ = std::move(in.write);
        stdout_r_ = std::move(out.read);
        stderr_r_ = std::move(err.read);
        payload_in_ = std::move(in.read);
        payload_out_ = std::move(out.write);
        payload_err_ = std::move(err.write);
        stdio = {payload_in_.get(), payload_out_.get(), payload_err_.get()};
    }

    // After the session: the report on disk and on the link, then the wait for its ack.
    void finish() {
        try {
            write_exit_file(path(".exit.json"), report_);
        } catch (const JailError& error) {
            log_line("error", start_.session, error.what());
        }
        send_exit();
        const auto deadline = Clock::now() + start_.orphan_timeout;
        while (!acked_ && Clock::now() < deadline) {
            std::vector<struct pollfd> fds;
            add_pollfds(fds);
            const auto left =
                std::chrono::duration_cast<milliseconds>(deadline - Clock::now()).count();
            const int rc = ::poll(fds.data(), fds.size(), static_cast<int>(std::max(0L, left)));
            if (rc > 0) {
                handle(fds, 0);
            } else if (rc < 0 && errno != EINTR) {
                break;
            }
        }
        if (!acked_) {
            log_line("warn", start_.session, "no exit_ack within the orphan timeout");
        }
        if (listener_) {
            ::unlink(path(".sock").c_str());
        }
    }

    std::filesystem::path path(const char* suffix) const {
        return start_.sessions_dir / (start_.session + suffix);
    }

    void read_link() {
        LinkMessage message;
        ReceiveResult result;
        try {
            result = receive_link_message(link_.get(), message);
        } catch (const JailError& error) {
            log_line("warn", start_.session, error.what());  // one bad packet, already consumed
            return;
        }
        if (result == ReceiveResult::eof) {
            // The daemon is gone (or gave up the link): the session goes on, waiting for adopt.
            log_line("info", start_.session, "the daemon link closed; waiting for adopt");
            link_.reset();
            return;
        }
        if (result == ReceiveResult::message) {
            dispatch(message.body);
        }
    }

    void accept_adopters() {
        while (auto peer = accept_root_peer(listener_.get())) {
            if (!*peer) {
                log_line("warn", start_.session, "refused an adopt connection of a non-root peer");
                continue;
            }
            if (pending_.size() >= kMaxPendingAdopts) {
                pending_.pop_front();
            }
            pending_.push_back(std::move(*peer));
        }
    }

    void read_pending(std::size_t index) {
        LinkMessage message;
        ReceiveResult result = ReceiveResult::eof;
        try {
            result = receive_link_message(pending_[index].get(), message);
        } catch (const JailError& error) {
            log_line("warn", start_.session, error.what());
        }
        if (result == ReceiveResult::would_block) {
            return;
        }
        UniqueFd connection = std::move(pending_[index]);
        pending_.erase(pending_.begin() + static_cast<long>(index));
        if (result != ReceiveResult::message || message.body.value("type", "") != "adopt") {
            return;  // the first message on an adopt connection must be adopt
        }
        link_ = std::move(connection);
        set_send_timeout(link_.get());
        log_line("info", start_.session, "adopted by a new daemon link");
        answer_adopt();
    }

    void answer_adopt() {
        if (running_) {
            send_ready();
        }
        if (!report_.is_null()) {
            send_exit();
        }
    }

    void dispatch(const json& body) {
        const std::string type = body.value("type", "");
        if (type == "signal") {
            take_signal(body);
        } else if (type == "kill") {
            take_kill(body);
        } else if (type == "close_stdin") {
            if (stdin_w_) {
                stdin_w_.reset();
                stdin_closed_ = true;
            }
        } else if (type == "exit_ack") {
            acked_ = !report_.is_null();
        } else if (type == "usage") {
            send_usage();
        } else if (type == "adopt") {
            answer_adopt();
        } else {
            log_line("warn", start_.session, "ignored a link message of type \"" + type + "\"");
        }
    }

    void take_signal(const json& body) {
        const json& value = body.value("signal", json());
        if (!value.is_number_integer() || value.get<int>() < 1 || value.get<int>() >= NSIG) {
            log_line("warn", start_.session, "signal: expected a signal number");
            return;
        }
        if (control_) {
            control_->forward_signal(value.get<int>());
        }
    }

    void take_kill(const json& body) {
        milliseconds grace = start_.kill_grace;
        if (body.contains("grace_ms") && body.at("grace_ms").is_number_unsigned()) {
            grace = milliseconds(std::min<std::uint64_t>(body.at("grace_ms").get<std::uint64_t>(),
                                                         24ull * 3600 * 1000));
        }
        const ExitStatus status = body.value("status", "killed") == "output_limit"
                                      ? ExitStatus::output_limit
                                      : ExitStatus::killed;
        if (control_) {
            control_->end(grace, status);
        }
    }

    void send_usage() {
        json usage;
        std::vector<pid_t> pids;
        if (control_) {
            usage = usage_json(control_->cgroup().usage(), cgroup_memory_bytes(control_->cgroup()));
            pids = cgroup_pids(control_->cgroup());
        } else if (!report_.is_null()) {
            usage = usage_json(exit_report_from_json(report_).usage, 0);
        } else {
            usage = usage_json(CgroupUsage{}, 0);
        }
        send({{"type", "usage"}, {"usage", usage}, {"pids", pids}});
    }

    void send_ready() {
        const bool pty = mode_ == protocol::SpawnMode::pty;
        json body = {{"type", "ready"},           {"session", start_.session},
                     {"monitor_pid", ::getpid()}, {"init_pid", init_pid_},
                     {"cgroup", cgroup_path_},    {"mode", pty ? "pty" : "pipe"}};
        std::vector<int> fds;
        for (const auto& ring : rings_) {
            fds.push_back(ring.get());
        }
        UniqueFd placeholder;
        if (pty) {
            fds.push_back(master_.get());
        } else {
            if (!stdin_w_) {
                placeholder = closed_stdin_placeholder();
            }
            body["stdin_closed"] = stdin_closed_;
            fds.push_back(stdin_w_ ? stdin_w_.get() : placeholder.get());
            fds.push_back(stdout_r_.get());
            fds.push_back(stderr_r_.get());
        }
        // The listeners come last, named in order, so the stream descriptors keep their places.
        json egress = json::array();
        for (const auto& [kind, listener] : egress_) {
            egress.push_back(kind == EgressListener::proxy ? "proxy" : "gateway");
            fds.push_back(listener.get());
        }
        body["egress"] = egress;
        send(body, fds);
    }

    void send_exit() { send({{"type", "exit"}, {"report", report_}}); }

    void send(const json& body, std::span<const int> fds = {}) {
        if (!link_) {
            return;  // an adopting daemon gets it again
        }
        if (!send_link_message(link_.get(), body, fds)) {
            log_line("warn", start_.session,
                     "cannot send " + body.value("type", "") + " on the link; waiting for adopt");
            link_.reset();
        }
    }

    static void set_send_timeout(int fd) {
        ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &kSendTimeout, sizeof kSendTimeout);
    }

    UniqueFd link_;
    StartMessage start_;
    protocol::SpawnMode mode_ = protocol::SpawnMode::pty;
    UniqueFd listener_;
    std::deque<UniqueFd> pending_;
    // Held for the monitor's whole life, so a daemon crash loses no descriptor.
    std::vector<UniqueFd> rings_;
    UniqueFd master_;
    std::vector<std::pair<EgressListener, UniqueFd>> egress_;
    UniqueFd stdin_w_, stdout_r_, stderr_r_;
    bool stdin_closed_ = false;
    // The program's ends, held only until the init has them.
    UniqueFd payload_in_, payload_out_, payload_err_;
    SessionControl* control_ = nullptr;
    pid_t init_pid_ = 0;
    std::string cgroup_path_;
    bool running_ = false;
    json report_;  // null while the session runs
    bool acked_ = false;
};

}  // namespace

int run_monitor_service(int link_fd) {
    detach_from_daemon(link_fd);
    MonitorService service(link_fd);
    return service.run();
}

}  // namespace ccjail::link
