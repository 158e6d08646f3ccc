#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "server/daemon_config.hpp"

namespace ccjail::server {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;
using std::chrono::milliseconds;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::StartsWith;

class DaemonConfigTest : public ::testing::Test {
  protected:
    void SetUp() override {
        char tmpl[] = "/tmp/ccjail-config-test-XXXXXX";
        ASSERT_NE(mkdtemp(tmpl), nullptr);
        dir_ = tmpl;
        file_ = dir_ / "ccjaild.json";
    }
    void TearDown() override { fs::remove_all(dir_); }

    void write(const std::string& text) { std::ofstream(file_, std::ios::trunc) << text; }

    DaemonConfig load(const std::string& text) {
        write(text);
        return load_daemon_config(file_, true);
    }

    // The ConfigError's message loading `text`, or a marker when it loads.
    std::string error_of(const std::string& text) {
        write(text);
        return error_loading(file_);
    }
    static std::string error_loading(const fs::path& path, bool given = true) {
        try {
            load_daemon_config(path, given);
        } catch (const ConfigError& e) {
            return e.what();
        }
        return "<loaded without error>";
    }
    std::string at(const std::string& key) const { return file_.string() + ": " + key + ": "; }

    // Parses a command line of config flags; throws what CLI11 throws.
    static ConfigOverrides flags(const std::vector<std::string>& args) {
        CLI::App app{"test"};
        ConfigOverrides overrides;
        add_config_flags(app, overrides);
        std::vector<const char*> argv{"ccjaild"};
        for (const std::string& arg : args) {
            argv.push_back(arg.c_str());
        }
        app.parse(static_cast<int>(argv.size()), argv.data());
        return overrides;
    }
    static std::string flag_error(const std::vector<std::string>& args) {
        try {
            flags(args);
        } catch (const CLI::ParseError& e) {
            return e.what();
        }
        return "<parsed without error>";
    }

