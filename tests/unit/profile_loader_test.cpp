#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <string>

#include <nlohmann/json.hpp>

#include "profile/profile_loader.hpp"

namespace ccjail {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using ::testing::StartsWith;

// Synthetic profiles in a fresh directory per test.
class ProfileLoaderTest : public ::testing::Test {
  protected:
    void SetUp() override {
        char tmpl[] = "/tmp/ccjail-profile-test-XXXXXX";
        ASSERT_NE(mkdtemp(tmpl), nullptr);
        dir_ = tmpl;
    }
    void TearDown() override { fs::remove_all(dir_); }

    void write(const std::string& name, const std::string& text) {
        std::ofstream(dir_ / (name + ".json")) << text;
    }
    std::string file(const std::string& name) const { return (dir_ / (name + ".json")).string(); }

    Profile load(const std::string& text) {
        write("p", text);
        return load_profile("p", dir_);
    }

    // The message of the ProfileError loading `name` throws, or a marker when it loads.
    std::string error_loading(const std::string& name) {
        try {
            load_profile(name, dir_);
        } catch (const ProfileError& e) {
            return e.what();
        }
        return "<loaded without error>";
    }
    std::string error_of(const std::string& text) {
        write("p", text);
        return error_loading("p");
    }
    // "<file>: <pointer>: " – the prefix every value error of p.json starts with.
    std::string at(const std::string& pointer) const { return file("p") + ": " + pointer + ": "; }

    fs::path dir_;
};

// ---- defaults and basic reading -----------------------------------------------------------

TEST_F(ProfileLoaderTest, EmptyProfileHasEveryDefault) {
    const Profile p = load("{}");
    EXPECT_EQ(p.name, "p");
    EXPECT_EQ(p.source, dir_ / "p.json");
    EXPECT_FALSE(p.command.executable);
    EXPECT_EQ(p.command.max_args, 256u);
    EXPECT_EQ(p.environment.path, "/usr/local/bin:/usr/bin:/bin");
    EXPECT_EQ(p.filesystem.workspace, "/workspace");
    EXPECT_EQ(p.filesystem.home, "/home/user");
    EXPECT_EQ(p.identity.mode, IdentityPolicy::Mode::fixed);
    EXPECT_EQ(p.identity.uid, 65534u);
    EXPECT_EQ(p.limits.memory_bytes, 1ull << 30);
    EXPECT_EQ(p.network.mode, NetworkMode::none);
    EXPECT_EQ(p.hostname, "ccjail");
    EXPECT_EQ(p.output.ring_bytes, 1u << 20);
    EXPECT_EQ(p.output.pty_overflow, flow::OverflowPolicy::drop_oldest);
    EXPECT_EQ(p.output.pipe_overflow, flow::OverflowPolicy::block);
    EXPECT_EQ(p.output.frames_per_sec, 1000u);
    EXPECT_EQ(p.output.frame_burst, 1000u);
    EXPECT_EQ(p.output.input_rate_bytes, 1u << 20);
    EXPECT_EQ(p.output.input_burst_bytes, 256u << 10);
    EXPECT_EQ(p.output.max_input_frame_bytes, 64u << 10);
}

TEST_F(ProfileLoaderTest, ReadsEveryKeyOfTheSchema) {
    const Profile p = load(R"({
      "description": "all keys",
      "command": {"executable": "/usr/bin/tool", "sha256": "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
                  "argv_prefix": ["tool", "--x"], "allowed_flags": ["-l", "--print"],
                  "max_args": 10, "max_arg_bytes": "1K", "max_total_bytes": 4096},
      "environment": {"path": "/opt/bin:/usr/bin", "set": {"TERM": "dumb"}, "pass": ["LANG"],
                      "secrets": {"KEY": "/etc/ccjail/secrets/key"}},
      "filesystem": {"root_size": "8M",
                     "binds": [{"source": "/srv/data", "target": "/data", "writable": true, "optional": true}],
                     "tmpfs": [{"target": "/run", "size": "1M", "mode": "0755"}],
                     "files": [{"target": "/etc/motd", "content": "hi\n", "mode": "0600"}],
                     "symlinks": [{"target": "/bin", "to": "usr/bin"}],
                     "workspace": "/work", "home": "/home/me", "dev_shm_size": "8M",
                     "synthesize_etc": false},
      "identity": {"uid": 1000, "gid": 1001, "user_name": "me"},
      "limits": {"memory": "2G", "swap": "0", "cpus": 1.5, "pids": 100, "nofile": 2048,
                 "file_size": "10M", "wall_time": "2h", "cpu_time": 90, "tmp_size": "32M",
                 "output_rate": "2M", "output_burst": "8M", "output_total": "3G"},
      "seccomp": {"allow": ["ptrace"], "deny": ["chmod"], "allow_ptrace": true, "allow_netlink": true},
      "output": {"ring_bytes": "2M", "pty_overflow": "block", "pipe_overflow": "drop_oldest",
                 "frames_per_sec": 0, "frame_burst": 50, "input_rate_bytes": "512K",
                 "input_burst_bytes": 131072, "max_input_frame_bytes": "16K"},
      "network": "host",
      "hostname": "box-1"
    })");
    EXPECT_EQ(p.description, "all keys");
    EXPECT_EQ(p.command.executable, "/usr/bin/tool");
    EXPECT_EQ(p.command.sha256->size(), 64u);
    EXPECT_EQ(p.command.argv_prefix, (std::vector<std::string>{"tool", "--x"}));
    EXPECT_EQ(*p.command.allowed_flags, (std::vector<std::string>{"-l", "--print"}));
    EXPECT_EQ(p.command.max_args, 10u);
    EXPECT_EQ(p.command.max_arg_bytes, 1024u);
    EXPECT_EQ(p.command.max_total_bytes, 4096u);
    EXPECT_EQ(p.environment.path, "/opt/bin:/usr/bin");
    EXPECT_EQ(p.environment.set.at("TERM"), "dumb");
    EXPECT_EQ(p.environment.pass, (std::vector<std::string>{"LANG"}));
    ASSERT_EQ(p.environment.secrets.size(), 1u);
    EXPECT_EQ(p.environment.secrets[0].name, "KEY");
    EXPECT_EQ(p.environment.secrets[0].file, "/etc/ccjail/secrets/key");
    EXPECT_EQ(p.filesystem.root_size_bytes, 8u << 20);
    ASSERT_EQ(p.filesystem.binds.size(), 1u);
    EXPECT_EQ(p.filesystem.binds[0].source, "/srv/data");
    EXPECT_EQ(p.filesystem.binds[0].target, "/data");
    EXPECT_TRUE(p.filesystem.binds[0].writable);
    EXPECT_TRUE(p.filesystem.binds[0].optional);
    EXPECT_EQ(p.filesystem.tmpfs[0].size_bytes, 1u << 20);
    EXPECT_EQ(p.filesystem.tmpfs[0].mode, 0755u);
    EXPECT_EQ(p.filesystem.files[0].content, "hi\n");
    EXPECT_EQ(p.filesystem.files[0].mode, 0600u);
    EXPECT_EQ(p.filesystem.symlinks[0].to, "usr/bin");
    EXPECT_EQ(p.filesystem.workspace, "/work");
    EXPECT_EQ(p.filesystem.home, "/home/me");
    EXPECT_EQ(p.filesystem.dev_shm_size_bytes, 8u << 20);
    EXPECT_FALSE(p.filesystem.synthesize_etc);
    EXPECT_EQ(p.identity.uid, 1000u);
    EXPECT_EQ(p.identity.gid, 1001u);
    EXPECT_EQ(p.identity.user_name, "me");
    EXPECT_EQ(p.limits.memory_bytes, 2ull << 30);
    EXPECT_DOUBLE_EQ(p.limits.cpus, 1.5);
    EXPECT_EQ(p.limits.pids, 100u);
    EXPECT_EQ(p.limits.nofile, 2048u);
    EXPECT_EQ(p.limits.file_size_bytes, 10u << 20);
    EXPECT_EQ(p.limits.wall_time_ms, 7'200'000u);
    EXPECT_EQ(p.limits.cpu_time_ms, 90'000u);
    EXPECT_EQ(p.limits.tmp_size_bytes, 32u << 20);
    EXPECT_EQ(p.limits.output_rate_bytes, 2u << 20);
    EXPECT_EQ(p.limits.output_burst_bytes, 8u << 20);
    EXPECT_EQ(p.limits.output_total_bytes, 3ull << 30);
    EXPECT_EQ(p.seccomp.allow, (std::vector<std::string>{"ptrace"}));
    EXPECT_EQ(p.seccomp.deny, (std::vector<std::string>{"chmod"}));
    EXPECT_TRUE(p.seccomp.allow_ptrace);
    EXPECT_TRUE(p.seccomp.allow_netlink);
    EXPECT_EQ(p.output.ring_bytes, 2u << 20);
    EXPECT_EQ(p.output.pty_overflow, flow::OverflowPolicy::block);
    EXPECT_EQ(p.output.pipe_overflow, flow::OverflowPolicy::drop_oldest);
    EXPECT_EQ(p.output.frames_per_sec, 0u);
    EXPECT_EQ(p.output.frame_burst, 50u);
    EXPECT_EQ(p.output.input_rate_bytes, 512u << 10);
    EXPECT_EQ(p.output.input_burst_bytes, 128u << 10);
    EXPECT_EQ(p.output.max_input_frame_bytes, 16u << 10);
    EXPECT_EQ(p.network.mode, NetworkMode::host);
    EXPECT_EQ(p.hostname, "box-1");
}

TEST_F(ProfileLoaderTest, HomeIsDerivedFromTheHomeMountAndUserFromTheUserName) {
    Profile p = load(R"({"filesystem": {"home": "/home/me"}, "identity": {"user_name": "me"}})");
    EXPECT_EQ(p.environment.set.at("HOME"), "/home/me");
    EXPECT_EQ(p.environment.set.at("USER"), "me");
    EXPECT_EQ(p.environment.set.at("LOGNAME"), "me");
    p = load(
        R"({"filesystem": {"home": null, "workspace": "/w"}, "environment": {"set": {"USER": "x"}}})");
    EXPECT_FALSE(p.filesystem.home);
    EXPECT_EQ(p.environment.set.at("HOME"), "/w");
    EXPECT_EQ(p.environment.set.at("USER"), "x");
}

TEST_F(ProfileLoaderTest, NullMeansNoneForNullableKeysAndDefaultForOthers) {
    const Profile p =
        load(R"({"command": {"executable": null, "sha256": null, "allowed_flags": null},
                               "limits": {"memory": null}, "hostname": null})");
    EXPECT_FALSE(p.command.executable);
    EXPECT_FALSE(p.command.allowed_flags);
    EXPECT_EQ(p.limits.memory_bytes, 1ull << 30);
    EXPECT_EQ(p.hostname, "ccjail");
}

