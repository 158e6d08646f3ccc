// The shape checks of a `spawn` request and the lowering of a profile's limits: each rule's
// rejection names its field as a JSON pointer, and hostile sizes are refused before any work.
#include <gtest/gtest.h>

#include <chrono>
#include <string>

#include <nlohmann/json.hpp>

#include "protocol/error_code.hpp"
#include "protocol/spawn_request.hpp"

namespace ccjail::protocol {
namespace {

using nlohmann::json;

json minimal() {
    return json{{"profile", "claude"}, {"user", "alice"}};
}

json with(json body, const std::string& key, json value) {
    body[key] = std::move(value);
    return body;
}

// The message of the ProtocolError `body` is refused with; fails the test on anything else.
std::string refusal(const json& body) {
    try {
        parse_spawn_request(body);
    } catch (const ProtocolError& e) {
        EXPECT_EQ(e.code(), ErrorCode::bad_request);
        return e.what();
    }
    ADD_FAILURE() << "accepted: " << body.dump().substr(0, 200);
    return "";
}

std::string raise_refusal(const Limits& profile, const SpawnLimits& asked) {
    try {
        apply_requested_limits(profile, asked);
    } catch (const ProtocolError& e) {
        EXPECT_EQ(e.code(), ErrorCode::bad_request);
        return e.what();
    }
    ADD_FAILURE() << "raise accepted";
    return "";
}

bool starts_with(const std::string& text, const std::string& prefix) {
    return text.rfind(prefix, 0) == 0;
}

TEST(SpawnRequest, FullValidRequestParses) {
    const json body = json::parse(R"({
        "profile": "claude-code.v2", "argv": ["claude", "-p", "line one\nline two"],
        "workspace": "alice/project", "cwd": "src", "user": "alice",
        "env": {"TERM": "xterm-256color", "_X1": ""}, "mode": "pipe", "cols": 132, "rows": 50,
        "limits": {"memory": "512M", "cpus": 0.5, "pids": 64, "wall_time": "15m",
                   "cpu_time": 120, "output_rate": 65536, "output_total": "1G"}})");
    const SpawnRequest r = parse_spawn_request(body);
    EXPECT_EQ(r.profile, "claude-code.v2");
    EXPECT_EQ(r.argv, (std::vector<std::string>{"claude", "-p", "line one\nline two"}));
    EXPECT_EQ(r.workspace, "alice/project");
    EXPECT_EQ(r.cwd, "src");
    EXPECT_EQ(r.user, "alice");
    EXPECT_EQ(r.env, (std::map<std::string, std::string>{{"TERM", "xterm-256color"}, {"_X1", ""}}));
    EXPECT_EQ(r.mode, SpawnMode::pipe);
    EXPECT_EQ(r.cols, 132);
    EXPECT_EQ(r.rows, 50);
    EXPECT_EQ(r.limits.memory_bytes, 512ull << 20);
    EXPECT_EQ(r.limits.cpus, 0.5);
    EXPECT_EQ(r.limits.pids, 64u);
    EXPECT_EQ(r.limits.wall_time_ms, 15u * 60 * 1000);
    EXPECT_EQ(r.limits.cpu_time_ms, 120'000u);
    EXPECT_EQ(r.limits.output_rate_bytes, 65536u);
    EXPECT_EQ(r.limits.output_total_bytes, 1ull << 30);
}

TEST(SpawnRequest, MinimalRequestTakesDefaults) {
    const SpawnRequest r = parse_spawn_request(minimal());
    EXPECT_TRUE(r.argv.empty());
    EXPECT_FALSE(r.workspace);
    EXPECT_FALSE(r.cwd);
    EXPECT_TRUE(r.env.empty());
    EXPECT_EQ(r.mode, SpawnMode::pty);
    EXPECT_EQ(r.cols, 80);
    EXPECT_EQ(r.rows, 24);
    EXPECT_FALSE(r.limits.memory_bytes);
    EXPECT_FALSE(r.limits.cpus);
}

TEST(SpawnRequest, BodyMustBeAnObject) {
    EXPECT_EQ(refusal(json::array()), ": expected an object, got array");
}

TEST(SpawnRequest, UnknownFieldIsNamed) {
    EXPECT_EQ(refusal(with(minimal(), "shell", true)), "/shell: unknown field");
    EXPECT_EQ(refusal(with(minimal(), "a/b~c", 1)), "/a~1b~0c: unknown field");
}

TEST(SpawnRequest, RequiredFields) {
    json body = minimal();
    body.erase("user");
    EXPECT_EQ(refusal(body), "/user: is required");
    body = minimal();
    body.erase("profile");
    EXPECT_EQ(refusal(body), "/profile: is required");
}

TEST(SpawnRequest, TypesAreStrict) {
    EXPECT_EQ(refusal(with(minimal(), "profile", 7)), "/profile: expected a string, got number");
    EXPECT_EQ(refusal(with(minimal(), "argv", "ls -l")),
              "/argv: expected an array of strings, got string");
    EXPECT_EQ(refusal(with(minimal(), "argv", json::array({"ls", 1}))),
              "/argv/1: expected a string, got number");
    EXPECT_EQ(refusal(with(minimal(), "env", json::array())),
              "/env: expected an object of strings, got array");
    EXPECT_EQ(refusal(with(minimal(), "cols", "80")), "/cols: expected an integer, got string");
    EXPECT_EQ(refusal(with(minimal(), "rows", 24.0)), "/rows: expected an integer, got number");
    EXPECT_EQ(refusal(with(minimal(), "cwd", nullptr)), "/cwd: expected a string, got null");
    EXPECT_EQ(refusal(with(minimal(), "limits", "small")),
              "/limits: expected an object, got string");
}

TEST(SpawnRequest, ProfileNamesThatWouldBePathsAreRefused) {
    for (const char* name : {"../etc/passwd", "/etc/shadow", "sub/claude", "claude.json", "..",
                             ".hidden", "Claude", "", "-x"}) {
        EXPECT_TRUE(starts_with(refusal(with(minimal(), "profile", name)),
                                "/profile: must be a plain name"))
            << name;
    }
    EXPECT_TRUE(starts_with(refusal(with(minimal(), "profile", std::string(65, 'a'))),
                            "/profile: must be a plain name"));
    EXPECT_EQ(parse_spawn_request(with(minimal(), "profile", std::string(64, 'a'))).profile,
              std::string(64, 'a'));
    EXPECT_EQ(parse_spawn_request(with(minimal(), "profile", "a..b")).profile, "a..b");
}

TEST(SpawnRequest, UserLabelRule) {
    for (const char* label : {"Alice", "", "_x", "a/b", "a b"}) {
        EXPECT_EQ(refusal(with(minimal(), "user", label)),
                  "/user: must match ^[a-z0-9][a-z0-9._-]{0,63}$")
            << label;
    }
    EXPECT_EQ(parse_spawn_request(with(minimal(), "user", "bob.smith-2")).user, "bob.smith-2");
}

TEST(SpawnRequest, ArgvNulIsRefusedOtherControlsLeftToProfile) {
    json argv = json::array({"a", "b", "c", std::string("x\0y", 3)});
    EXPECT_EQ(refusal(with(minimal(), "argv", argv)), "/argv/3: contains NUL");
    const SpawnRequest r =
        parse_spawn_request(with(minimal(), "argv", json::array({"a\tb", "\x1b[2J"})));
    EXPECT_EQ(r.argv[1], "\x1b[2J");
}

TEST(SpawnRequest, ArgvEntryCountBound) {
    EXPECT_EQ(
        parse_spawn_request(with(minimal(), "argv", json(std::vector<std::string>(4096, "x"))))
            .argv.size(),
        4096u);
    EXPECT_EQ(refusal(with(minimal(), "argv", json(std::vector<std::string>(4097, "x")))),
              "/argv: 4097 entries, at most 4096");
}

TEST(SpawnRequest, ArgvOneArgumentBound) {
    json argv = json::array({"ok", std::string(128 * 1024 + 1, 'a')});
    EXPECT_EQ(refusal(with(minimal(), "argv", argv)), "/argv/1: 131073 bytes, at most 131072");
    argv[1] = std::string(128 * 1024, 'a');
    EXPECT_NO_THROW(parse_spawn_request(with(minimal(), "argv", argv)));
}

TEST(SpawnRequest, ArgvTotalBound) {
    // Eight arguments of 128 KiB fill the 1 MiB exactly; one more byte is too many.
    json argv(std::vector<std::string>(8, std::string(128 * 1024, 'a')));
    EXPECT_NO_THROW(parse_spawn_request(with(minimal(), "argv", argv)));
    argv.push_back("b");
    EXPECT_EQ(refusal(with(minimal(), "argv", argv)), "/argv: more than 1048576 bytes in all");
}

TEST(SpawnRequest, HugeArgvIsRefusedBeforeItsEntriesAreRead) {
    json argv(std::vector<std::string>(100'000, "x"));
    argv[5000] = 1;  // would be the message if entries were looked at before the count
    const json body = with(minimal(), "argv", std::move(argv));
    const auto start = std::chrono::steady_clock::now();
    EXPECT_EQ(refusal(body), "/argv: 100000 entries, at most 4096");
    EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(200));
}

TEST(SpawnRequest, HugeEnvIsRefusedBeforeItsEntriesAreRead) {
    json env = json::object();
    for (int i = 0; i < 10'000; ++i) {
        env["V" + std::to_string(i)] = "x";
    }
    env["0bad"] = "x";  // sorts first: the message if entries were looked at before the count
    const json body = with(minimal(), "env", std::move(env));
    const auto start = std::chrono::steady_clock::now();
    EXPECT_EQ(refusal(body), "/env: 10001 entries, at most 256");
    EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(200));
}

TEST(SpawnRequest, DeeplyNestedValueIsRefusedByItsType) {
    json deep = json::array();
    for (int i = 0; i < 10'000; ++i) {
        deep = json::array({std::move(deep)});
    }
    EXPECT_EQ(refusal(with(minimal(), "cwd", std::move(deep))),
              "/cwd: expected a string, got array");
}

TEST(SpawnRequest, WorkspaceAndCwdRefuseControlCharacters) {
    EXPECT_EQ(refusal(with(minimal(), "workspace", std::string("a\0b", 3))),
              "/workspace: contains NUL");
    EXPECT_EQ(refusal(with(minimal(), "cwd", "src\n")), "/cwd: contains a control character");
    EXPECT_EQ(refusal(with(minimal(), "workspace", "x\x1b")),
              "/workspace: contains a control character");
    EXPECT_EQ(refusal(with(minimal(), "cwd", "")), "/cwd: must not be empty");
}

TEST(SpawnRequest, WorkspaceAndCwdLengthBound) {
    EXPECT_EQ(refusal(with(minimal(), "workspace", std::string(4097, 'w'))),
              "/workspace: 4097 bytes, at most 4096");
    EXPECT_EQ(refusal(with(minimal(), "cwd", std::string(4097, 'c'))),
              "/cwd: 4097 bytes, at most 4096");
    EXPECT_EQ(parse_spawn_request(with(minimal(), "cwd", std::string(4096, 'c'))).cwd->size(),
              4096u);
}

TEST(SpawnRequest, EnvNamesMustBeIdentifiers) {
    for (const char* name : {"1X", "A-B", "A=B", ""}) {
        EXPECT_EQ(refusal(with(minimal(), "env", json{{name, "v"}})),
                  "/env/" + std::string(name) + ": name must match ^[A-Za-z_][A-Za-z0-9_]*$")
            << name;
    }
    EXPECT_EQ(refusal(with(minimal(), "env", json{{"A/B", "v"}})),
              "/env/A~1B: name must match ^[A-Za-z_][A-Za-z0-9_]*$");
}

TEST(SpawnRequest, EnvNameLengthBound) {
    const std::string name(257, 'N');
    EXPECT_EQ(refusal(with(minimal(), "env", json{{name, "v"}})),
              "/env/" + std::string(64, 'N') + "...: 257 bytes in the name, at most 256");
    EXPECT_NO_THROW(
        parse_spawn_request(with(minimal(), "env", json{{std::string(256, 'N'), "v"}})));
}

TEST(SpawnRequest, EnvValues) {
    EXPECT_EQ(refusal(with(minimal(), "env", json{{"LANG", std::string("C\0", 2)}})),
              "/env/LANG: contains NUL");
    EXPECT_EQ(refusal(with(minimal(), "env", json{{"LANG", 1}})),
              "/env/LANG: expected a string, got number");
    EXPECT_EQ(refusal(with(minimal(), "env", json{{"BIG", std::string(32 * 1024 + 1, 'v')}})),
              "/env/BIG: 32769 bytes, at most 32768");
    EXPECT_NO_THROW(
        parse_spawn_request(with(minimal(), "env", json{{"BIG", std::string(32 * 1024, 'v')}})));
}

TEST(SpawnRequest, EnvEntryCountBound) {
    json env = json::object();
    for (int i = 0; i < 256; ++i) {
        env["V" + std::to_string(i)] = "x";
    }
    EXPECT_EQ(parse_spawn_request(with(minimal(), "env", env)).env.size(), 256u);
    env["EXTRA"] = "x";
    EXPECT_EQ(refusal(with(minimal(), "env", env)), "/env: 257 entries, at most 256");
}

TEST(SpawnRequest, ModeIsPtyOrPipe) {
    EXPECT_EQ(parse_spawn_request(with(minimal(), "mode", "pty")).mode, SpawnMode::pty);
    EXPECT_EQ(refusal(with(minimal(), "mode", "PTY")), "/mode: must be \"pty\" or \"pipe\"");
}

TEST(SpawnRequest, TerminalSizeRange) {
    EXPECT_EQ(refusal(with(minimal(), "cols", 0)), "/cols: must be between 1 and 1000");
    EXPECT_EQ(refusal(with(minimal(), "rows", 1001)), "/rows: must be between 1 and 1000");
    EXPECT_EQ(refusal(with(minimal(), "cols", -5)), "/cols: must not be negative");
    EXPECT_EQ(refusal(json::parse(R"({"profile":"p","user":"u","rows":18446744073709551615})")),
              "/rows: must be between 1 and 1000");
    const SpawnRequest r = parse_spawn_request(with(with(minimal(), "cols", 1000), "rows", 1));
    EXPECT_EQ(r.cols, 1000);
    EXPECT_EQ(r.rows, 1);
}

TEST(SpawnRequest, UnknownLimitIsRefused) {
    EXPECT_TRUE(starts_with(refusal(with(minimal(), "limits", json{{"swap", "1G"}})),
                            "/limits/swap: unknown limit"));
}

TEST(SpawnRequest, LimitValueForms) {
    const auto limits = [](json l) {
        return parse_spawn_request(with(minimal(), "limits", std::move(l))).limits;
    };
    EXPECT_EQ(limits({{"memory", 1048576}}).memory_bytes, 1048576u);
    EXPECT_EQ(limits({{"memory", "64k"}}).memory_bytes, 65536u);
    EXPECT_EQ(limits({{"wall_time", "500ms"}}).wall_time_ms, 500u);
    EXPECT_EQ(limits({{"cpu_time", 30}}).cpu_time_ms, 30'000u);
    EXPECT_EQ(limits({{"cpus", 2}}).cpus, 2.0);
}

TEST(SpawnRequest, LimitValueRejections) {
    const auto why = [](json l) { return refusal(with(minimal(), "limits", std::move(l))); };
    EXPECT_TRUE(starts_with(why({{"memory", "lots"}}), "/limits/memory: expected a size like"));
    EXPECT_EQ(why({{"memory", 0}}), "/limits/memory: must be greater than 0");
    EXPECT_EQ(why({{"memory", -1}}), "/limits/memory: must not be negative");
    EXPECT_EQ(why({{"memory", true}}),
              "/limits/memory: expected a size like \"512M\" or bytes, got boolean");
    EXPECT_EQ(why({{"wall_time", 1.5}}),
              "/limits/wall_time: expected a duration like \"30s\" or seconds, got number");
    EXPECT_EQ(why({{"cpus", 0}}), "/limits/cpus: must be a number greater than 0");
    EXPECT_EQ(why({{"cpus", "2"}}), "/limits/cpus: expected a number, got string");
    EXPECT_EQ(why({{"pids", 0}}), "/limits/pids: must be greater than 0");
    EXPECT_EQ(why({{"pids", 1.5}}), "/limits/pids: expected an integer, got number");
    EXPECT_TRUE(
        starts_with(why({{"wall_time", "10 years"}}), "/limits/wall_time: expected a duration"));
    EXPECT_EQ(why({{"cpu_time", 18446744073709552ull}}), "/limits/cpu_time: duration too large");
    EXPECT_TRUE(
        starts_with(why({{"output_total", "1Q"}}), "/limits/output_total: expected a size"));
}

TEST(SpawnRequest, LoweringLimitsIsAccepted) {
    Limits profile;
    profile.memory_bytes = 1ull << 30;
    profile.cpus = 2.0;
    profile.pids = 256;
    SpawnLimits asked;
    asked.memory_bytes = 512ull << 20;
    asked.cpus = 0.5;
    asked.pids = 256;  // equal is not a raise
    asked.wall_time_ms = 60'000;
    asked.cpu_time_ms = 1000;
    asked.output_rate_bytes = 1024;
    asked.output_total_bytes = 4096;
    const Limits merged = apply_requested_limits(profile, asked);
    EXPECT_EQ(merged.memory_bytes, 512ull << 20);
    EXPECT_EQ(merged.cpus, 0.5);
    EXPECT_EQ(merged.pids, 256u);
    EXPECT_EQ(merged.wall_time_ms, 60'000u);
    EXPECT_EQ(merged.cpu_time_ms, 1000u);
    EXPECT_EQ(merged.output_rate_bytes, 1024u);
    EXPECT_EQ(merged.output_total_bytes, 4096u);
}

TEST(SpawnRequest, AbsentLimitsKeepTheProfiles) {
    Limits profile;
    profile.memory_bytes = 3ull << 20;
    profile.cpus = 1.5;
    profile.pids = 7;
    profile.swap_bytes = 9;
    const Limits merged = apply_requested_limits(profile, SpawnLimits{});
    EXPECT_EQ(merged.memory_bytes, 3ull << 20);
    EXPECT_EQ(merged.cpus, 1.5);
    EXPECT_EQ(merged.pids, 7u);
    EXPECT_EQ(merged.swap_bytes, 9u);
    EXPECT_EQ(merged.wall_time_ms, profile.wall_time_ms);
}

TEST(SpawnRequest, RaisingLimitsIsRefusedNamingTheField) {
    Limits profile;
    profile.memory_bytes = 1ull << 30;
    profile.cpus = 1.0;
    profile.pids = 256;
    profile.wall_time_ms = 3'600'000;
    profile.output_rate_bytes = 1ull << 20;
    SpawnLimits asked;
    asked.memory_bytes = 2ull << 30;
    EXPECT_EQ(raise_refusal(profile, asked),
              "/limits/memory: may only lower the profile's 1G, asked for 2G");
    asked = {};
    asked.cpus = 1.5;
    EXPECT_EQ(raise_refusal(profile, asked),
              "/limits/cpus: may only lower the profile's 1, asked for 1.5");
    asked = {};
    asked.pids = 257;
    EXPECT_EQ(raise_refusal(profile, asked),
              "/limits/pids: may only lower the profile's 256, asked for 257");
    asked = {};
    asked.wall_time_ms = 3'601'000;
    EXPECT_EQ(raise_refusal(profile, asked),
              "/limits/wall_time: may only lower the profile's 1h, asked for 3601s");
    asked = {};
    asked.output_rate_bytes = (1ull << 20) + 1;
    EXPECT_EQ(raise_refusal(profile, asked),
              "/limits/output_rate: may only lower the profile's 1M, asked for 1048577");
}

TEST(SpawnRequest, ParsedLimitsFeedTheMerge) {
    const SpawnRequest r =
        parse_spawn_request(with(minimal(), "limits", json{{"memory", "2G"}, {"cpu_time", "90m"}}));
    Limits profile;
    profile.memory_bytes = 4ull << 30;
    profile.cpu_time_ms = 3'600'000;
    EXPECT_EQ(raise_refusal(profile, r.limits),
              "/limits/cpu_time: may only lower the profile's 1h, asked for 90m");
}

}  // namespace
}  // namespace ccjail::protocol