    fs::path dir_;
    fs::path file_;
};

// ---- defaults ------------------------------------------------------------------------------

TEST_F(DaemonConfigTest, MissingDefaultFileGivesTheDefaults) {
    const DaemonConfig c = load_daemon_config(dir_ / "absent.json", false);
    EXPECT_EQ(c.socket, "/run/ccjail/ccjaild.sock");
    EXPECT_EQ(c.socket_mode, 0660u);
    EXPECT_EQ(c.socket_group, "ccjail");
    EXPECT_THAT(c.client_groups, ElementsAre("ccjail"));
    EXPECT_THAT(c.admin_groups, ElementsAre("ccjail-admin"));
    EXPECT_THAT(c.client_uids, IsEmpty());
    EXPECT_EQ(c.profiles_dir, "/etc/ccjail/profiles");
    EXPECT_EQ(c.state_dir, "/var/lib/ccjail");
    EXPECT_EQ(c.run_dir, "/run/ccjail");
    EXPECT_EQ(c.sessions_dir(), "/run/ccjail/sessions");
    EXPECT_EQ(c.workspace_root, "/var/lib/ccjail/workspaces");
    EXPECT_EQ(c.homes_root, "/var/lib/ccjail/homes");
    EXPECT_EQ(c.cgroup_parent, "");
    EXPECT_EQ(c.max_sessions, 64u);
    EXPECT_EQ(c.max_sessions_per_uid, 16u);
    EXPECT_EQ(c.max_sessions_per_user, 4u);
    EXPECT_EQ(c.spawn_rate_per_user_per_min, 30u);
    EXPECT_EQ(c.spawn_burst_per_user, 10u);
    EXPECT_EQ(c.max_connections, 256u);
    EXPECT_EQ(c.max_payload_bytes, 1u << 20);
    EXPECT_EQ(c.client_write_buffer_bytes, 4u << 20);
    EXPECT_EQ(c.hello_timeout_ms, milliseconds(5000));
    EXPECT_EQ(c.request_timeout_ms, milliseconds(30000));
    EXPECT_EQ(c.spawn_timeout_ms, milliseconds(30000));
    EXPECT_EQ(c.kill_grace_ms, milliseconds(5000));
    EXPECT_EQ(c.ended_retention_ms, milliseconds(300000));
    EXPECT_EQ(c.orphan_timeout_ms, milliseconds(600000));
    EXPECT_EQ(c.shutdown_grace_ms, milliseconds(10000));
    EXPECT_EQ(c.log_level, "info");
    EXPECT_THAT(c.explicitly_set, IsEmpty());
}

TEST_F(DaemonConfigTest, DefaultExecPathIsBesideTheRunningBinary) {
    const fs::path self_dir = fs::read_symlink("/proc/self/exe").parent_path();
    const fs::path exec = load_daemon_config(dir_ / "absent.json", false).exec_path;
    const fs::path installed = (self_dir / ".." / "bin" / "ccjail-exec").lexically_normal();
    if (fs::exists(self_dir / "ccjail-exec") || !fs::exists(installed)) {
        EXPECT_EQ(exec, self_dir / "ccjail-exec");
    } else {
        EXPECT_EQ(exec, installed);
    }
}

TEST_F(DaemonConfigTest, EmptyObjectGivesTheDefaults) {
    EXPECT_EQ(to_json(load("{}")), to_json(load_daemon_config(dir_ / "absent.json", false)));
}

// ---- every key -----------------------------------------------------------------------------

TEST_F(DaemonConfigTest, EveryKeyIsRead) {
    const DaemonConfig c = load(R"({
        "socket": "/srv/ccjail/api.sock", "socket_mode": "0600", "socket_group": "web",
        "client_groups": ["web", "ci"], "admin_groups": [], "client_uids": [1000, 1001],
        "profiles_dir": "/srv/profiles", "state_dir": "/srv/state", "run_dir": "/srv/run",
        "workspace_root": "/srv/ws", "homes_root": "/srv/homes", "cgroup_parent": "ccjail/jails",
        "exec_path": "/opt/ccjail/ccjail-exec", "max_sessions": 500,
        "max_sessions_per_uid": 100, "max_sessions_per_user": 8,
        "spawn_rate_per_user_per_min": 0, "spawn_burst_per_user": 3, "max_connections": 1000,
        "max_payload_bytes": "2M", "client_write_buffer_bytes": 131072,
        "hello_timeout_ms": 250, "request_timeout_ms": "1m", "spawn_timeout_ms": "45s",
        "kill_grace_ms": 0, "ended_retention_ms": "1h", "orphan_timeout_ms": "1d",
        "shutdown_grace_ms": "500ms", "log_level": "debug",
        "gateway_upstream": "https://api.example.com:8443/", "gateway_key_file": "/srv/key",
        "gateway_key_header": "Authorization-Key", "gateway_ca_file": "/srv/ca.pem",
        "dns_servers": ["192.0.2.53", "[2001:db8::53]:5353"], "dns_timeout_ms": "2s"})");
    EXPECT_EQ(c.socket, "/srv/ccjail/api.sock");
    EXPECT_EQ(c.socket_mode, 0600u);
    EXPECT_EQ(c.socket_group, "web");
    EXPECT_THAT(c.client_groups, ElementsAre("web", "ci"));
    EXPECT_THAT(c.admin_groups, IsEmpty());
    EXPECT_THAT(c.client_uids, ElementsAre(1000u, 1001u));
    EXPECT_EQ(c.profiles_dir, "/srv/profiles");
    EXPECT_EQ(c.state_dir, "/srv/state");
    EXPECT_EQ(c.run_dir, "/srv/run");
    EXPECT_EQ(c.workspace_root, "/srv/ws");
    EXPECT_EQ(c.homes_root, "/srv/homes");
    EXPECT_EQ(c.cgroup_parent, "ccjail/jails");
    EXPECT_EQ(c.exec_path, "/opt/ccjail/ccjail-exec");
    EXPECT_EQ(c.max_sessions, 500u);
    EXPECT_EQ(c.max_sessions_per_uid, 100u);
    EXPECT_EQ(c.max_sessions_per_user, 8u);
    EXPECT_EQ(c.spawn_rate_per_user_per_min, 0u);
    EXPECT_EQ(c.spawn_burst_per_user, 3u);
    EXPECT_EQ(c.max_connections, 1000u);
    EXPECT_EQ(c.max_payload_bytes, 2u << 20);
    EXPECT_EQ(c.client_write_buffer_bytes, 131072u);
    EXPECT_EQ(c.hello_timeout_ms, milliseconds(250));
    EXPECT_EQ(c.request_timeout_ms, milliseconds(60000));
    EXPECT_EQ(c.spawn_timeout_ms, milliseconds(45000));
    EXPECT_EQ(c.kill_grace_ms, milliseconds(0));
    EXPECT_EQ(c.ended_retention_ms, milliseconds(3600000));
    EXPECT_EQ(c.orphan_timeout_ms, milliseconds(86400000));
    EXPECT_EQ(c.shutdown_grace_ms, milliseconds(500));
    EXPECT_EQ(c.log_level, "debug");
    EXPECT_EQ(c.gateway_upstream, "https://api.example.com:8443");
    EXPECT_EQ(c.gateway_key_file, "/srv/key");
    EXPECT_EQ(c.gateway_key_header, "Authorization-Key");
    EXPECT_EQ(c.gateway_ca_file, "/srv/ca.pem");
    EXPECT_THAT(c.dns_servers, ElementsAre("192.0.2.53", "[2001:db8::53]:5353"));
    EXPECT_EQ(c.dns_timeout_ms, milliseconds(2000));
    EXPECT_EQ(c.explicitly_set.size(), config_keys().size());
}