TEST_F(ProfileLoaderTest, GidDefaultsToUid) {
    const Profile p = load(R"({"identity": {"uid": 4242}})");
    EXPECT_EQ(p.identity.gid, 4242u);
}

TEST_F(ProfileLoaderTest, UidRangeSelectsPerUserMode) {
    const Profile p = load(R"({"identity": {"uid_range": {"first": 200000, "count": 100000}}})");
    EXPECT_EQ(p.identity.mode, IdentityPolicy::Mode::per_user);
    EXPECT_EQ(p.identity.range_first, 200000u);
    EXPECT_EQ(p.identity.range_count, 100000u);
}

TEST_F(ProfileLoaderTest, BindTargetDefaultsToSource) {
    const Profile p = load(R"({"filesystem": {"binds": [{"source": "/usr"}]}})");
    EXPECT_EQ(p.filesystem.binds[0].target, "/usr");
    EXPECT_FALSE(p.filesystem.binds[0].writable);
    EXPECT_FALSE(p.filesystem.binds[0].optional);
}

TEST_F(ProfileLoaderTest, LoadsByPathAndNamesTheProfileAfterTheFileStem) {
    write("other", R"({"hostname": "x"})");
    const Profile p = load_profile(file("other"), "/nonexistent");
    EXPECT_EQ(p.name, "other");
    EXPECT_EQ(p.hostname, "x");
}

// ---- file-level errors ---------------------------------------------------------------------

TEST_F(ProfileLoaderTest, MissingFileIsNamed) {
    EXPECT_THAT(error_loading("absent"), StartsWith(file("absent") + ": cannot open"));
}

TEST_F(ProfileLoaderTest, InvalidJsonNamesFileAndLine) {
    EXPECT_THAT(error_of("{\n  \"hostname\": x\n}"),
                AllOf(StartsWith(file("p") + ": invalid JSON: "), HasSubstr("line 2")));
}

TEST_F(ProfileLoaderTest, RootMustBeAnObject) {
    EXPECT_EQ(error_of("[1]"), file("p") + ": expected an object, got [1]");
}

TEST_F(ProfileLoaderTest, DuplicateKeyIsRefusedWithItsPointer) {
    EXPECT_EQ(error_of(R"({"limits": {"memory": "1G", "memory": "2G"}})"),
              file("p") + ": /limits/memory: key appears twice in the same object");
    EXPECT_EQ(
        error_of(
            R"({"filesystem": {"binds": [{"source": "/a"}, {"source": "/b", "source": "/c"}]}})"),
        file("p") + ": /filesystem/binds/1/source: key appears twice in the same object");
}

TEST_F(ProfileLoaderTest, InvalidProfileNameIsRefused) {
    EXPECT_THAT(error_loading("bad name"), HasSubstr("invalid profile name"));
    EXPECT_THAT(error_loading(".hidden"), HasSubstr("invalid profile name"));
}

// ---- unknown keys and types ----------------------------------------------------------------

TEST_F(ProfileLoaderTest, UnknownKeysAreRefusedAtEveryLevel) {
    EXPECT_THAT(error_of(R"({"colour": 1})"), StartsWith(at("/colour") + "unknown key \"colour\""));
    EXPECT_THAT(error_of(R"({"limits": {"memroy": "1G"}})"), StartsWith(at("/limits/memroy")));
    EXPECT_THAT(
        error_of(
            R"({"filesystem": {"binds": [{"source": "/a"}, {"source": "/b", "readonly": true}]}})"),
        StartsWith(at("/filesystem/binds/1/readonly")));
    EXPECT_THAT(error_of(R"({"identity": {"uid_range": {"first": 5, "count": 1, "last": 6}}})"),
                StartsWith(at("/identity/uid_range/last")));
}

TEST_F(ProfileLoaderTest, KeysWithSlashesAreEscapedInThePointer) {
    EXPECT_THAT(error_of(R"({"a/b~c": 1})"), StartsWith(at("/a~1b~0c")));
}

