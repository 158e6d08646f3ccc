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

TEST(ProfileShipped, ClaudeCodeRunsTheNpmCliWithItsSecret) {
    const Profile p = load_profile("claude-code", kProfiles);
    expect_base_root(p);
    const std::string install = "/opt/ccjail/claude-code";
    ASSERT_NE(find_bind(p, install), nullptr);
    EXPECT_FALSE(find_bind(p, install)->writable);
    ASSERT_TRUE(p.command.executable);
    EXPECT_EQ(p.command.executable->rfind(install + "/", 0), 0u);
    EXPECT_FALSE(p.command.sha256);
    EXPECT_EQ(p.command.argv_prefix, (std::vector<std::string>{"claude"}));
    EXPECT_EQ(p.filesystem.home, "/home/user");
    EXPECT_EQ(p.environment.set.at("HOME"), "/home/user");
    EXPECT_EQ(p.identity.mode, IdentityPolicy::Mode::per_user);
    for (const char* name :
         {"DISABLE_AUTOUPDATER", "DISABLE_TELEMETRY", "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC"}) {
        EXPECT_EQ(p.environment.set.at(name), "1") << name;
    }
    EXPECT_NE(std::find(p.environment.pass.begin(), p.environment.pass.end(), "ANTHROPIC_MODEL"),
              p.environment.pass.end());
    ASSERT_EQ(p.environment.secrets.size(), 1u);
    EXPECT_EQ(p.environment.secrets[0].name, "ANTHROPIC_API_KEY");
    EXPECT_EQ(p.environment.secrets[0].file, "/etc/ccjail/secrets/anthropic-api-key");
    EXPECT_EQ(p.limits.memory_bytes, 4ull << 30);
    EXPECT_EQ(p.limits.pids, 1024u);
    EXPECT_EQ(p.network.mode, NetworkMode::none);
}

TEST(ProfileShipped, ClaudeCodeManagedSettingsDisableItsSandboxAndUpdater) {
    const Profile p = load_profile("claude-code", kProfiles);
    const SynthFile* settings = find_file(p, "/etc/claude-code/managed-settings.json");
    ASSERT_NE(settings, nullptr);
    EXPECT_EQ(settings->mode & 0222, 0u);
    const nlohmann::json json = nlohmann::json::parse(settings->content);
    EXPECT_EQ(json.at("sandbox").at("enabled"), false);
    EXPECT_EQ(json.at("env").at("DISABLE_AUTOUPDATER"), "1");
}

}  // namespace
}  // namespace ccjail