TEST_F(DaemonConfigTest, PrintedConfigHasEveryKeyAndLoadsBackTheSame) {
    DaemonConfig c = load(R"({"socket_mode": "0640", "client_uids": [7], "state_dir": "/x",
                              "max_payload_bytes": "128K", "kill_grace_ms": "2s",
                              "cgroup_parent": "/jails"})");
    const json printed = to_json(c);
    std::vector<std::string> printed_keys;
    for (const auto& item : printed.items()) {
        printed_keys.push_back(item.key());
    }
    std::vector<std::string> keys(config_keys().begin(), config_keys().end());
    std::sort(keys.begin(), keys.end());
    EXPECT_EQ(printed_keys, keys);
    EXPECT_EQ(printed["socket_mode"], "0640");
    EXPECT_EQ(printed["kill_grace_ms"], 2000);
    EXPECT_EQ(printed["max_payload_bytes"], 131072);
    EXPECT_EQ(printed["workspace_root"], "/x/workspaces");

    EXPECT_EQ(to_json(load(printed.dump())), printed);
}

TEST_F(DaemonConfigTest, RelativePathsInTheFileAreBelowItsDirectory) {
    const DaemonConfig c = load(R"({"profiles_dir": "profiles", "state_dir": "../state",
                                    "exec_path": "./bin/ccjail-exec"})");
    EXPECT_EQ(c.profiles_dir, dir_ / "profiles");
    EXPECT_EQ(c.state_dir, dir_.parent_path() / "state");
    EXPECT_EQ(c.exec_path, dir_ / "bin/ccjail-exec");
}