TEST_F(ProfileLoaderTest, WrongTypeNamesTheExpectedForm) {
    EXPECT_EQ(error_of(R"({"limits": {"memory": true}})"),
              at("/limits/memory") + "expected a size like \"512M\", got true");
    EXPECT_EQ(error_of(R"({"filesystem": {"binds": {"source": "/usr"}}})"),
              at("/filesystem/binds") + "expected an array, got {\"source\":\"/usr\"}");
    EXPECT_EQ(error_of(R"({"filesystem": {"synthesize_etc": "yes"}})"),
              at("/filesystem/synthesize_etc") + "expected true or false, got \"yes\"");
    EXPECT_EQ(error_of(R"({"limits": {"pids": "64"}})"),
              at("/limits/pids") + "expected an integer, got \"64\"");
    EXPECT_EQ(error_of(R"({"command": "bash"})"),
              at("/command") + "expected an object, got \"bash\"");
    EXPECT_EQ(error_of(R"({"description": 5})"), at("/description") + "expected a string, got 5");
}

// ---- sizes, durations and ranges ------------------------------------------------------------

TEST_F(ProfileLoaderTest, BadSizeTextIsExplained) {
    EXPECT_THAT(
        error_of(R"({"limits": {"memory": "12X"}})"),
        AllOf(StartsWith(at("/limits/memory") + "expected a size like \"512M\", got \"12X\""),
              HasSubstr("unknown size unit")));
    EXPECT_THAT(error_of(R"({"limits": {"memory": -5}})"), StartsWith(at("/limits/memory")));
    EXPECT_THAT(error_of(R"({"limits": {"memory": 1.5}})"), StartsWith(at("/limits/memory")));
    EXPECT_THAT(error_of(R"({"limits": {"memory": ""}})"), StartsWith(at("/limits/memory")));
}

TEST_F(ProfileLoaderTest, SizesAcceptPlainByteNumbers) {
    EXPECT_EQ(load(R"({"limits": {"memory": 8388608}})").limits.memory_bytes, 8u << 20);
}

TEST_F(ProfileLoaderTest, MemoryBelowFourMegabytesIsRefused) {
    EXPECT_EQ(error_of(R"({"limits": {"memory": "1M"}})"),
              at("/limits/memory") + "must be at least 4M, got \"1M\"");
    EXPECT_EQ(load(R"({"limits": {"memory": "4M"}})").limits.memory_bytes, 4u << 20);
}

TEST_F(ProfileLoaderTest, PidsRange) {
    EXPECT_THAT(error_of(R"({"limits": {"pids": 0}})"),
                StartsWith(at("/limits/pids") + "must be between 2 and"));
    EXPECT_THAT(error_of(R"({"limits": {"pids": 5000000}})"), StartsWith(at("/limits/pids")));
    EXPECT_THAT(error_of(R"({"limits": {"pids": -1}})"), StartsWith(at("/limits/pids")));
}

TEST_F(ProfileLoaderTest, CpusRange) {
    EXPECT_THAT(error_of(R"({"limits": {"cpus": 0}})"),
                StartsWith(at("/limits/cpus") + "must be between"));
    EXPECT_THAT(error_of(R"({"limits": {"cpus": 1024.5}})"), StartsWith(at("/limits/cpus")));
    EXPECT_THAT(error_of(R"({"limits": {"cpus": "2"}})"),
                StartsWith(at("/limits/cpus") + "expected a number"));
    EXPECT_DOUBLE_EQ(load(R"({"limits": {"cpus": 1024}})").limits.cpus, 1024.0);
}

TEST_F(ProfileLoaderTest, NofileRange) {
    EXPECT_THAT(error_of(R"({"limits": {"nofile": 8}})"),
                StartsWith(at("/limits/nofile") + "must be between 16 and 1048576"));
    EXPECT_THAT(error_of(R"({"limits": {"nofile": 1048577}})"), StartsWith(at("/limits/nofile")));
}

TEST_F(ProfileLoaderTest, DurationsAndTheirFloor) {
    EXPECT_EQ(error_of(R"({"limits": {"wall_time": "500ms"}})"),
              at("/limits/wall_time") + "must be at least 1s, got \"500ms\"");
    EXPECT_THAT(
        error_of(R"({"limits": {"cpu_time": "1x"}})"),
        StartsWith(at("/limits/cpu_time") + "expected a duration like \"30s\", got \"1x\""));
    EXPECT_THAT(error_of(R"({"limits": {"wall_time": "400d"}})"),
                StartsWith(at("/limits/wall_time") + "must be at most 365d"));
    EXPECT_EQ(load(R"({"limits": {"wall_time": "1500ms"}})").limits.wall_time_ms, 1500u);
}

TEST_F(ProfileLoaderTest, TmpfsSizesMayNotBeZero) {
    EXPECT_THAT(error_of(R"({"filesystem": {"tmpfs": [{"target": "/run", "size": "0"}]}})"),
                AllOf(StartsWith(at("/filesystem/tmpfs/0/size")), HasSubstr("unlimited")));
    EXPECT_THAT(error_of(R"({"limits": {"tmp_size": 0}})"), StartsWith(at("/limits/tmp_size")));
    EXPECT_THAT(error_of(R"({"filesystem": {"dev_shm_size": "0"}})"),
                StartsWith(at("/filesystem/dev_shm_size")));
}

TEST_F(ProfileLoaderTest, ArgumentLimits) {
    EXPECT_THAT(error_of(R"({"command": {"max_arg_bytes": "129K"}})"),
                StartsWith(at("/command/max_arg_bytes") + "must be at most 128K"));
    EXPECT_THAT(error_of(R"({"command": {"max_args": 70000}})"),
                StartsWith(at("/command/max_args")));
    EXPECT_THAT(error_of(R"({"command": {"max_total_bytes": "0"}})"),
                StartsWith(at("/command/max_total_bytes")));
}

// ---- identity ------------------------------------------------------------------------------

TEST_F(ProfileLoaderTest, RootIdsAreRefused) {
    EXPECT_EQ(error_of(R"({"identity": {"uid": 0}})"),
              at("/identity/uid") + "must not be 0: a jail never runs as root");
    EXPECT_THAT(error_of(R"({"identity": {"uid": 1000, "gid": 0}})"),
                StartsWith(at("/identity/gid")));
    EXPECT_THAT(error_of(R"({"identity": {"uid": 4294967295}})"), StartsWith(at("/identity/uid")));
}

TEST_F(ProfileLoaderTest, UidRangeMustExcludeRootAndFitIn32Bits) {
    EXPECT_THAT(error_of(R"({"identity": {"uid_range": {"first": 0, "count": 10}}})"),
                StartsWith(at("/identity/uid_range/first")));
    EXPECT_THAT(error_of(R"({"identity": {"uid_range": {"first": 4294967290, "count": 10}}})"),
                StartsWith(at("/identity/uid_range/count") + "range 4294967290 + 10 goes past"));
    EXPECT_THAT(error_of(R"({"identity": {"uid_range": {"first": 10, "count": 0}}})"),
                StartsWith(at("/identity/uid_range/count")));
    EXPECT_THAT(error_of(R"({"identity": {"uid_range": {"first": 10}}})"),
                StartsWith(at("/identity/uid_range/count") + "missing"));
}

TEST_F(ProfileLoaderTest, FixedIdsAndRangeAreExclusiveInOneFile) {
    EXPECT_THAT(error_of(R"({"identity": {"uid": 5, "uid_range": {"first": 10, "count": 1}}})"),
                StartsWith(at("/identity/uid_range") + "cannot be combined"));
}

TEST_F(ProfileLoaderTest, UserNameCannotForgePasswdLines) {
    EXPECT_THAT(error_of(R"({"identity": {"user_name": "u:0:0"}})"),
                StartsWith(at("/identity/user_name")));
    EXPECT_THAT(error_of(R"({"identity": {"user_name": "a\nroot"}})"),
                StartsWith(at("/identity/user_name")));
    EXPECT_THAT(error_of(R"({"identity": {"user_name": "Admin"}})"),
                StartsWith(at("/identity/user_name")));
}

