#include "server/peer.hpp"

#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include "common/unique_fd.hpp"
#include "server/signal_names.hpp"

#include <csignal>
#include <nlohmann/json.hpp>

namespace ccjail::server {
namespace {

TEST(PeerRole, RootIsAlwaysAdmin) {
    PeerCredentials peer;
    peer.uid = 0;
    EXPECT_EQ(role_for(peer, {}), Role::admin);
}

TEST(PeerRole, AdminGroupAsPrimaryOrSupplementary) {
    AccessPolicy policy;
    policy.admin_gids = {900};
    policy.client_gids = {800};
    PeerCredentials peer;
    peer.uid = 1000;
    peer.gid = 900;
    EXPECT_EQ(role_for(peer, policy), Role::admin);
    peer.gid = 1000;
    peer.groups = {5, 900};
    EXPECT_EQ(role_for(peer, policy), Role::admin);
}

TEST(PeerRole, ClientByGroupOrUidAndEveryoneElseRefused) {
    AccessPolicy policy;
    policy.client_gids = {800};
    policy.client_uids = {1234};
    PeerCredentials peer;
    peer.uid = 1000;
    peer.gid = 1000;
    EXPECT_EQ(role_for(peer, policy), std::nullopt);
    peer.groups = {800};
    EXPECT_EQ(role_for(peer, policy), Role::client);
    peer.groups.clear();
    peer.uid = 1234;
    EXPECT_EQ(role_for(peer, policy), Role::client);
}

TEST(PeerCredentials, ReadsTheKernelsViewOfASocketPeer) {
    int pair[2];
    ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair), 0);
    UniqueFd a(pair[0]), b(pair[1]);
    const PeerCredentials peer = read_peer_credentials(a.get());
    EXPECT_EQ(peer.pid, ::getpid());
    EXPECT_EQ(peer.uid, ::geteuid());
    EXPECT_EQ(peer.gid, ::getegid());
}

TEST(SignalNames, NamesAndNumbersFromTheFixedListOnly) {
    EXPECT_EQ(signal_from_json("SIGINT"), SIGINT);
    EXPECT_EQ(signal_from_json(SIGTERM), SIGTERM);
    EXPECT_EQ(signal_from_json("SIGSEGV"), std::nullopt);
    EXPECT_EQ(signal_from_json(SIGSEGV), std::nullopt);
    EXPECT_EQ(signal_from_json("sigint"), std::nullopt);
    EXPECT_EQ(signal_from_json(nlohmann::json::array()), std::nullopt);
    EXPECT_NE(allowed_signal_names().find("SIGWINCH"), std::string::npos);
}

}  // namespace
}  // namespace ccjail::server
