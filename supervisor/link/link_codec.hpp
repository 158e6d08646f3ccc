#pragma once

#include <cstddef>
#include <span>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/unique_fd.hpp"

// The link between ccjaild and one session's monitor (ccjail-exec --daemon-fd): an AF_UNIX
// SOCK_SEQPACKET socket where each packet is one JSON object and up to kMaxLinkFds descriptors
// (SCM_RIGHTS). docs/link.md lists the messages. Plain C++ with no event loop, so the static
// ccjail-exec and the asio daemon share it.
namespace ccjail::link {

inline constexpr std::size_t kMaxLinkMessageBytes = 64 * 1024;
inline constexpr std::size_t kMaxLinkFds = 8;

// The implicit move constructor moves `body` with nlohmann::json's noexcept one, whose invariant
// assertions the exception-escape check cannot see through.
struct LinkMessage {  // NOLINT(bugprone-exception-escape): see above
    nlohmann::json body;
    std::vector<UniqueFd> fds;  // close-on-exec, in the order the sender gave them
};

// Sends one packet. False when the socket refused it (errno says why: EPIPE/ECONNRESET for a
// peer that is gone, EAGAIN for a full non-blocking socket or an expired SO_SNDTIMEO). Throws
// JailError(Step::supervise) when `body` is not an object, is too large, or has too many fds.
bool send_link_message(int fd, const nlohmann::json& body, std::span<const int> fds = {});

enum class ReceiveResult { message, eof, would_block };

// Receives one packet into `out` (replacing what it held). Blocking or not per the socket.
// ECONNRESET counts as EOF. Throws JailError(Step::supervise) on a malformed packet (truncated
// data or control, not JSON, not an object); fds that came with it are closed.
ReceiveResult receive_link_message(int fd, LinkMessage& out);

}  // namespace ccjail::link
