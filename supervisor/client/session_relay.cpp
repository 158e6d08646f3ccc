#include "client/session_relay.hpp"

#include <poll.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <limits>

#include "common/unique_fd.hpp"
#include "jail/terminal_relay.hpp"

namespace ccjail::client {
namespace {

using protocol::Frame;
using protocol::FrameType;

constexpr Timeout kOpTimeout{10'000};
constexpr std::size_t kInputChunk = 16 * 1024;
// Frames handled before stdin and signals get a turn, so a fast session cannot starve them.
constexpr int kFramesPerTurn = 256;

constexpr std::array<int, 5> kRelayedSignals{SIGWINCH, SIGINT, SIGTERM, SIGQUIT, SIGHUP};

std::string signal_name(int sig) {
    switch (sig) {
        case SIGINT:
            return "SIGINT";
        case SIGTERM:
            return "SIGTERM";
        case SIGQUIT:
            return "SIGQUIT";
        case SIGHUP:
            return "SIGHUP";
        default:
            return std::to_string(sig);
    }
}

// Signals read from an fd in the poll loop instead of interrupting it. Restores the mask when
// destroyed, after swallowing what is pending, so a late Ctrl-C does not kill us on the way out.
class SignalFd {
  public:
    SignalFd() {
        sigemptyset(&set_);
        for (const int sig : kRelayedSignals) {
            sigaddset(&set_, sig);
        }
        ::sigprocmask(SIG_BLOCK, &set_, &saved_);
        fd_.reset(::signalfd(-1, &set_, SFD_NONBLOCK | SFD_CLOEXEC));
    }
    SignalFd(const SignalFd&) = delete;
    SignalFd& operator=(const SignalFd&) = delete;
    ~SignalFd() {
        while (next()) {
        }
        fd_.reset();
        ::sigprocmask(SIG_SETMASK, &saved_, nullptr);
    }
    int fd() const { return fd_.get(); }
    std::optional<int> next() {
        struct signalfd_siginfo info {};
        if (!fd_ || ::read(fd_.get(), &info, sizeof info) != sizeof info) {
            return std::nullopt;
        }
        return static_cast<int>(info.ssi_signo);
    }

  private:
    sigset_t set_{};
    sigset_t saved_{};
    UniqueFd fd_;
};

// A string field, or `fallback` when it is missing or not a string: events come from a daemon
// that may be newer than this build.
std::string text_field(const nlohmann::json& body, const char* key, const char* fallback = "") {
    const auto it = body.find(key);
    return it != body.end() && it->is_string() ? it->get<std::string>() : fallback;
}

std::uint64_t count_field(const nlohmann::json& body, const char* key) {
    const auto it = body.find(key);
    return it != body.end() && it->is_number_unsigned() ? it->get<std::uint64_t>() : 0;
}

// Blocking write of all bytes, also to an fd someone left non-blocking. False on EPIPE or any
// other error: the reader went away.
bool write_fully(int fd, std::string_view bytes) {
    while (!bytes.empty()) {
        const ssize_t n = ::write(fd, bytes.data(), bytes.size());
        if (n > 0) {
            bytes.remove_prefix(static_cast<std::size_t>(n));
        } else if (n < 0 && errno == EAGAIN) {
            struct pollfd pfd {
                fd, POLLOUT, 0
            };
            ::poll(&pfd, 1, -1);
        } else if (n < 0 && errno == EINTR) {
            continue;
        } else {
            return false;
        }
    }
    return true;
}

class Relay {
  public:
    Relay(Client& client, const RelayOptions& options)
        : client_(client), o_(options), in_credit_(options.in_credit) {}

    RelayResult run() {
        SignalFd signals;
        std::optional<RawTerminal> raw;
        if (o_.raw_terminal) {
            raw.emplace(o_.in_fd);
        }
        raw_ = o_.raw_terminal && ::isatty(o_.in_fd);
        client_.send_credit(o_.channel, kOutputWindow);
        if (o_.resize_on_start) {
            send_resize();
        }
        while (!result_) {
            handle_frames();
            if (result_) {
                break;
            }
            wait_and_dispatch(signals);
        }
        return *result_;
    }

  private:
    bool reading_input() const { return !o_.read_only && input_open_ && in_credit_ > 0; }

    void handle_frames() {
        for (int i = 0; i < kFramesPerTurn && !result_; ++i) {
            auto frame = client_.next_frame(Timeout::zero());
            if (!frame) {
                break;
            }
            handle(*frame);
        }
        // Credit goes back only for bytes already written out: that is the backpressure.
        if (ungranted_ > 0 && !result_) {
            client_.send_credit(o_.channel, ungranted_);
            ungranted_ = 0;
        }
    }

    void wait_and_dispatch(SignalFd& signals) {
        std::array<struct pollfd, 3> fds{{
            {client_.fd(), POLLIN, 0},
            {reading_input() ? o_.in_fd : -1, POLLIN, 0},
            {signals.fd(), POLLIN, 0},
        }};
        const int timeout = client_.has_queued() ? 0 : -1;
        if (::poll(fds.data(), fds.size(), timeout) < 0) {
            return;  // EINTR: go round again
        }
        if (fds[2].revents & POLLIN) {
            while (auto sig = signals.next()) {
                handle_signal(*sig);
            }
        }
        if (!result_ && (fds[1].revents & (POLLIN | POLLHUP | POLLERR))) {
            pump_input();
        }
    }

    void handle(const Frame& frame) {
        if (frame.type == FrameType::evt) {
            handle_event(frame);
            return;
        }
        if (frame.channel != o_.channel) {
            return;
        }
        switch (frame.type) {
            case FrameType::out:
            case FrameType::err:
                write_output(frame);
                break;
            case FrameType::credit: {
                const std::uint64_t sum = std::uint64_t{in_credit_} + protocol::credit_bytes(frame);
                in_credit_ = static_cast<std::uint32_t>(
                    std::min<std::uint64_t>(sum, std::numeric_limits<std::uint32_t>::max()));
                send_pending_veof();
                break;
            }
            default:
                break;  // EOF: the exit event follows; RES: a late answer nobody waits for
        }
    }

    void write_output(const Frame& frame) {
        const int fd = frame.type == FrameType::err && !o_.pty ? o_.err_fd : o_.out_fd;
        if (!write_fully(fd, frame.payload)) {
            output_closed();
            return;
        }
        ungranted_ += static_cast<std::uint32_t>(frame.payload.size());
    }

    void handle_event(const Frame& frame) {
        if (frame.channel != o_.channel && frame.channel != 0) {
            return;
        }
        const auto body = nlohmann::json::parse(frame.payload, nullptr, false);
        if (!body.is_object()) {
            return;
        }
        const std::string event = text_field(body, "event");
        if (event == "exit" && frame.channel == o_.channel) {
            const auto it = body.find("report");
            const auto report = it != body.end() ? *it : nlohmann::json(nullptr);
            result_ = RelayResult{RelayOutcome::exited, report, exit_code_from_report(report)};
        } else if (event == "dropped") {
            notice(std::to_string(count_field(body, "bytes")) +
                   " bytes of output were dropped while nobody read them");
        } else if (event == "error") {
            const std::string code = text_field(body, "code", "internal");
            // Our EOF can cross the program's exit, which closes its input first: that refusal
            // changes nothing and must not land in the program's stderr stream.
            if (code == "bad_request" && !input_open_) {
                return;
            }
            notice(code + ": " + text_field(body, "message"));
        }
    }

    void pump_input() {
        std::array<char, kInputChunk> buffer;
        const std::size_t want = std::min<std::size_t>(buffer.size(), in_credit_);
        const ssize_t n = ::read(o_.in_fd, buffer.data(), want);
        if (n < 0) {
            if (errno == EINTR || errno == EAGAIN) {
                return;
            }
            input_open_ = false;  // EIO: the terminal is gone
            return;
        }
        if (n == 0) {
            input_open_ = false;
            end_input();
            return;
        }
        std::string_view bytes(buffer.data(), static_cast<std::size_t>(n));
        const auto key = raw_ ? bytes.find(kDetachKey) : std::string_view::npos;
        const auto sent = bytes.substr(0, key);
        client_.send_input(o_.channel, sent, o_.max_input_frame);
        in_credit_ -= static_cast<std::uint32_t>(sent.size());
        if (!sent.empty()) {
            at_line_start_ = sent.back() == '\n';
        }
        if (key != std::string_view::npos) {
            detach(0);
        }
    }

    // A pipe session's stdin closes with EOF. A terminal has no stdin to close (the daemon
    // refuses EOF in pty mode): its line discipline turns ^D at the start of a line into
    // end-of-file, so a partial line first needs a ^D of its own to be flushed.
    void end_input() {
        if (!o_.pty) {
            client_.send_eof(o_.channel);
            return;
        }
        pending_veof_ = at_line_start_ ? "\x04" : "\x04\x04";
        send_pending_veof();
    }

    void send_pending_veof() {
        if (pending_veof_.empty() || in_credit_ < pending_veof_.size()) {
            return;
        }
        client_.send_input(o_.channel, pending_veof_);
        in_credit_ -= static_cast<std::uint32_t>(pending_veof_.size());
        pending_veof_.clear();
    }

    void handle_signal(int sig) {
        if (sig == SIGWINCH) {
            send_resize();
            return;
        }
        if (o_.read_only) {
            detach(128 + sig);
            return;
        }
        session_op({{"op", "signal"}, {"signal", signal_name(sig)}});
    }

    void send_resize() {
        if (!o_.pty || o_.read_only) {
            return;
        }
        if (const auto size = terminal_size(o_.out_fd, o_.in_fd)) {
            session_op({{"op", "resize"}, {"cols", size->first}, {"rows", size->second}});
        }
    }

    // A request on the session's channel; a refusal is shown, not fatal.
    bool session_op(nlohmann::json body) {
        try {
            client_.request(std::move(body), kOpTimeout, o_.channel);
            return true;
        } catch (const ClientError& e) {
            notice(e.code_name() + ": " + e.what());
        } catch (const TimeoutError& e) {
            notice(e.what());
        }
        return false;
    }

    void detach(int exit_code) {
        session_op({{"op", "detach"}});
        if (exit_code == 0) {
            notice("detached from session " + o_.session + "; reattach with: ccjailctl attach " +
                   o_.session);
        }
        result_ = RelayResult{RelayOutcome::detached, nullptr, exit_code};
    }

    void output_closed() {
        if (o_.kill_on_output_closed && !o_.read_only) {
            session_op({{"op", "kill"}});
        } else {
            session_op({{"op", "detach"}});
        }
        result_ = RelayResult{RelayOutcome::output_closed, nullptr, 128 + SIGPIPE};
    }

    // A terminal in raw mode does not turn "\n" into "\r\n".
    void notice(const std::string& text) const {
        const std::string line = "ccjailctl: " + text + (raw_ ? "\r\n" : "\n");
        write_fully(o_.err_fd, line);
    }

    Client& client_;
    const RelayOptions& o_;
    std::uint32_t in_credit_;
    std::uint32_t ungranted_ = 0;
    bool input_open_ = true;
    bool at_line_start_ = true;
    std::string pending_veof_;
    bool raw_ = false;
    std::optional<RelayResult> result_;
};

}  // namespace

RelayResult relay_session(Client& client, const RelayOptions& options) {
    return Relay(client, options).run();
}

int exit_code_from_report(const nlohmann::json& report) {
    if (!report.is_object()) {
        return 1;
    }
    const auto number = [&report](const char* key) {
        const auto it = report.find(key);
        return it != report.end() && it->is_number_integer() ? it->get<int>() : 0;
    };
    const auto status = text_field(report, "status");
    if (status == "exited") {
        return number("exit_code") & 0xff;
    }
    if (status == "signaled") {
        return 128 + number("signal");
    }
    if (status == "setup_failed") {
        return 125;
    }
    if (status == "killed" || status == "oom" || status == "wall_timeout" ||
        status == "cpu_timeout" || status == "output_limit") {
        return 128 + SIGKILL;
    }
    return 1;
}

std::optional<std::pair<int, int>> terminal_size(int first_fd, int second_fd) {
    for (const int fd : {first_fd, second_fd}) {
        struct winsize size {};
        if (::isatty(fd) && ::ioctl(fd, TIOCGWINSZ, &size) == 0 && size.ws_col > 0 &&
            size.ws_row > 0) {
            return std::make_pair(static_cast<int>(size.ws_col), static_cast<int>(size.ws_row));
        }
    }
    return std::nullopt;
}

}  // namespace ccjail::client