// ---- paths and mounts ----------------------------------------------------------------------

TEST_F(ProfileLoaderTest, PathsMustBeAbsoluteAndNormalized) {
    EXPECT_EQ(error_of(R"({"filesystem": {"tmpfs": [{"target": "run"}]}})"),
              at("/filesystem/tmpfs/0/target") + "expected an absolute path, got \"run\"");
    EXPECT_THAT(error_of(R"({"filesystem": {"workspace": "/a/../etc"}})"),
                AllOf(StartsWith(at("/filesystem/workspace")), HasSubstr("not normalized")));
    EXPECT_THAT(error_of(R"({"filesystem": {"home": "/home//user"}})"),
                StartsWith(at("/filesystem/home")));
    EXPECT_THAT(error_of(R"({"filesystem": {"home": "/home/user/"}})"),
                StartsWith(at("/filesystem/home")));
    EXPECT_THAT(error_of(R"({"filesystem": {"home": "/home/./user"}})"),
                StartsWith(at("/filesystem/home")));
    EXPECT_THAT(error_of(R"({"command": {"executable": "bash", "argv_prefix": ["bash"]}})"),
                StartsWith(at("/command/executable")));
    EXPECT_THAT(
        error_of(R"({"filesystem": {"symlinks": [{"target": "/a\tb", "to": "x"}]}})"),
        AllOf(StartsWith(at("/filesystem/symlinks/0/target")), HasSubstr("control character")));
}

TEST_F(ProfileLoaderTest, RootIsNeverATarget) {
    EXPECT_EQ(error_of(R"({"filesystem": {"binds": [{"source": "/srv", "target": "/"}]}})"),
              at("/filesystem/binds/0/target") + "must not be \"/\"");
}

TEST_F(ProfileLoaderTest, BindSourceIsRequiredAndAbsolute) {
    EXPECT_THAT(error_of(R"({"filesystem": {"binds": [{"target": "/x"}]}})"),
                StartsWith(at("/filesystem/binds/0/source") + "missing"));
    EXPECT_THAT(error_of(R"({"filesystem": {"binds": [{"source": "usr"}]}})"),
                StartsWith(at("/filesystem/binds/0/source")));
    EXPECT_THAT(error_of(R"({"filesystem": {"binds": ["/usr"]}})"),
                StartsWith(at("/filesystem/binds/0") + "expected an object"));
}

TEST_F(ProfileLoaderTest, TwoMountsCannotShareATarget) {
    EXPECT_EQ(
        error_of(
            R"({"filesystem": {"binds": [{"source": "/a", "target": "/x"}, {"source": "/b", "target": "/x"}]}})"),
        at("/filesystem/binds/1/target") + "target \"/x\" is listed twice");
    EXPECT_EQ(
        error_of(R"({"filesystem": {"binds": [{"source": "/x"}], "tmpfs": [{"target": "/x"}]}})"),
        at("/filesystem/tmpfs/0/target") + "target \"/x\" is used twice");
}

TEST_F(ProfileLoaderTest, WorkspaceAndHomeStayOutOfProcDevAndOtherMounts) {
    EXPECT_THAT(error_of(R"({"filesystem": {"workspace": "/proc/w"}})"),
                StartsWith(at("/filesystem/workspace") + "\"/proc/w\" is inside /proc"));
    EXPECT_THAT(error_of(R"({"filesystem": {"home": "/dev"}})"),
                StartsWith(at("/filesystem/home")));
    EXPECT_THAT(
        error_of(R"({"filesystem": {"workspace": "/data", "binds": [{"source": "/data"}]}})"),
        StartsWith(at("/filesystem/workspace") +
                   "\"/data\" is also the target of /filesystem/binds/0/target"));
    EXPECT_THAT(error_of(R"({"filesystem": {"workspace": "/w", "home": "/w/home"}})"),
                StartsWith(at("/filesystem/home") + "home \"/w/home\" and workspace"));
    EXPECT_THAT(error_of(R"({"filesystem": {"workspace": "/w", "home": "/w"}})"),
                StartsWith(at("/filesystem/home")));
    EXPECT_THAT(
        error_of(
            R"({"filesystem": {"workspace": "/bin/w", "symlinks": [{"target": "/bin", "to": "usr/bin"}]}})"),
        StartsWith(at("/filesystem/workspace") + "\"/bin/w\" lies below \"/bin\""));
}

TEST_F(ProfileLoaderTest, TargetsTheJailBuildsItselfAreReserved) {
    EXPECT_THAT(error_of(R"({"filesystem": {"binds": [{"source": "/x", "target": "/proc/sys"}]}})"),
                StartsWith(at("/filesystem/binds/0/target")));
    EXPECT_THAT(error_of(R"({"filesystem": {"tmpfs": [{"target": "/dev/shm"}]}})"),
                StartsWith(at("/filesystem/tmpfs/0/target")));
    EXPECT_THAT(error_of(R"({"filesystem": {"tmpfs": [{"target": "/tmp"}]}})"),
                AllOf(StartsWith(at("/filesystem/tmpfs/0/target")), HasSubstr("tmp_size")));
}

TEST_F(ProfileLoaderTest, NothingIsCreatedInsideTheWorkspaceOrHome) {
    EXPECT_THAT(
        error_of(R"({"filesystem": {"files": [{"target": "/workspace/.x"}]}})"),
        StartsWith(at("/filesystem/files/0/target") + "\"/workspace/.x\" is inside the workspace"));
    EXPECT_THAT(
        error_of(
            R"({"filesystem": {"binds": [{"source": "/cache", "target": "/home/user/.cache"}]}})"),
        StartsWith(at("/filesystem/binds/0/target")));
}

TEST_F(ProfileLoaderTest, SynthesizedEtcFilesAreReplacedOnlyByFiles) {
    EXPECT_THAT(error_of(R"({"filesystem": {"binds": [{"source": "/etc/hosts"}]}})"),
                AllOf(StartsWith(at("/filesystem/binds/0/target")), HasSubstr("synthesize_etc")));
    EXPECT_THAT(error_of(R"({"filesystem": {"symlinks": [{"target": "/etc/passwd", "to": "x"}]}})"),
                StartsWith(at("/filesystem/symlinks/0/target")));
    EXPECT_EQ(load(R"({"filesystem": {"files": [{"target": "/etc/hosts", "content": "x"}]}})")
                  .filesystem.files.size(),
              1u);
    EXPECT_EQ(
        load(R"({"filesystem": {"synthesize_etc": false, "binds": [{"source": "/etc/passwd"}]}})")
            .filesystem.binds.size(),
        1u);
}

TEST_F(ProfileLoaderTest, NothingIsCreatedThroughASymlinkOrIntoABind) {
    EXPECT_THAT(
        error_of(R"({"filesystem": {"symlinks": [{"target": "/bin", "to": "usr/bin"}],
                                            "files": [{"target": "/bin/tool"}]}})"),
        StartsWith(at("/filesystem/files/0/target") + "\"/bin/tool\" lies below the symlink"));
    EXPECT_THAT(
        error_of(R"({"filesystem": {"binds": [{"source": "/usr"}],
                                            "symlinks": [{"target": "/usr/x", "to": "y"}]}})"),
        AllOf(StartsWith(at("/filesystem/symlinks/0/target")), HasSubstr("written to the host")));
    EXPECT_EQ(
        load(R"({"filesystem": {"tmpfs": [{"target": "/run"}], "files": [{"target": "/run/x"}]}})")
            .filesystem.files.size(),
        1u);
}

