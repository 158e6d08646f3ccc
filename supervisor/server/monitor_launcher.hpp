#pragma once

#include <sys/types.h>

#include <filesystem>

#include <boost/asio/io_context.hpp>

#include "common/unique_fd.hpp"

namespace ccjail::server {

// A freshly started monitor: its pid (our child until it exits or we crash) and the daemon's end
// of the link socket.
struct LaunchedMonitor {
    pid_t pid = -1;
    UniqueFd link;
};

// Starts `ccjail-exec --daemon-fd 3` with Boost.Process v2: a fresh launcher for every launch
// (1.81's launcher grows its fd whitelist when reused), an explicit minimal environment, stdin
// and stdout on /dev/null, stderr shared with the daemon (the monitor's log lines), and the
// monitor's end of a SOCK_SEQPACKET pair as fd 3. Every other daemon fd is close-on-exec, and
// the monitor closes everything but 0-3 itself, since 1.81's fd-closing loop skips fds.
// Throws JailError(Step::supervise) when the monitor cannot be started.
//
// `launch_context` must be an io_context of its own that holds nothing: Boost.Process calls
// notify_fork() on it around the fork, and on the daemon's loop that would make every child
// re-create the epoll set and re-register every session's descriptors before its exec (tens of
// milliseconds per spawn with hundreds of sessions). The monitor's process handle is detached
// right away, so nothing ever runs on that context.
LaunchedMonitor launch_monitor(boost::asio::io_context& launch_context,
                               const std::filesystem::path& exec_path);

}  // namespace ccjail::server
