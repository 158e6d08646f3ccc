#pragma once

#include <filesystem>
#include <optional>

#include "common/unique_fd.hpp"

namespace ccjail::link {

// The monitor's adopt socket `<sessions_dir>/<session>.sock`: AF_UNIX SOCK_SEQPACKET, mode
// 0600, non-blocking, close-on-exec. An existing file at `path` is an error (EADDRINUSE): it
// may be another live monitor's. Throws JailError(Step::supervise).
UniqueFd listen_session_socket(const std::filesystem::path& path);

// Accepts one pending connection: nullopt when none is pending (or accept failed), an empty
// UniqueFd when the peer is not uid 0 (SO_PEERCRED; the connection is closed then): only root
// may take over a session.
std::optional<UniqueFd> accept_root_peer(int listener);

// Connects to a monitor's adopt socket (for the daemon and the tests). Throws
// JailError(Step::supervise).
UniqueFd connect_session_socket(const std::filesystem::path& path);

}  // namespace ccjail::link