TEST_F(DaemonConfigTest, DurationsTakeIntegersOfMillisecondsOrTextWithAUnit) {
    EXPECT_EQ(load(R"({"kill_grace_ms": 1500})").kill_grace_ms, milliseconds(1500));
    EXPECT_EQ(load(R"({"kill_grace_ms": "10s"})").kill_grace_ms, milliseconds(10000));
    EXPECT_EQ(load(R"({"kill_grace_ms": "250ms"})").kill_grace_ms, milliseconds(250));
    // A bare number in a string would be seconds to parse_duration_ms: refused, not guessed.
    EXPECT_THAT(error_of(R"({"kill_grace_ms": "5000"})"), StartsWith(at("kill_grace_ms")));
    EXPECT_THAT(error_of(R"({"kill_grace_ms": 1.5})"), StartsWith(at("kill_grace_ms")));
    EXPECT_THAT(error_of(R"({"kill_grace_ms": "11m"})"),
                HasSubstr("expected a duration 0..600000 ms"));
}

TEST_F(DaemonConfigTest, SizesTakeBytesOrTextWithAUnit) {
    EXPECT_EQ(load(R"({"max_payload_bytes": 65536})").max_payload_bytes, 65536u);
    EXPECT_EQ(load(R"({"max_payload_bytes": "16M"})").max_payload_bytes, 16u << 20);
    EXPECT_EQ(error_of(R"({"max_payload_bytes": "17M"})"),
              at("max_payload_bytes") +
                  R"(expected a size 64K..16M (bytes, or text like "1M"), got "17M")");
    EXPECT_THAT(error_of(R"({"client_write_buffer_bytes": "lots"})"),
                StartsWith(at("client_write_buffer_bytes") + "expected a size"));
}

// ---- socket_mode ---------------------------------------------------------------------------

TEST_F(DaemonConfigTest, SocketModeIsAnOctalStringWithoutSpecialBits) {
    EXPECT_EQ(load(R"({"socket_mode": "0660"})").socket_mode, 0660u);
    EXPECT_EQ(load(R"({"socket_mode": "600"})").socket_mode, 0600u);
    EXPECT_EQ(load(R"({"socket_mode": "0777"})").socket_mode, 0777u);
    EXPECT_EQ(load(R"({"socket_mode": "0000"})").socket_mode, 0u);
    for (const char* bad : {R"("4660")", R"("1777")", R"("0800")", R"("06600")", R"("66")", R"("")",
                            R"("rw-rw----")", "660", "432", "null"}) {
        SCOPED_TRACE(bad);
        EXPECT_THAT(error_of(std::string(R"({"socket_mode": )") + bad + "}"),
                    StartsWith(at("socket_mode") + "expected an octal mode string"));
    }
}

// ---- errors name their key -----------------------------------------------------------------

TEST_F(DaemonConfigTest, ErrorMessageNamesFileKeyExpectationAndValue) {
    EXPECT_EQ(error_of(R"({"max_sessions": "x"})"),
              at("max_sessions") + R"(expected an integer 1..100000, got "x")");
    EXPECT_EQ(error_of(R"({"max_sessions": 0})"),
              at("max_sessions") + "expected an integer 1..100000, got 0");
}

TEST_F(DaemonConfigTest, EveryKindOfBadValueNamesItsKey) {
    const std::vector<std::pair<std::string, std::string>> cases = {
        {"socket", "42"},
        {"socket", R"("")"},
        {"socket", R"("/run/a\nb")"},
        {"socket_group", R"("a b")"},
        {"socket_group", "[]"},
        {"client_groups", R"("ccjail")"},
        {"client_groups", R"([""])"},
        {"admin_groups", R"(["ok", "a:b"])"},
        {"client_uids", R"([-1])"},
        {"client_uids", "[4294967295]"},
        {"client_uids", R"(["1000"])"},
        {"profiles_dir", "null"},
        {"state_dir", "{}"},
        {"run_dir", "true"},
        {"workspace_root", "[]"},
        {"homes_root", "1"},
        {"cgroup_parent", R"("../escape")"},
        {"cgroup_parent", R"("a/../../b")"},
        {"exec_path", R"("")"},
        {"max_sessions", "100001"},
        {"max_sessions_per_uid", "-1"},
        {"max_sessions_per_user", "2.5"},
        {"spawn_rate_per_user_per_min", "100001"},
        {"spawn_burst_per_user", "0"},
        {"max_connections", R"("256")"},
        {"max_payload_bytes", "1024"},
        {"client_write_buffer_bytes", R"("2G")"},
        {"hello_timeout_ms", "50"},
        {"request_timeout_ms", R"("2h")"},
        {"spawn_timeout_ms", "999"},
        {"kill_grace_ms", "-5"},
        {"ended_retention_ms", R"("8d")"},
        {"orphan_timeout_ms", "0"},
        {"shutdown_grace_ms", R"("5 s")"},
        {"log_level", R"("verbose")"},
        {"log_level", R"("INFO")"},
    };
    for (const auto& [key, value] : cases) {
        SCOPED_TRACE(key + " = " + value);
        EXPECT_THAT(error_of("{\"" + key + "\": " + value + "}"), StartsWith(at(key) + "expected"));
    }
}

