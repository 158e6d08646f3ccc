#include "server/peer.hpp"

#include <grp.h>
#include <sys/socket.h>

#include <algorithm>

#include "common/error.hpp"

namespace ccjail::server {
namespace {

bool contains(const std::vector<gid_t>& set, gid_t gid) {
    return std::find(set.begin(), set.end(), gid) != set.end();
}

bool in_any(const PeerCredentials& peer, const std::vector<gid_t>& gids) {
    if (contains(gids, peer.gid)) {
        return true;
    }
    return std::any_of(peer.groups.begin(), peer.groups.end(),
                       [&](gid_t g) { return contains(gids, g); });
}

std::vector<gid_t> peer_groups(int fd) {
    std::vector<gid_t> groups(64);
    for (;;) {
        auto length = static_cast<socklen_t>(groups.size() * sizeof(gid_t));
        if (::getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups.data(), &length) == 0) {
            groups.resize(length / sizeof(gid_t));
            return groups;
        }
        // ERANGE reports the needed size in `length`.
        if (errno != ERANGE || length / sizeof(gid_t) <= groups.size()) {
            throw_errno(Step::supervise, "getsockopt(SO_PEERGROUPS)");
        }
        groups.resize(length / sizeof(gid_t));
    }
}

}  // namespace

std::string_view to_string(Role role) {
    return role == Role::admin ? "admin" : "client";
}

PeerCredentials read_peer_credentials(int socket_fd) {
    struct ucred cred {};
    socklen_t length = sizeof cred;
    if (::getsockopt(socket_fd, SOL_SOCKET, SO_PEERCRED, &cred, &length) != 0) {
        throw_errno(Step::supervise, "getsockopt(SO_PEERCRED)");
    }
    PeerCredentials peer;
    peer.pid = cred.pid;
    peer.uid = cred.uid;
    peer.gid = cred.gid;
    peer.groups = peer_groups(socket_fd);
    return peer;
}

std::optional<Role> role_for(const PeerCredentials& peer, const AccessPolicy& policy) {
    if (peer.uid == 0 || in_any(peer, policy.admin_gids)) {
        return Role::admin;
    }
    const bool listed = std::find(policy.client_uids.begin(), policy.client_uids.end(), peer.uid) !=
                        policy.client_uids.end();
    if (listed || in_any(peer, policy.client_gids)) {
        return Role::client;
    }
    return std::nullopt;
}

std::vector<gid_t> resolve_groups(const std::vector<std::string>& names,
                                  std::vector<std::string>& missing) {
    std::vector<gid_t> gids;
    for (const auto& name : names) {
        struct group entry {};
        struct group* found = nullptr;
        std::vector<char> buffer(16384);
        if (::getgrnam_r(name.c_str(), &entry, buffer.data(), buffer.size(), &found) == 0 &&
            found) {
            gids.push_back(found->gr_gid);
        } else {
            missing.push_back(name);
        }
    }
    return gids;
}

}  // namespace ccjail::server
