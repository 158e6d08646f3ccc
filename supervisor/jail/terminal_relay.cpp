#include "jail/terminal_relay.hpp"

#include <fcntl.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <cerrno>

namespace ccjail {
namespace {

constexpr int kDrainWaitMs = 5000;

void set_nonblocking(int fd) {
    const int flags = ::fcntl(fd, F_GETFL);
    if (flags >= 0) {
        ::fcntl(fd, F_SETFL, flags | O_NONBLOCK);
    }
}

}  // namespace

RawTerminal::RawTerminal(int fd) : fd_(fd) {
    struct termios mode {};
    if (::isatty(fd) && ::tcgetattr(fd, &mode) == 0) {
        saved_ = mode;
        ::cfmakeraw(&mode);
        ::tcsetattr(fd, TCSADRAIN, &mode);
    }
}

RawTerminal::~RawTerminal() {
    if (saved_) {
        ::tcsetattr(fd_, TCSADRAIN, &*saved_);
    }
}

TerminalRelay::TerminalRelay(int input, int output, UniqueFd master)
    : master_(std::move(master)),
      to_jail_{input, master_.get(), {}, false},
      from_jail_{master_.get(), output, {}, false} {
    set_nonblocking(master_.get());
}

void TerminalRelay::add_pollfds(std::vector<struct pollfd>& fds) {
    first_pollfd_ = fds.size();
    for (Direction* d : {&to_jail_, &from_jail_}) {
        const bool want_read = !d->eof && d->buffer.size() < kBufferBytes;
        fds.push_back({want_read ? d->from : -1, POLLIN, 0});
        fds.push_back({d->buffer.empty() ? -1 : d->to, POLLOUT, 0});
    }
}

void TerminalRelay::handle(const std::vector<struct pollfd>& fds) {
    std::size_t i = first_pollfd_;
    for (Direction* d : {&to_jail_, &from_jail_}) {
        if (fds[i].revents & (POLLIN | POLLHUP | POLLERR)) {
            pump_in(*d);
        }
        if (fds[i + 1].revents & (POLLOUT | POLLERR)) {
            pump_out(*d);
        }
        i += 2;
    }
}

void TerminalRelay::pump_in(Direction& d) {
    char chunk[16384];
    const std::size_t room = kBufferBytes - d.buffer.size();
    const ssize_t n = ::read(d.from, chunk, std::min(room, sizeof chunk));
    if (n > 0) {
        d.buffer.append(chunk, static_cast<std::size_t>(n));
    } else if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
        // EOF on the caller's input, or EIO on the master once every slave is closed.
        d.eof = true;
        if (&d == &to_jail_) {
            // Like script(1): the end of piped input reaches the program as ^D.
            d.buffer.push_back('\x04');
        }
    }
}

void TerminalRelay::pump_out(Direction& d) {
    // The caller's fds may be blocking (we do not change the mode of a terminal we share), and
    // POLLOUT only promises room for PIPE_BUF bytes: one bounded write per readiness event.
    const ssize_t n = ::write(d.to, d.buffer.data(), std::min<std::size_t>(d.buffer.size(), 4096));
    if (n > 0) {
        d.buffer.erase(0, static_cast<std::size_t>(n));
    }
}

void TerminalRelay::copy_window_size() {
    struct winsize size {};
    if (::ioctl(to_jail_.from, TIOCGWINSZ, &size) == 0) {
        ::ioctl(master_.get(), TIOCSWINSZ, &size);
    }
}

void TerminalRelay::drain() {
    // The jail is gone: the master yields what is still buffered, then EIO. Blocking on the
    // caller's output is fine for these last bytes.
    for (;;) {
        while (!from_jail_.buffer.empty()) {
            const ssize_t n =
                ::write(from_jail_.to, from_jail_.buffer.data(), from_jail_.buffer.size());
            if (n < 0 && errno == EAGAIN) {
                // A non-blocking output that is full: wait for room, but not forever.
                struct pollfd p = {from_jail_.to, POLLOUT, 0};
                if (::poll(&p, 1, kDrainWaitMs) <= 0) {
                    return;
                }
                continue;
            }
            if (n <= 0 && errno != EINTR) {
                return;
            }
            if (n > 0) {
                from_jail_.buffer.erase(0, static_cast<std::size_t>(n));
            }
        }
        if (from_jail_.eof) {
            return;
        }
        pump_in(from_jail_);
        if (from_jail_.buffer.empty()) {
            return;  // EAGAIN: nothing left
        }
    }
}

}  // namespace ccjail