TEST_F(DaemonConfigTest, UnknownKeyIsAnErrorWithASuggestion) {
    EXPECT_EQ(error_of(R"({"max_sesions": 3})"),
              at("max_sesions") + "unknown key (did you mean max_sessions?)");
    EXPECT_EQ(error_of(R"({"kill-grace-ms": 3})"),
              at("kill-grace-ms") + "unknown key (did you mean kill_grace_ms?)");
    EXPECT_EQ(error_of(R"({"listen": "/tmp/x"})"), at("listen") + "unknown key");
}

TEST_F(DaemonConfigTest, DocumentMustBeOneJsonObjectWithoutDuplicates) {
    const std::string prefix = file_.string() + ": ";
    EXPECT_EQ(error_of("[]"), prefix + "expected a JSON object of keys, got array");
    EXPECT_EQ(error_of(R"("socket")"), prefix + "expected a JSON object of keys, got string");
    EXPECT_EQ(error_of("42"), prefix + "expected a JSON object of keys, got number");
    EXPECT_EQ(error_of("null"), prefix + "expected a JSON object of keys, got null");
    EXPECT_THAT(error_of(""), StartsWith(prefix + "invalid JSON: "));
    EXPECT_THAT(error_of(R"({"max_sessions": 3,})"), StartsWith(prefix + "invalid JSON: "));
    EXPECT_THAT(error_of("{} {}"), StartsWith(prefix + "invalid JSON: "));
    EXPECT_EQ(error_of(R"({"max_sessions": 3, "max_sessions": 4})"),
              prefix + "max_sessions: key given twice");
}

TEST_F(DaemonConfigTest, MissingExplicitFileIsAnError) {
    EXPECT_EQ(error_loading(dir_ / "absent.json", true),
              (dir_ / "absent.json").string() + ": cannot open: No such file or directory");
}

TEST_F(DaemonConfigTest, DefaultFileThatExistsIsRead) {
    write(R"({"max_sessions": 7})");
    EXPECT_EQ(load_daemon_config(file_, false).max_sessions, 7u);
    write(R"({"max_sessions": 0})");
    EXPECT_THAT(error_loading(file_, false), StartsWith(at("max_sessions")));
}

TEST_F(DaemonConfigTest, DirectoryIsNotAConfigFile) {
    EXPECT_EQ(error_loading(dir_, false), dir_.string() + ": not a regular file");
}

TEST_F(DaemonConfigTest, RootRefusesAFileOthersCanWrite) {
    if (::geteuid() != 0) {
        GTEST_SKIP() << "the ownership check applies only when running as root";
    }
    write("{}");
    ASSERT_EQ(::chmod(file_.c_str(), 0664), 0);
    EXPECT_THAT(error_loading(file_), StartsWith(file_.string() + ": writable by group or others"));
    ASSERT_EQ(::chmod(file_.c_str(), 0644), 0);
    ASSERT_EQ(::chown(file_.c_str(), 65534, 0), 0);
    EXPECT_THAT(error_loading(file_), StartsWith(file_.string() + ": owned by uid 65534"));
}

