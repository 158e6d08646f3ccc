#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <string>

#include <nlohmann/json.hpp>

#include "profile/profile_loader.hpp"

namespace ccjail {
namespace {

const std::filesystem::path kProfiles = std::filesystem::path(CCJAIL_SOURCE_DIR) / "profiles";

const BindMount* find_bind(const Profile& p, const std::string& target) {
    const auto it = std::find_if(p.filesystem.binds.begin(), p.filesystem.binds.end(),
                                 [&](const BindMount& b) { return b.target == target; });
    return it == p.filesystem.binds.end() ? nullptr : &*it;
}

const SynthFile* find_file(const Profile& p, const std::string& target) {
    const auto it = std::find_if(p.filesystem.files.begin(), p.filesystem.files.end(),
                                 [&](const SynthFile& f) { return f.target == target; });
    return it == p.filesystem.files.end() ? nullptr : &*it;
}

void expect_base_root(const Profile& p) {
    const BindMount* usr = find_bind(p, "/usr");
    ASSERT_NE(usr, nullptr);
    EXPECT_EQ(usr->source, "/usr");
    EXPECT_FALSE(usr->writable);
    EXPECT_FALSE(usr->optional);
    ASSERT_NE(find_bind(p, "/etc/ssl"), nullptr);
    EXPECT_TRUE(find_bind(p, "/etc/ssl")->optional);
    for (const BindMount& b : p.filesystem.binds) {
        EXPECT_FALSE(b.writable) << b.target;
    }
    ASSERT_EQ(p.filesystem.symlinks.size(), 4u);
    EXPECT_EQ(p.filesystem.symlinks[0].target, "/bin");
    EXPECT_EQ(p.filesystem.symlinks[0].to, "usr/bin");
    EXPECT_EQ(p.filesystem.symlinks[3].target, "/lib64");
    EXPECT_EQ(p.filesystem.symlinks[3].to, "usr/lib64");
    EXPECT_TRUE(p.filesystem.tmpfs.empty());
    EXPECT_EQ(p.filesystem.workspace, "/workspace");
    EXPECT_EQ(p.environment.set.at("LANG"), "C.UTF-8");
    EXPECT_EQ(p.environment.set.at("TERM"), "xterm-256color");
    EXPECT_EQ(p.environment.set.at("USER"), "user");
    EXPECT_EQ(p.network.mode, NetworkMode::none);
    EXPECT_EQ(p.limits.swap_bytes, 0u);
}

TEST(ProfileShipped, BaseIsAFixedUidRootWithoutHome) {
    const Profile p = load_profile("base", kProfiles);
    expect_base_root(p);
    EXPECT_EQ(p.identity.mode, IdentityPolicy::Mode::fixed);
    EXPECT_EQ(p.identity.uid, 60000u);
    EXPECT_EQ(p.identity.gid, 60000u);
    EXPECT_FALSE(p.filesystem.home);
    EXPECT_EQ(p.environment.set.at("HOME"), "/workspace");
    EXPECT_FALSE(p.command.executable);
    EXPECT_EQ(p.limits.memory_bytes, 1ull << 30);
    EXPECT_EQ(p.limits.pids, 256u);
}

TEST(ProfileShipped, MinimalIsSmall) {
    const Profile p = load_profile("minimal", kProfiles);
    expect_base_root(p);
    EXPECT_FALSE(p.filesystem.home);
    EXPECT_EQ(p.identity.mode, IdentityPolicy::Mode::fixed);
    EXPECT_EQ(p.limits.memory_bytes, 256ull << 20);
    EXPECT_EQ(p.limits.pids, 64u);
    EXPECT_EQ(p.limits.wall_time_ms, 60'000u);
    EXPECT_EQ(p.limits.tmp_size_bytes, 16ull << 20);
}

TEST(ProfileShipped, ShellIsALoginBashPerUser) {
    const Profile p = load_profile("shell", kProfiles);
    expect_base_root(p);
    EXPECT_EQ(p.command.executable, "/usr/bin/bash");
    EXPECT_EQ(p.command.argv_prefix, (std::vector<std::string>{"bash", "-l"}));
    EXPECT_EQ(p.filesystem.home, "/home/user");
    EXPECT_EQ(p.environment.set.at("HOME"), "/home/user");
    EXPECT_EQ(p.identity.mode, IdentityPolicy::Mode::per_user);
    EXPECT_EQ(p.identity.range_first, 200000u);
    EXPECT_EQ(p.identity.range_count, 100000u);
    EXPECT_NE(std::find(p.environment.pass.begin(), p.environment.pass.end(), "COLUMNS"),
              p.environment.pass.end());
}

TEST(ProfileShipped, ClaudeCodeRunsThePinnedNpmCliBehindTheGateway) {
    const Profile p = load_profile("claude-code", kProfiles);
    Profile root = p;
    root.network = NetworkPolicy{};  // the one thing it changes on purpose; checked below
    expect_base_root(root);
    const std::string install = "/opt/ccjail/claude-code";
    ASSERT_NE(find_bind(p, install), nullptr);
    EXPECT_FALSE(find_bind(p, install)->writable);
    ASSERT_TRUE(p.command.executable);
    EXPECT_EQ(*p.command.executable,
              install + "/node_modules/@anthropic-ai/claude-code/bin/claude.exe");
    // The same pin as scripts/install-claude-code.sh (2.1.332, linux-x64).
    ASSERT_TRUE(p.command.sha256);
    EXPECT_EQ(*p.command.sha256,
              "a2df1f41bb00250992926420d0063f89b127cb81abdd284dbefb80c50ff1d026");
    EXPECT_EQ(p.command.argv_prefix, (std::vector<std::string>{"claude"}));
    EXPECT_TRUE(p.command.allow_multiline);
    EXPECT_EQ(p.filesystem.home, "/home/user");
    EXPECT_EQ(p.environment.set.at("HOME"), "/home/user");
    EXPECT_EQ(p.environment.set.at("SHELL"), "/bin/bash");
    EXPECT_EQ(p.identity.mode, IdentityPolicy::Mode::per_user);
    for (const char* name : {"DISABLE_AUTOUPDATER", "DISABLE_TELEMETRY", "DISABLE_ERROR_REPORTING",
                             "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC"}) {
        EXPECT_EQ(p.environment.set.at(name), "1") << name;
    }
    for (const char* name : {"ANTHROPIC_MODEL", "TERM", "COLORTERM", "LANG"}) {
        EXPECT_NE(std::find(p.environment.pass.begin(), p.environment.pass.end(), name),
                  p.environment.pass.end())
            << name;
    }
    // The key stays with the daemon's gateway: no secret, no base URL of the profile's own.
    EXPECT_TRUE(p.environment.secrets.empty());
    EXPECT_EQ(p.network.mode, NetworkMode::gateway);
    EXPECT_TRUE(p.network.allow.empty());
    EXPECT_EQ(p.environment.set.at("ANTHROPIC_BASE_URL"),
              "http://127.0.0.1:" + std::to_string(p.network.gateway_port));
    EXPECT_EQ(p.environment.set.count("ANTHROPIC_API_KEY"), 0u);
    EXPECT_EQ(p.limits.memory_bytes, 4ull << 30);
    EXPECT_EQ(p.limits.pids, 1024u);
}

TEST(ProfileShipped, ClaudeCodeManagedSettingsDisableItsSandboxAndUpdater) {
    const Profile p = load_profile("claude-code", kProfiles);
    const SynthFile* settings = find_file(p, "/etc/claude-code/managed-settings.json");
    ASSERT_NE(settings, nullptr);
    EXPECT_EQ(settings->mode & 0222, 0u);
    const nlohmann::json json = nlohmann::json::parse(settings->content);
    EXPECT_EQ(json.at("sandbox").at("enabled"), false);
    EXPECT_EQ(json.at("env").at("DISABLE_AUTOUPDATER"), "1");
    // A placeholder credential, so that the CLI starts without a login screen or an API key
    // question; the gateway puts the real key in its place.
    EXPECT_EQ(json.at("apiKeyHelper").get<std::string>().find("sk-"), std::string::npos);
}

TEST(ProfileShipped, ClaudeCodeSeedsTheHomeSoNoDialogBlocksASession) {
    const Profile p = load_profile("claude-code", kProfiles);
    ASSERT_EQ(p.filesystem.home_seed.size(), 1u);
    const HomeSeedFile& seed = p.filesystem.home_seed[0];
    EXPECT_EQ(seed.path, ".claude.json");
    EXPECT_EQ(seed.mode, 0600u);
    const nlohmann::json json = nlohmann::json::parse(seed.content);
    EXPECT_EQ(json.at("hasCompletedOnboarding"), true);
    EXPECT_EQ(json.at("bypassPermissionsModeAccepted"), true);
    // The workspace's path in the jail, the same for every session of a user.
    EXPECT_EQ(json.at("projects").at(p.filesystem.workspace).at("hasTrustDialogAccepted"), true);
}

}  // namespace
}  // namespace ccjail