TEST_F(ProfileLoaderTest, ModesAreOctalStringsWithoutSetIdBits) {
    EXPECT_EQ(
        error_of(R"({"filesystem": {"files": [{"target": "/etc/x", "mode": 644}]}})"),
        at("/filesystem/files/0/mode") + "expected an octal mode string like \"0644\", got 644");
    EXPECT_THAT(error_of(R"({"filesystem": {"files": [{"target": "/etc/x", "mode": "4755"}]}})"),
                StartsWith(at("/filesystem/files/0/mode")));
    EXPECT_THAT(error_of(R"({"filesystem": {"tmpfs": [{"target": "/run", "mode": "0999"}]}})"),
                StartsWith(at("/filesystem/tmpfs/0/mode")));
    EXPECT_EQ(load(R"({"filesystem": {"tmpfs": [{"target": "/run", "mode": "1777"}]}})")
                  .filesystem.tmpfs[0]
                  .mode,
              01777u);
}

TEST_F(ProfileLoaderTest, SymlinkNeedsADestination) {
    EXPECT_THAT(error_of(R"({"filesystem": {"symlinks": [{"target": "/bin"}]}})"),
                StartsWith(at("/filesystem/symlinks/0/to") + "missing"));
    EXPECT_THAT(error_of(R"({"filesystem": {"symlinks": [{"target": "/bin", "to": ""}]}})"),
                StartsWith(at("/filesystem/symlinks/0/to")));
}

// ---- environment ---------------------------------------------------------------------------

TEST_F(ProfileLoaderTest, EnvironmentNamesAreChecked) {
    EXPECT_THAT(error_of(R"({"environment": {"set": {"1ABC": "x"}}})"),
                StartsWith(at("/environment/set/1ABC") + "invalid environment variable name"));
    EXPECT_THAT(error_of(R"({"environment": {"pass": ["LANG", "A-B"]}})"),
                StartsWith(at("/environment/pass/1")));
    EXPECT_THAT(error_of(R"({"environment": {"pass": [5]}})"),
                StartsWith(at("/environment/pass/0")));
    EXPECT_THAT(error_of(R"({"environment": {"secrets": {"A=B": "/s"}}})"),
                StartsWith(at("/environment/secrets/A=B")));
}

TEST_F(ProfileLoaderTest, PathAndHomeAreOwnedElsewhere) {
    EXPECT_EQ(error_of(R"({"environment": {"set": {"PATH": "/bin"}}})"),
              at("/environment/set/PATH") + "PATH is set by /environment/path, not here");
    EXPECT_THAT(error_of(R"({"environment": {"pass": ["PATH"]}})"),
                StartsWith(at("/environment/pass/0")));
    EXPECT_THAT(error_of(R"({"environment": {"set": {"HOME": "/root"}}})"),
                AllOf(StartsWith(at("/environment/set/HOME")), HasSubstr("/filesystem/home")));
}

TEST_F(ProfileLoaderTest, EnvironmentValuesMayNotHoldNul) {
    EXPECT_EQ(error_of(R"({"environment": {"set": {"X": "a\u0000b"}}})"),
              at("/environment/set/X") + "string contains a NUL character");
    EXPECT_EQ(load(R"({"environment": {"set": {"X": "two\nlines"}}})").environment.set.at("X"),
              "two\nlines");
}

TEST_F(ProfileLoaderTest, SearchPathEntriesAreAbsolute) {
    EXPECT_THAT(error_of(R"({"environment": {"path": "/usr/bin::/bin"}})"),
                AllOf(StartsWith(at("/environment/path") + "entry 1 is empty"),
                      HasSubstr("current directory")));
    EXPECT_THAT(error_of(R"({"environment": {"path": "/usr/bin:bin"}})"),
                StartsWith(at("/environment/path") + "entry 1"));
    EXPECT_THAT(error_of(R"({"environment": {"path": ""}})"), StartsWith(at("/environment/path")));
}

TEST_F(ProfileLoaderTest, SecretsAreAbsoluteFilesNobodyElseCanSet) {
    EXPECT_THAT(error_of(R"({"environment": {"secrets": {"KEY": "secrets/key"}}})"),
                StartsWith(at("/environment/secrets/KEY")));
    EXPECT_THAT(error_of(R"({"environment": {"pass": ["KEY"], "secrets": {"KEY": "/s/key"}}})"),
                AllOf(StartsWith(at("/environment/secrets/KEY")), HasSubstr("/environment/pass")));
    EXPECT_THAT(error_of(R"({"environment": {"set": {"KEY": "v"}, "secrets": {"KEY": "/s/key"}}})"),
                StartsWith(at("/environment/secrets/KEY")));
}

// ---- command -------------------------------------------------------------------------------

TEST_F(ProfileLoaderTest, ArgvStringsHaveNoControlCharacters) {
    EXPECT_THAT(error_of(R"({"command": {"argv_prefix": ["bash", "-c\u001b"]}})"),
                StartsWith(at("/command/argv_prefix/1") + "string contains a control character"));
    EXPECT_THAT(error_of(R"({"command": {"argv_prefix": ["bash", "a\u0000"]}})"),
                StartsWith(at("/command/argv_prefix/1")));
    EXPECT_THAT(error_of(R"({"command": {"argv_prefix": [""]}})"),
                StartsWith(at("/command/argv_prefix/0")));
}

TEST_F(ProfileLoaderTest, AllowedFlagsLookLikeFlags) {
    EXPECT_THAT(error_of(R"({"command": {"allowed_flags": ["-p", "print"]}})"),
                StartsWith(at("/command/allowed_flags/1") + "expected a flag"));
    EXPECT_THAT(error_of(R"({"command": {"allowed_flags": ["--"]}})"),
                StartsWith(at("/command/allowed_flags/0")));
    EXPECT_THAT(error_of(R"({"command": {"allowed_flags": ["--x=1"]}})"),
                StartsWith(at("/command/allowed_flags/0")));
}

TEST_F(ProfileLoaderTest, Sha256IsLowercaseHexAndPinsAnExecutable) {
    const std::string upper(64, 'A');
    EXPECT_THAT(
        error_of(R"({"command": {"executable": "/bin/x", "argv_prefix": ["x"], "sha256": ")" +
                 upper + "\"}}"),
        StartsWith(at("/command/sha256") + "expected 64 lowercase hex digits"));
    EXPECT_THAT(
        error_of(R"({"command": {"executable": "/bin/x", "argv_prefix": ["x"], "sha256": "abc"}})"),
        StartsWith(at("/command/sha256")));
    EXPECT_EQ(error_of(R"({"command": {"sha256": ")" + std::string(64, 'a') + "\"}}"),
              at("/command/sha256") + "needs /command/executable: a hash pins one program");
}

// ---- seccomp, network, hostname ------------------------------------------------------------

TEST_F(ProfileLoaderTest, SyscallNamesAreChecked) {
    EXPECT_THAT(error_of(R"({"seccomp": {"allow": ["Open"]}})"),
                StartsWith(at("/seccomp/allow/0")));
    EXPECT_THAT(error_of(R"({"seccomp": {"deny": ["ok", ""]}})"),
                StartsWith(at("/seccomp/deny/1")));
    EXPECT_EQ(error_of(R"({"seccomp": {"allow": ["ptrace"], "deny": ["ptrace"]}})"),
              at("/seccomp/deny/0") + "syscall \"ptrace\" is both allowed and denied");
}

// ---- network --------------------------------------------------------------------------------