// ---- flags ---------------------------------------------------------------------------------

TEST_F(DaemonConfigTest, FlagsOverrideTheFile) {
    DaemonConfig c = load(R"({"max_sessions": 10, "log_level": "warn", "kill_grace_ms": 100})");
    const ConfigOverrides o =
        flags({"--max-sessions", "20", "--kill-grace-ms", "2s", "--socket-mode", "0600",
               "--client-groups", "a,b", "--admin-groups", "", "--client-uids", "5,6",
               "--max-payload-bytes", "128K", "--cgroup-parent", "jails"});
    apply_overrides(c, o);
    EXPECT_EQ(c.max_sessions, 20u);
    EXPECT_EQ(c.log_level, "warn");
    EXPECT_EQ(c.kill_grace_ms, milliseconds(2000));
    EXPECT_EQ(c.socket_mode, 0600u);
    EXPECT_THAT(c.client_groups, ElementsAre("a", "b"));
    EXPECT_THAT(c.admin_groups, IsEmpty());
    EXPECT_THAT(c.client_uids, ElementsAre(5u, 6u));
    EXPECT_EQ(c.max_payload_bytes, 128u << 10);
    EXPECT_EQ(c.cgroup_parent, "jails");
}

TEST_F(DaemonConfigTest, EveryKeyHasAFlagOfItsName) {
    for (std::string_view key : config_keys()) {
        std::string flag = "--" + std::string(key);
        std::replace(flag.begin(), flag.end(), '_', '-');
        SCOPED_TRACE(flag);
        // A value no key accepts: the error proves the flag exists and checks its value.
        EXPECT_THAT(flag_error({flag, "\x01"}), StartsWith(flag + ": expected"));
    }
}

TEST_F(DaemonConfigTest, BadFlagValueNamesTheFlag) {
    EXPECT_EQ(flag_error({"--max-sessions", "x"}),
              R"(--max-sessions: expected an integer 1..100000, got "x")");
    EXPECT_THAT(flag_error({"--socket-mode", "4755"}),
                StartsWith("--socket-mode: expected an octal mode string"));
    EXPECT_THAT(flag_error({"--client-uids", "1000,x"}), StartsWith("--client-uids: expected"));
    EXPECT_THAT(flag_error({"--kill-grace-ms", "forever"}),
                StartsWith("--kill-grace-ms: expected a duration"));
    EXPECT_THAT(flag_error({"--config", ""}), StartsWith("--config: expected a path"));
}

TEST_F(DaemonConfigTest, ConfigFlagNamesTheFileToRead) {
    EXPECT_EQ(flags({}).config_path(), kDefaultConfigPath);
    EXPECT_FALSE(flags({}).config_was_given());
    const ConfigOverrides o = flags({"--config", file_.string()});
    EXPECT_TRUE(o.config_was_given());
    EXPECT_EQ(o.config_path(), file_);
}

TEST_F(DaemonConfigTest, RelativeFlagPathsAreMadeAbsoluteAgainstTheCurrentDirectory) {
    DaemonConfig c = load_daemon_config(dir_ / "absent.json", false);
    apply_overrides(c, flags({"--profiles-dir", "profiles", "--exec-path", "build/ccjail-exec",
                              "--run-dir", "./r"}));
    const fs::path cwd = fs::current_path();
    EXPECT_EQ(c.profiles_dir, cwd / "profiles");
    EXPECT_EQ(c.exec_path, cwd / "build/ccjail-exec");
    EXPECT_EQ(c.run_dir, cwd / "r");
    // The socket follows run_dir when nobody set it.
    EXPECT_EQ(c.socket, cwd / "r/ccjaild.sock");
}

// ---- derived paths -------------------------------------------------------------------------

