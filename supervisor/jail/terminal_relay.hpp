#pragma once

#include <poll.h>
#include <termios.h>

#include <optional>
#include <string>
#include <vector>

#include "common/unique_fd.hpp"

namespace ccjail {

// Puts the caller's terminal into raw mode for as long as it lives, so keys (Ctrl-C included)
// reach the jail's own line discipline as bytes; restores the saved mode when destroyed.
class RawTerminal {
  public:
    explicit RawTerminal(int fd);
    RawTerminal(const RawTerminal&) = delete;
    RawTerminal& operator=(const RawTerminal&) = delete;
    ~RawTerminal();

  private:
    int fd_;
    std::optional<struct termios> saved_;
};

// Copies the caller's input to the jail's pty master and the master's output to the caller,
// inside the monitor's poll loop. Each direction has a bounded buffer; while it is full the
// source is not read, so a slow reader stalls the writer instead of growing memory.
class TerminalRelay {
  public:
    TerminalRelay(int input, int output, UniqueFd master);

    // Appends the fds to watch; remembers where they went for handle().
    void add_pollfds(std::vector<struct pollfd>& fds);
    void handle(const std::vector<struct pollfd>& fds);
    // Copies the caller's window size to the pty (SIGWINCH).
    void copy_window_size();
    // After the jail has ended: delivers what is still in the master.
    void drain();

  private:
    struct Direction {
        int from;
        int to;
        std::string buffer;
        bool eof = false;
    };
    void pump_in(Direction& d);
    static void pump_out(Direction& d);

    static constexpr std::size_t kBufferBytes = 64 * 1024;
    UniqueFd master_;
    Direction to_jail_;
    Direction from_jail_;
    std::size_t first_pollfd_ = 0;
};

}  // namespace ccjail
