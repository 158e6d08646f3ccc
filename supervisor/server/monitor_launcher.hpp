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
LaunchedMonitor launch_monitor(boost::asio::io_context& io, const std::filesystem::path& exec_path);

}  // namespace ccjail::server