TEST_F(DaemonConfigTest, StateDirInTheFileMovesWorkspacesAndHomesOnly) {
    const DaemonConfig c = load(R"({"state_dir": "/srv/ccjail"})");
    EXPECT_EQ(c.workspace_root, "/srv/ccjail/workspaces");
    EXPECT_EQ(c.homes_root, "/srv/ccjail/homes");
    EXPECT_EQ(c.run_dir, "/run/ccjail");
    EXPECT_EQ(c.socket, "/run/ccjail/ccjaild.sock");
}

TEST_F(DaemonConfigTest, KeysSetInTheFileAreNotDerived) {
    const DaemonConfig c = load(R"({"state_dir": "/srv/ccjail", "homes_root": "/home/jails",
                                    "run_dir": "/run/x", "socket": "/run/api.sock"})");
    EXPECT_EQ(c.workspace_root, "/srv/ccjail/workspaces");
    EXPECT_EQ(c.homes_root, "/home/jails");
    EXPECT_EQ(c.socket, "/run/api.sock");
    EXPECT_EQ(load(R"({"run_dir": "/run/x"})").socket, "/run/x/ccjaild.sock");
}

TEST_F(DaemonConfigTest, StateDirFlagMovesEverythingWrittenBelowIt) {
    // Even over a file that names the system's directories.
    DaemonConfig c = load(R"({"run_dir": "/run/ccjail", "workspace_root": "/var/lib/ccjail/ws",
                              "socket": "/run/ccjail/ccjaild.sock"})");
    apply_overrides(c, flags({"--state-dir", "/tmp/st"}));
    EXPECT_EQ(c.state_dir, "/tmp/st");
    EXPECT_EQ(c.run_dir, "/tmp/st/run");
    EXPECT_EQ(c.sessions_dir(), "/tmp/st/run/sessions");
    EXPECT_EQ(c.workspace_root, "/tmp/st/workspaces");
    EXPECT_EQ(c.homes_root, "/tmp/st/homes");
    EXPECT_EQ(c.socket, "/tmp/st/run/ccjaild.sock");
}

TEST_F(DaemonConfigTest, FlagsGivenWithStateDirWin) {
    DaemonConfig c = load_daemon_config(dir_ / "absent.json", false);
    apply_overrides(
        c, flags({"--state-dir", "/tmp/st", "--run-dir", "/tmp/r", "--homes-root", "/tmp/h"}));
    EXPECT_EQ(c.run_dir, "/tmp/r");
    EXPECT_EQ(c.homes_root, "/tmp/h");
    EXPECT_EQ(c.workspace_root, "/tmp/st/workspaces");
    EXPECT_EQ(c.socket, "/tmp/r/ccjaild.sock");
}

TEST_F(DaemonConfigTest, RepoLocalCommandLineWritesNothingIntoRunOrVarLib) {
    DaemonConfig c = load_daemon_config(dir_ / "absent.json", false);
    apply_overrides(c, flags({"--profiles-dir", "profiles", "--socket", "run/ccjaild.sock",
                              "--state-dir", "run/state"}));
    const fs::path cwd = fs::current_path();
    EXPECT_EQ(c.socket, cwd / "run/ccjaild.sock");
    EXPECT_EQ(c.profiles_dir, cwd / "profiles");
    EXPECT_EQ(c.state_dir, cwd / "run/state");
    EXPECT_EQ(c.run_dir, cwd / "run/state/run");
    EXPECT_EQ(c.workspace_root, cwd / "run/state/workspaces");
    EXPECT_EQ(c.homes_root, cwd / "run/state/homes");
    for (const fs::path& written :
         {c.socket, c.state_dir, c.run_dir, c.workspace_root, c.homes_root, c.sessions_dir()}) {
        EXPECT_THAT(written.string(), StartsWith(cwd.string())) << written;
    }
}

// ---- docs/operations.md ------------------------------------------------------------------

