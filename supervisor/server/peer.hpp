#pragma once

#include <sys/types.h>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ccjail::server {

// Who is on the other end of an accepted connection, as the kernel saw it at connect() time.
struct PeerCredentials {
    pid_t pid = 0;
    uid_t uid = 0;
    gid_t gid = 0;
    std::vector<gid_t> groups;  // supplementary groups (SO_PEERGROUPS)
};

// A client sees and controls only the sessions its uid spawned; an admin sees all of them.
enum class Role { client, admin };
std::string_view to_string(Role role);

// Throws JailError(Step::supervise) when the kernel cannot tell.
PeerCredentials read_peer_credentials(int socket_fd);

// Who may connect, by numeric ids (group names are resolved once at start-up).
struct AccessPolicy {
    std::vector<uid_t> client_uids;
    std::vector<gid_t> client_gids;
    std::vector<gid_t> admin_gids;
};

// root and members of an admin group are admins; listed uids and members of a client group are
// clients; anyone else is refused (nullopt).
std::optional<Role> role_for(const PeerCredentials& peer, const AccessPolicy& policy);

// Group names to gids; names that do not exist are returned in `missing`.
std::vector<gid_t> resolve_groups(const std::vector<std::string>& names,
                                  std::vector<std::string>& missing);

}  // namespace ccjail::server