TEST_F(ProfileLoaderTest, NetworkModeAsTextOrObject) {
    EXPECT_EQ(load(R"({"network": "proxy"})").network.mode, NetworkMode::proxy);
    const Profile p = load(R"({"network": {"mode": "gateway", "allow": ["registry.npmjs.org:443",
        "*.GitHub.com.:443", "localhost:8000-8100"], "allow_addresses": ["127.0.0.1", "[::1]"],
        "allow_ip_literals": true, "allow_plain_http": true, "proxy_port": 8888,
        "gateway_port": 8889, "max_connections": 5, "connect_timeout": "1500ms",
        "idle_timeout": "2m"}})");
    const NetworkPolicy& n = p.network;
    EXPECT_EQ(n.mode, NetworkMode::gateway);
    ASSERT_EQ(n.allow.size(), 3u);
    EXPECT_EQ(n.allow[1].host, "github.com");
    EXPECT_TRUE(n.allow[1].subdomains);
    EXPECT_EQ(n.allow[2].port_first, 8000);
    EXPECT_EQ(n.allow[2].port_last, 8100);
    EXPECT_EQ(n.allow_addresses, (std::vector<std::string>{"127.0.0.1", "::1"}));
    EXPECT_TRUE(n.allow_ip_literals);
    EXPECT_TRUE(n.allow_plain_http);
    EXPECT_EQ(n.proxy_port, 8888);
    EXPECT_EQ(n.gateway_port, 8889);
    EXPECT_EQ(n.max_connections, 5u);
    EXPECT_EQ(n.connect_timeout_ms, 1500u);
    EXPECT_EQ(n.idle_timeout_ms, 120000u);
}

TEST_F(ProfileLoaderTest, NetworkValuesAreCheckedWithTheirPlace) {
    EXPECT_THAT(error_of(R"({"network": "wifi"})"), StartsWith(at("/network") + "expected one of"));
    EXPECT_THAT(error_of(R"({"network": {"mode": "wifi"}})"), StartsWith(at("/network/mode")));
    EXPECT_THAT(error_of(R"({"network": {"allow": ["example.com"]}})"),
                StartsWith(at("/network/allow/0")));
    EXPECT_THAT(error_of(R"({"network": {"allow": ["ok.com:443", "a@b.com:443"]}})"),
                StartsWith(at("/network/allow/1")));
    EXPECT_THAT(error_of(R"({"network": {"allow": [443]}})"), StartsWith(at("/network/allow/0")));
    EXPECT_THAT(error_of(R"({"network": {"allow_addresses": ["10.0.0.0/8"]}})"),
                StartsWith(at("/network/allow_addresses/0")));
    EXPECT_THAT(error_of(R"({"network": {"proxy_port": 0}})"),
                StartsWith(at("/network/proxy_port")));
    EXPECT_THAT(error_of(R"({"network": {"gateway_port": 70000}})"),
                StartsWith(at("/network/gateway_port")));
    EXPECT_THAT(error_of(R"({"network": {"max_connections": 0}})"),
                StartsWith(at("/network/max_connections")));
    EXPECT_THAT(error_of(R"({"network": {"connect_timeout": "5ms"}})"),
                StartsWith(at("/network/connect_timeout")));
    EXPECT_THAT(error_of(R"({"network": {"proxy": true}})"),
                StartsWith(at("/network/proxy") + "unknown key"));
}

TEST_F(ProfileLoaderTest, GatewayAndProxyPortsDiffer) {
    EXPECT_THAT(error_of(R"({"network": {"mode": "gateway", "proxy_port": 9000,
                                         "gateway_port": 9000}})"),
                HasSubstr("/network/gateway_port: must differ from /network/proxy_port (9000)"));
    EXPECT_EQ(load(R"({"network": {"mode": "proxy", "proxy_port": 9000,
                                   "gateway_port": 9000}})")
                  .network.proxy_port,
              9000);
}

TEST_F(ProfileLoaderTest, ProxyModesSetTheProxyVariables) {
    const auto env = load(R"({"network": "gateway"})").environment.set;
    EXPECT_EQ(env.at("HTTPS_PROXY"), "http://127.0.0.1:3128");
    EXPECT_EQ(env.at("http_proxy"), "http://127.0.0.1:3128");
    EXPECT_EQ(env.at("NO_PROXY"), "localhost,127.0.0.1,::1");
    EXPECT_EQ(env.at("ANTHROPIC_BASE_URL"), "http://127.0.0.1:3129");
    const auto proxy =
        load(R"({"network": {"mode": "proxy", "proxy_port": 8080}})").environment.set;
    EXPECT_EQ(proxy.at("https_proxy"), "http://127.0.0.1:8080");
    EXPECT_EQ(proxy.count("ANTHROPIC_BASE_URL"), 0u);
    EXPECT_EQ(load(R"({"network": "none"})").environment.set.count("HTTPS_PROXY"), 0u);
    // A profile's own value cannot point the jail elsewhere.
    EXPECT_EQ(load(R"({"network": "proxy", "environment": {"set": {"HTTPS_PROXY": "http://x"}}})")
                  .environment.set.at("HTTPS_PROXY"),
              "http://127.0.0.1:3128");
}

TEST_F(ProfileLoaderTest, RequestsCannotSetTheProxyVariables) {
    EXPECT_EQ(error_of(R"({"network": "proxy", "environment": {"pass": ["TERM", "https_proxy"]}})"),
              at("/environment/pass") +
                  "\"https_proxy\" is set by network mode \"proxy\" and cannot be passed by a "
                  "request");
    EXPECT_EQ(load(R"({"network": "none", "environment": {"pass": ["https_proxy"]}})")
                  .environment.pass.size(),
              1u);
}

TEST_F(ProfileLoaderTest, ChildExtendsTheAllowlistAndKeepsTheMode) {
    write("base", R"({"network": {"mode": "gateway", "allow": ["registry.npmjs.org:443"],
                                  "allow_addresses": ["10.1.2.3"]}})");
    write("child", R"({"extends": "base", "network": {"allow": ["github.com:443",
                                                               "registry.npmjs.org:443"]}})");
    const Profile child = load_profile("child", dir_);
    EXPECT_EQ(child.network.mode, NetworkMode::gateway);
    ASSERT_EQ(child.network.allow.size(), 2u);
    EXPECT_EQ(child.network.allow[0].host, "registry.npmjs.org");
    EXPECT_EQ(child.network.allow[1].host, "github.com");
    EXPECT_EQ(child.network.allow_addresses, std::vector<std::string>{"10.1.2.3"});
    write("offline", R"({"extends": "base", "network": "none"})");
    EXPECT_EQ(load_profile("offline", dir_).network.mode, NetworkMode::none);
}

// ---- home seed --------------------------------------------------------------------------------

TEST_F(ProfileLoaderTest, HomeSeedFilesAreRelativePathsBelowTheHome) {
    const Profile p = load(R"({"filesystem": {"home_seed": [
        {"path": ".claude.json", "content": "{}", "mode": "0600"},
        {"path": ".config/app/settings.json", "content": "x"}]}})");
    ASSERT_EQ(p.filesystem.home_seed.size(), 2u);
    EXPECT_EQ(p.filesystem.home_seed[0].mode, 0600u);
    EXPECT_EQ(p.filesystem.home_seed[1].path, ".config/app/settings.json");
    for (const char* bad : {"/etc/passwd", "../x", "a/../b", "a//b", "./a", "", "a/"}) {
        EXPECT_THAT(
            error_of(std::string(R"({"filesystem": {"home_seed": [{"path": ")") + bad + R"("}]}})"),
            StartsWith(at("/filesystem/home_seed/0/path")))
            << bad;
    }
    EXPECT_THAT(error_of(R"({"filesystem": {"home_seed": [{"path": "a"}, {"path": "a"}]}})"),
                HasSubstr("\"a\" is listed twice"));
    EXPECT_THAT(error_of(R"({"filesystem": {"home_seed": [{"path": "a", "mode": "4755"}]}})"),
                StartsWith(at("/filesystem/home_seed/0/mode")));
}

