#pragma once

namespace ccjail::link {

// `ccjail-exec --daemon-fd N`: one session's monitor, driven by ccjaild over the link on fd
// `link_fd` (docs/link.md). Detaches from the daemon (setsid, SIGPIPE ignored, stdin and stdout
// on /dev/null, every other inherited fd closed), takes the `start` message, runs the jail, and
// outlives the daemon's link: a new daemon takes the session over through the adopt socket.
// Returns the process's exit code: 0 after exit_ack or the orphan timeout, 1 when the link
// broke before a valid `start`.
int run_monitor_service(int link_fd);

}  // namespace ccjail::link
