#pragma once

#include <cstddef>
#include <optional>
#include <string>

#include "common/unique_fd.hpp"

namespace ccjail::server {

// What ccjaild tells and takes from a service manager (systemd's sd_notify and socket
// activation, docs/operations.md "Running under systemd"). Outside a service manager every call
// does nothing: NOTIFY_SOCKET and LISTEN_FDS are unset.

// READY=1 once the socket accepts, with the number of sessions re-adopted.
void notify_ready(std::size_t sessions);
// STATUS= for `systemctl status`.
void notify_status(std::size_t sessions);
// READY=1 of `ccjaild --hold-cgroup`, naming the cgroup it holds for jails.
void notify_holding(const std::string& parent);

// STOPPING=1 when an orderly shutdown begins.
void notify_stopping();

// The listening socket a socket unit passed (exactly one, AF_UNIX stream, listening), made
// close-on-exec; nullopt when none was passed. LISTEN_FDS/LISTEN_PID are cleared either way, so
// no monitor inherits them. Throws JailError(Step::supervise) when fds were passed that are not
// one such socket: running on a socket the admin did not mean is worse than not starting.
std::optional<UniqueFd> activated_socket();

}  // namespace ccjail::server