TEST_F(ProfileLoaderTest, ChildReplacesAHomeSeedByPath) {
    write("base", R"({"filesystem": {"home_seed": [{"path": "a", "content": "1"},
                                                   {"path": "b", "content": "2"}]}})");
    write("child", R"({"extends": "base", "filesystem": {"home_seed": [
                           {"path": "b", "content": "3"}, {"path": "c"}]}})");
    const auto seeds = load_profile("child", dir_).filesystem.home_seed;
    ASSERT_EQ(seeds.size(), 3u);
    EXPECT_EQ(seeds[1].content, "3");
    EXPECT_EQ(seeds[2].path, "c");
}

TEST_F(ProfileLoaderTest, HostnameIsAnRfc1123Label) {
    EXPECT_THAT(error_of(R"({"hostname": "-bad"})"), StartsWith(at("/hostname")));
    EXPECT_THAT(error_of(R"({"hostname": "a.b"})"), StartsWith(at("/hostname")));
    EXPECT_THAT(error_of(R"({"hostname": ""})"), StartsWith(at("/hostname")));
    EXPECT_THAT(error_of("{\"hostname\": \"" + std::string(64, 'a') + "\"}"),
                StartsWith(at("/hostname")));
    EXPECT_EQ(load("{\"hostname\": \"" + std::string(63, 'a') + "\"}").hostname,
              std::string(63, 'a'));
}

// ---- output ----------------------------------------------------------------------------------

TEST_F(ProfileLoaderTest, OutputRingSizeRange) {
    EXPECT_EQ(error_of(R"({"output": {"ring_bytes": "2K"}})"),
              at("/output/ring_bytes") + "must be at least 4K, got \"2K\"");
    EXPECT_EQ(error_of(R"({"output": {"ring_bytes": "65M"}})"),
              at("/output/ring_bytes") + "must be at most 64M, got \"65M\"");
    EXPECT_THAT(error_of(R"({"output": {"ring_bytes": true}})"),
                StartsWith(at("/output/ring_bytes") + "expected a size like \"512M\""));
    EXPECT_EQ(load(R"({"output": {"ring_bytes": 4096}})").output.ring_bytes, 4096u);
    EXPECT_EQ(load(R"({"output": {"ring_bytes": "64M"}})").output.ring_bytes, 64u << 20);
}

TEST_F(ProfileLoaderTest, OverflowPoliciesAreNamed) {
    EXPECT_EQ(
        error_of(R"({"output": {"pty_overflow": "drop"}})"),
        at("/output/pty_overflow") + "expected one of \"block\", \"drop_oldest\", got \"drop\"");
    EXPECT_EQ(error_of(R"({"output": {"pipe_overflow": 1}})"),
              at("/output/pipe_overflow") + "expected one of \"block\", \"drop_oldest\", got 1");
    const Profile p = load(R"({"output": {"pty_overflow": "block", "pipe_overflow": "block"}})");
    EXPECT_EQ(p.output.pty_overflow, flow::OverflowPolicy::block);
    EXPECT_EQ(p.output.pipe_overflow, flow::OverflowPolicy::block);
}

TEST_F(ProfileLoaderTest, FrameRateRanges) {
    EXPECT_EQ(load(R"({"output": {"frames_per_sec": 0}})").output.frames_per_sec, 0u);
    EXPECT_EQ(error_of(R"({"output": {"frames_per_sec": -1}})"),
              at("/output/frames_per_sec") + "must be between 0 and 1000000, got -1");
    EXPECT_THAT(error_of(R"({"output": {"frames_per_sec": 1000001}})"),
                StartsWith(at("/output/frames_per_sec") + "must be between 0 and 1000000"));
    EXPECT_EQ(error_of(R"({"output": {"frames_per_sec": "10"}})"),
              at("/output/frames_per_sec") + "expected an integer, got \"10\"");
    EXPECT_EQ(error_of(R"({"output": {"frame_burst": 0}})"),
              at("/output/frame_burst") + "must be between 1 and 1000000, got 0");
}

TEST_F(ProfileLoaderTest, InputRanges) {
    EXPECT_EQ(error_of(R"({"output": {"input_rate_bytes": 100}})"),
              at("/output/input_rate_bytes") + "must be at least 1K, got 100");
    EXPECT_EQ(error_of(R"({"output": {"input_rate_bytes": "2G"}})"),
              at("/output/input_rate_bytes") + "must be at most 1G, got \"2G\"");
    EXPECT_EQ(error_of(R"({"output": {"input_burst_bytes": "65M"}})"),
              at("/output/input_burst_bytes") + "must be at most 64M, got \"65M\"");
    EXPECT_EQ(error_of(R"({"output": {"max_input_frame_bytes": 0}})"),
              at("/output/max_input_frame_bytes") + "must be at least 1, got 0");
    EXPECT_EQ(error_of(R"({"output": {"max_input_frame_bytes": "2M", "input_burst_bytes": "4M"}})"),
              at("/output/max_input_frame_bytes") + "must be at most 1M, got \"2M\"");
    const Profile p =
        load(R"({"output": {"max_input_frame_bytes": "1M", "input_burst_bytes": "1M"}})");
    EXPECT_EQ(p.output.max_input_frame_bytes, 1u << 20);
    EXPECT_EQ(load(R"({"output": {"max_input_frame_bytes": 1}})").output.max_input_frame_bytes, 1u);
}

TEST_F(ProfileLoaderTest, InputFrameMustFitTheInputBurst) {
    EXPECT_EQ(error_of(R"({"output": {"input_burst_bytes": "32K"}})"),
              at("/output/max_input_frame_bytes") +
                  "65536 bytes is more than /output/input_burst_bytes (32768 bytes), the input "
                  "bucket's depth");
    EXPECT_EQ(load(R"({"output": {"input_burst_bytes": "32K", "max_input_frame_bytes": "32K"}})")
                  .output.max_input_frame_bytes,
              32u << 10);
}

TEST_F(ProfileLoaderTest, OutputUnknownKeysAreRefused) {
    EXPECT_THAT(error_of(R"({"output": {"ring": "1M"}})"),
                StartsWith(at("/output/ring") + "unknown key \"ring\" (allowed here: ring_bytes, "
                                                "pty_overflow, pipe_overflow"));
    EXPECT_EQ(error_of(R"({"output": []})"), at("/output") + "expected an object, got []");
}

TEST_F(ProfileLoaderTest, ExtendsMergesOutputKeyByKeyAndNullRestoresTheDefault) {
    write("base", R"({"output": {"ring_bytes": "8M", "frames_per_sec": 60,
                                 "input_burst_bytes": "512K", "max_input_frame_bytes": "512K"}})");
    write("p",
          R"({"extends": "base", "output": {"pty_overflow": "block", "frames_per_sec": null}})");
    const Profile p = load_profile("p", dir_);
    EXPECT_EQ(p.output.ring_bytes, 8u << 20);
    EXPECT_EQ(p.output.pty_overflow, flow::OverflowPolicy::block);
    EXPECT_EQ(p.output.frames_per_sec, 1000u);
    EXPECT_EQ(p.output.max_input_frame_bytes, 512u << 10);
    // The frame/burst rule sees the whole chain: the child's smaller burst breaks the base's frame.
    write("q", R"({"extends": "base", "output": {"input_burst_bytes": "256K"}})");
    EXPECT_THAT(error_loading("q"), StartsWith(file("q") + ": /output/max_input_frame_bytes: "));
}

// ---- extends -------------------------------------------------------------------------------

