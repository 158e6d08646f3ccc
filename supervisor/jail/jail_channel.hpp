#pragma once

#include <cstdint>
#include <optional>

#include "common/error.hpp"
#include "common/unique_fd.hpp"

namespace ccjail {

// Messages on the SOCK_SEQPACKET pair between the monitor and the jail: one fixed-size record
// per packet, so no parsing happens on either side and the payload can report its own setup
// failure right up to execve (the fd is close-on-exec).
enum class JailMessageType : std::uint32_t {
    go = 1,                // monitor -> init: the cgroup is in place, build the jail
    setup_failed = 2,      // init or payload -> monitor: step, errno, text
    child_exited = 3,      // init -> monitor: the payload's wait status
    pty_master = 4,        // init -> monitor: the pty master of the jail's devpts rides along
    payload_pidfd = 5,     // init -> monitor: a pidfd of the program rides along
    proxy_listener = 6,    // init -> monitor: the jail's 127.0.0.1:<proxy_port> listener
    gateway_listener = 7,  // init -> monitor: the jail's 127.0.0.1:<gateway_port> listener
};

struct JailMessage {
    JailMessageType type = JailMessageType::go;
    std::int32_t step = 0;
    std::int32_t err = 0;
    std::int32_t wait_status = 0;
    char text[496] = {};
};

bool send_message(int fd, const JailMessage& message);
// The same, with one fd attached (SCM_RIGHTS).
bool send_message_with_fd(int fd, const JailMessage& message, int attached_fd);
// nullopt on EOF, on a short or malformed packet, or (non-blocking sockets) when nothing waits.
std::optional<JailMessage> receive_message(int fd);
// The same, also taking an fd attached to the message (close-on-exec) into *attached.
std::optional<JailMessage> receive_message(int fd, UniqueFd* attached);
JailMessage setup_failure_message(const JailError& error);

}  // namespace ccjail