std::string operations_doc() {
    std::ifstream in(fs::path(CCJAIL_SOURCE_DIR) / "docs/operations.md");
    return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

TEST_F(DaemonConfigTest, OperationsDocTabulatesEveryKey) {
    const std::string doc = operations_doc();
    ASSERT_FALSE(doc.empty());
    for (std::string_view key : config_keys()) {
        EXPECT_THAT(doc, HasSubstr("| `" + std::string(key) + "` |")) << key;
    }
}

TEST_F(DaemonConfigTest, OperationsDocDefaultFileIsTheDefaults) {
    const std::string doc = operations_doc();
    const auto start = doc.find("```json\n");
    ASSERT_NE(start, std::string::npos);
    const auto end = doc.find("```", start + 8);
    ASSERT_NE(end, std::string::npos);
    json documented = to_json(load(doc.substr(start + 8, end - start - 8)));
    json defaults = to_json(load_daemon_config(dir_ / "absent.json", false));
    EXPECT_EQ(documented, defaults);
}

}  // namespace
}  // namespace ccjail::server

namespace ccjail::server {
namespace {

class DaemonConfigEgressTest : public DaemonConfigTest {};

TEST_F(DaemonConfigEgressTest, GatewayUpstreamIsHttpsHostAndPortOnly) {
    for (const char* bad : {"http://api.example.com", "https://", "https://a.com/v1",
                            "https://user@a.com", "https://a.com?x", "api.example.com", ""}) {
        EXPECT_THAT(error_of(json{{"gateway_upstream", bad}}.dump()),
                    HasSubstr("gateway_upstream: expected an https://host[:port] URL"))
            << bad;
    }
    EXPECT_EQ(load(R"({"gateway_upstream": "https://[::1]:8443"})").gateway_upstream,
              "https://[::1]:8443");
}

TEST_F(DaemonConfigEgressTest, KeyHeaderCaFileAndResolversAreChecked) {
    EXPECT_THAT(error_of(R"({"gateway_key_header": "x-api-key: injected"})"),
                HasSubstr("gateway_key_header: expected an HTTP header name"));
    EXPECT_THAT(error_of(R"({"gateway_ca_file": "relative.pem"})"),
                HasSubstr("gateway_ca_file: expected an absolute path"));
    EXPECT_EQ(load(R"({"gateway_ca_file": ""})").gateway_ca_file, "");
    for (const char* bad :
         {"dns.example.com", "192.0.2.1:0", "192.0.2.1:70000", "[::1]:", "1.2.3.4:53x", "[::1"}) {
        EXPECT_THAT(error_of(json{{"dns_servers", {bad}}}.dump()),
                    HasSubstr("dns_servers: expected an array of resolver addresses"))
            << bad;
    }
    EXPECT_THAT(load(R"({"dns_servers": ["::1", "[::1]", "127.0.0.1:5353"]})").dns_servers,
                ElementsAre("::1", "[::1]", "127.0.0.1:5353"));
}

}  // namespace
}  // namespace ccjail::server

namespace ccjail::server {
namespace {

// Regression: nlohmann throws out_of_range, not parse_error, for a number past double's range.
TEST(DaemonConfigNumbers, ANumberBeyondDoubleIsAConfigErrorNamingTheFile) {
    char pattern[] = "/tmp/ccjail-config-XXXXXX";
    ASSERT_NE(::mkdtemp(pattern), nullptr);
    const std::filesystem::path file = std::filesystem::path(pattern) / "ccjaild.json";
    std::ofstream(file) << R"({"max_sessions": 1e999})";
    std::string message;
    try {
        load_daemon_config(file, true);
    } catch (const ConfigError& error) {
        message = error.what();
    }
    std::filesystem::remove_all(pattern);
    EXPECT_THAT(message, ::testing::HasSubstr("invalid JSON")) << message;
}

}  // namespace
}  // namespace ccjail::server
