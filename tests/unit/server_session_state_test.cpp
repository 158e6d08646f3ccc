#include "server/session.hpp"
#include "server/session_settings.hpp"

#include <gtest/gtest.h>

namespace ccjail::server {
namespace {

TEST(SessionSettings, FollowTheProfileAndTheModesOverflowPolicy) {
    Profile profile;
    profile.output.ring_bytes = 8192;
    profile.output.frames_per_sec = 7;
    profile.output.max_input_frame_bytes = 99;
    Limits limits = profile.limits;
    limits.output_rate_bytes = 1234;
    limits.output_total_bytes = 5678;
    const auto pty = settings_for(profile, limits, protocol::SpawnMode::pty);
    EXPECT_EQ(pty.ring_bytes, 8192u);
    EXPECT_EQ(pty.overflow, flow::OverflowPolicy::drop_oldest);
    EXPECT_EQ(pty.output_rate_bytes, 1234u);
    EXPECT_EQ(pty.output_total_bytes, 5678u);
    EXPECT_EQ(pty.frames_per_sec, 7u);
    EXPECT_EQ(pty.max_input_frame_bytes, 99u);
    EXPECT_EQ(settings_for(profile, limits, protocol::SpawnMode::pipe).overflow,
              flow::OverflowPolicy::block);
}

TEST(SessionIdentity, SurvivesTheStateFileRoundTrip) {
    SessionIdentity identity;
    identity.id = "0123456789abcdef";
    identity.profile = "shell";
    identity.user = "alice";
    identity.peer_uid = 1000;
    identity.peer_pid = 42;
    identity.mode = protocol::SpawnMode::pipe;
    identity.created =
        std::chrono::system_clock::time_point(std::chrono::milliseconds(1700000000123));
    identity.request = {{"profile", "shell"}, {"argv", {"-c", "true"}}};
    identity.limits = {{"memory_bytes", 1}};
    identity.settings.ring_bytes = 4096;
    identity.settings.overflow = flow::OverflowPolicy::block;
    identity.settings.input_rate_bytes = 3;

    const auto back = session_identity_from_json(to_json(identity));
    EXPECT_EQ(back.id, identity.id);
    EXPECT_EQ(back.profile, "shell");
    EXPECT_EQ(back.user, "alice");
    EXPECT_EQ(back.peer_uid, 1000u);
    EXPECT_EQ(back.peer_pid, 42);
    EXPECT_EQ(back.mode, protocol::SpawnMode::pipe);
    EXPECT_EQ(back.created, identity.created);
    EXPECT_EQ(back.request, identity.request);
    EXPECT_EQ(back.limits, identity.limits);
    EXPECT_EQ(back.settings.ring_bytes, 4096u);
    EXPECT_EQ(back.settings.overflow, flow::OverflowPolicy::block);
    EXPECT_EQ(back.settings.input_rate_bytes, 3u);
}

TEST(SessionIdentity, AStateFileWithoutAFieldIsRefused) {
    nlohmann::json state = to_json(SessionIdentity{});
    state.erase("settings");
    EXPECT_THROW(session_identity_from_json(state), nlohmann::json::exception);
}

TEST(SessionState, NamesAreTheDocumentedOnes) {
    EXPECT_EQ(to_string(SessionState::starting), "starting");
    EXPECT_EQ(to_string(SessionState::running), "running");
    EXPECT_EQ(to_string(SessionState::exited), "exited");
    EXPECT_EQ(to_string(SessionState::ended), "ended");
}

}  // namespace
}  // namespace ccjail::server