TEST_F(ProfileLoaderTest, ExtendsOverridesAndKeepsTheRest) {
    write("base", R"({"limits": {"memory": "1G", "pids": 100}, "hostname": "base",
                      "filesystem": {"binds": [{"source": "/usr"}, {"source": "/etc/ssl"}]}})");
    write("p", R"({"extends": "base", "limits": {"memory": "2G"},
                   "filesystem": {"binds": [{"source": "/srv/usr", "target": "/usr"}, {"source": "/opt"}]}})");
    const Profile p = load_profile("p", dir_);
    EXPECT_EQ(p.limits.memory_bytes, 2ull << 30);
    EXPECT_EQ(p.limits.pids, 100u);
    EXPECT_EQ(p.hostname, "base");
    ASSERT_EQ(p.filesystem.binds.size(), 3u);
    EXPECT_EQ(p.filesystem.binds[0].source, "/srv/usr");
    EXPECT_EQ(p.filesystem.binds[0].target, "/usr");
    EXPECT_EQ(p.filesystem.binds[1].target, "/etc/ssl");
    EXPECT_EQ(p.filesystem.binds[2].target, "/opt");
    EXPECT_EQ(p.name, "p");
}

TEST_F(ProfileLoaderTest, ExtendsUnionsPassAndSeccompLists) {
    write(
        "base",
        R"({"environment": {"pass": ["LANG", "TERM"]}, "seccomp": {"deny": ["chmod"], "allow": ["ptrace"]}})");
    write("p", R"({"extends": "base", "environment": {"pass": ["COLUMNS", "LANG"]},
                   "seccomp": {"allow": ["chmod"], "deny": ["kill"]}})");
    const Profile p = load_profile("p", dir_);
    EXPECT_EQ(p.environment.pass, (std::vector<std::string>{"LANG", "TERM", "COLUMNS"}));
    EXPECT_EQ(p.seccomp.allow, (std::vector<std::string>{"ptrace", "chmod"}));
    EXPECT_EQ(p.seccomp.deny, (std::vector<std::string>{"kill"}));
}

TEST_F(ProfileLoaderTest, ExtendsNullResetsToNoneOrDefault) {
    write(
        "base",
        R"({"command": {"executable": "/usr/bin/bash", "argv_prefix": ["bash"], "allowed_flags": ["-l"]},
                      "filesystem": {"home": "/home/me", "binds": [{"source": "/usr"}]},
                      "limits": {"memory": "3G"}, "environment": {"set": {"A": "1", "B": "2"}}})");
    write("p", R"({"extends": "base", "command": {"executable": null, "allowed_flags": null},
                   "filesystem": {"home": null, "binds": null}, "limits": {"memory": null},
                   "environment": {"set": {"A": null}}})");
    const Profile p = load_profile("p", dir_);
    EXPECT_FALSE(p.command.executable);
    EXPECT_FALSE(p.command.allowed_flags);
    EXPECT_FALSE(p.filesystem.home);
    EXPECT_TRUE(p.filesystem.binds.empty());
    EXPECT_EQ(p.limits.memory_bytes, 1ull << 30);
    EXPECT_EQ(p.environment.set.count("A"), 0u);
    EXPECT_EQ(p.environment.set.at("B"), "2");
    EXPECT_EQ(p.environment.set.at("HOME"), "/workspace");
}

TEST_F(ProfileLoaderTest, ExtendsSwitchesIdentityForm) {
    write("base", R"({"identity": {"uid": 60000, "gid": 60000, "user_name": "agent"}})");
    write("p", R"({"extends": "base", "identity": {"uid_range": {"first": 200000, "count": 10}}})");
    const Profile p = load_profile("p", dir_);
    EXPECT_EQ(p.identity.mode, IdentityPolicy::Mode::per_user);
    EXPECT_EQ(p.identity.range_first, 200000u);
    EXPECT_EQ(p.identity.user_name, "agent");
    write("q", R"({"extends": "p", "identity": {"uid": 7000}})");
    const Profile q = load_profile("q", dir_);
    EXPECT_EQ(q.identity.mode, IdentityPolicy::Mode::fixed);
    EXPECT_EQ(q.identity.uid, 7000u);
    EXPECT_EQ(q.identity.gid, 7000u);
}

TEST_F(ProfileLoaderTest, CrossFieldRulesSeeTheWholeChain) {
    write("base", R"({"command": {"executable": "/usr/bin/tool", "argv_prefix": ["tool"]}})");
    write("p", R"({"extends": "base", "command": {"sha256": ")" + std::string(64, 'f') + "\"}}");
    EXPECT_EQ(load_profile("p", dir_).command.sha256, std::string(64, 'f'));
    write("q", R"({"extends": "base", "environment": {"pass": ["K"]}})");
    write("r", R"({"extends": "q", "environment": {"secrets": {"K": "/s/k"}}})");
    EXPECT_THAT(error_loading("r"), StartsWith(file("r") + ": /environment/secrets/K: "));
}

TEST_F(ProfileLoaderTest, AnErrorInTheBaseNamesTheBaseFile) {
    write("base", R"({"limits": {"memory": true}})");
    write("p", R"({"extends": "base"})");
    EXPECT_EQ(error_loading("p"),
              file("base") + ": /limits/memory: expected a size like \"512M\", got true");
}

TEST_F(ProfileLoaderTest, MissingBaseIsNamed) {
    write("p", R"({"extends": "nothere"})");
    EXPECT_EQ(
        error_loading("p"),
        file("p") + ": /extends: base profile \"nothere\" not found (no " + file("nothere") + ")");
}

TEST_F(ProfileLoaderTest, ExtendsCycleShowsTheChain) {
    write("a", R"({"extends": "b"})");
    write("b", R"({"extends": "a"})");
    EXPECT_EQ(error_loading("a"), file("b") + ": /extends: cycle: a -> b -> a");
    write("self", R"({"extends": "self"})");
    EXPECT_EQ(error_loading("self"), file("self") + ": /extends: cycle: self -> self");
}

TEST_F(ProfileLoaderTest, ExtendsDepthIsLimitedToEight) {
    write("l0", R"({"hostname": "l0"})");
    for (int i = 1; i <= 9; ++i) {
        write("l" + std::to_string(i), R"({"extends": "l)" + std::to_string(i - 1) + "\"}");
    }
    EXPECT_EQ(load_profile("l8", dir_).hostname, "l0");
    EXPECT_THAT(error_loading("l9"), AllOf(HasSubstr("more than 8 levels of extends"),
                                           HasSubstr("l9 -> l8"), HasSubstr("-> l0")));
}

TEST_F(ProfileLoaderTest, ExtendsNamesAreSimpleNamesInTheSameDirectory) {
    EXPECT_THAT(error_of(R"({"extends": "../etc/x"})"),
                StartsWith(at("/extends") + "expected a profile name"));
    EXPECT_THAT(error_of(R"({"extends": 3})"), StartsWith(at("/extends")));
    fs::create_directory(dir_ / "sub");
    std::ofstream(dir_ / "sub" / "base.json") << R"({"hostname": "sub"})";
    std::ofstream(dir_ / "sub" / "leaf.json") << R"({"extends": "base"})";
    write("base", R"({"hostname": "top"})");
    EXPECT_EQ(load_profile((dir_ / "sub" / "leaf.json").string(), dir_).hostname, "sub");
}

TEST_F(ProfileLoaderTest, MergedDocumentMayNotStillExtend) {
    EXPECT_THROW(profile_from_json(nlohmann::json::parse(R"({"extends": "base"})"), "x", "x.json"),
                 ProfileError);
}

}  // namespace
}  // namespace ccjail
