#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "client/client.hpp"

namespace ccjail::client {

// What `ccjailctl run` and `ccjailctl attach` do once they hold a session's channel: copy this
// process's stdin to the session within the granted IN credit, the session's OUT/ERR to
// stdout/stderr (granting OUT credit back only once written, so a slow terminal slows the
// jail), forward SIGWINCH as `resize` and terminal signals as `signal`, until the `exit` event.
struct RelayOptions {
    std::string session;
    std::uint32_t channel = 0;
    bool pty = true;              // the session's mode; pipe mode keeps ERR apart
    bool read_only = false;       // never send input, resize or signals
    std::uint32_t in_credit = 0;  // from the spawn/attach result
    // The session's largest IN frame (result field max_input_frame_bytes when the daemon
    // sends it); input is split below it.
    std::size_t max_input_frame = Client::kDefaultInputFrame;
    bool raw_terminal = false;          // put in_fd in raw mode while attached (a tty, pty mode)
    bool resize_on_start = false;       // send our window size first (attach)
    bool kill_on_output_closed = true;  // stdout closed (EPIPE): kill (run) or detach (attach)
    int in_fd = 0;
    int out_fd = 1;
    int err_fd = 2;
};

enum class RelayOutcome {
    exited,         // the `exit` event came: report holds the exit report
    detached,       // the user typed the detach key (Ctrl-]) or a signal ended a read-only view
    output_closed,  // our stdout went away
};

struct RelayResult {
    RelayOutcome outcome = RelayOutcome::exited;
    nlohmann::json report;  // the exit report when exited
    int exit_code = 0;      // what ccjailctl should exit with
};

// The byte that detaches from a session when typed on a raw terminal (Ctrl-], as in telnet).
inline constexpr char kDetachKey = '\x1d';
// OUT/ERR credit this side keeps outstanding.
inline constexpr std::uint32_t kOutputWindow = 256 * 1024;

RelayResult relay_session(Client& client, const RelayOptions& options);

// The exit code for an exit report: exit_code for `exited`, 128+signal for `signaled`, 125 for
// `setup_failed`, 137 when the supervisor ended it (killed, oom, timeouts, output_limit); 1 for
// a report this build cannot read.
int exit_code_from_report(const nlohmann::json& report);

// The window size of the first terminal among the fds, as {cols, rows}.
std::optional<std::pair<int, int>> terminal_size(int first_fd, int second_fd);

}  // namespace ccjail::client
