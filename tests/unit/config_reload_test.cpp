// What SIGHUP may change in a running daemon's configuration, and what waits for a restart.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "server/daemon_config.hpp"

namespace ccjail::server {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

TEST(ConfigReload, ReloadableKeysAreTakenOverAndNamed) {
    DaemonConfig running;
    DaemonConfig next;
    next.max_sessions_per_user = 1;
    next.client_uids = {1000};
    next.kill_grace_ms = std::chrono::milliseconds(250);
    next.log_level = "debug";
    const auto changes = apply_reloadable(running, next);
    EXPECT_THAT(changes.applied,
                ElementsAre("client_uids", "max_sessions_per_user", "kill_grace_ms", "log_level"));
    EXPECT_THAT(changes.needs_restart, IsEmpty());
    EXPECT_EQ(running.max_sessions_per_user, 1u);
    EXPECT_THAT(running.client_uids, ElementsAre(1000u));
    EXPECT_EQ(running.kill_grace_ms.count(), 250);
    EXPECT_EQ(running.log_level, "debug");
}

TEST(ConfigReload, KeysThatNeedARestartKeepTheirRunningValue) {
    DaemonConfig running;
    DaemonConfig next;
    next.socket = "/elsewhere/ccjaild.sock";
    next.cgroup_parent = "/other.slice";
    next.gateway_upstream = "https://example.invalid";
    next.max_payload_bytes = 4096;
    const auto changes = apply_reloadable(running, next);
    EXPECT_THAT(changes.applied, IsEmpty());
    EXPECT_THAT(changes.needs_restart,
                ElementsAre("socket", "cgroup_parent", "max_payload_bytes", "gateway_upstream"));
    EXPECT_EQ(running.socket, DaemonConfig{}.socket);
    EXPECT_EQ(running.cgroup_parent, DaemonConfig{}.cgroup_parent);
    EXPECT_EQ(running.max_payload_bytes, DaemonConfig{}.max_payload_bytes);
}

TEST(ConfigReload, EveryReloadableKeyIsAConfigKey) {
    for (const auto key : reloadable_config_keys()) {
        EXPECT_THAT(config_keys(), ::testing::Contains(key)) << key;
    }
}

}  // namespace
}  // namespace ccjail::server
