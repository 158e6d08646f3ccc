// The Api class of the attack battery (docs/security.md): a hostile peer on the daemon's socket
// (a uid the daemon does not serve, a client that sends broken or enormous frames, requests
// that try to smuggle loader variables, argv or a cwd out of the workspace). Each attack must
// be refused with its documented code, spawn nothing, and leave the daemon serving others.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <sys/stat.h>
#include <unistd.h>

#include <map>
#include <sstream>
#include <thread>

#include "security_harness.hpp"

namespace ccjail::sectest {
namespace {

using protocol::Frame;
using protocol::FrameType;
using ::testing::HasSubstr;
using ::testing::Not;

// Spawns as seen in the daemon's audit log.
std::size_t started_spawns(const Daemon& daemon) {
    return daemon.events("spawn_started").size();
}

// A session that must keep running through every attack: `cat`, echoing what it gets.
struct Keeper {
    std::unique_ptr<client::Client> client;
    std::unique_ptr<Reader> reader;
    Spawned spawned;
    int pings = 0;

    // The session still echoes a fresh line.
    bool echoes() {
        const std::string marker = "keeper-" + std::to_string(++pings) + "\n";
        client->send_input(spawned.channel, marker);
        return reader->until_out_contains(spawned.channel, marker, 10s) &&
               reader->channel(spawned.channel).exit_report.is_null();
    }
};

Keeper start_keeper(Daemon& daemon) {
    Keeper keeper;
    keeper.client = std::make_unique<client::Client>(daemon.connect("keeper"));
    keeper.reader = std::make_unique<Reader>(*keeper.client);
    keeper.spawned = spawn(*keeper.client, *keeper.reader,
                           spawn_body("sec-attack", "keeper", {"/bin/cat"}), 1 << 16);
    return keeper;
}

// Sends `bytes` on a fresh connection that said hello; the connection-level error code the
// daemon sent ("" when none) and whether it closed within 5 s.
std::pair<std::string, bool> send_hostile(Daemon& daemon, const std::string& bytes) {
    auto c = daemon.connect("hostile");
    Reader reader(c);
    try {
        c.send_raw(bytes);
    } catch (const client::ConnectionError&) {
        // Closed while writing: the daemon refused the header before the payload.
    }
    reader.until([&] { return reader.closed(); }, 5s);
    std::string code;
    for (const auto& event : reader.connection_events()) {
        if (event.value("event", "") == "error") {
            code = error_event_code(event);
        }
    }
    return {code, reader.closed()};
}

std::string spawn_code(Daemon& daemon, const json& body) {
    auto c = daemon.connect("spawner");
    return error_code_of(c, body);
}

// "Only allowed uids reach the API; a refused peer is told `forbidden`, audited and
// disconnected": even a stranger that pipelines hello and a spawn before reading, and the uid
// a jail runs as, get `forbidden`, and nothing is spawned.
TEST_F(Api, AForeignUidIsRefusedBeforeAnySpawnAndAudited) {
    // Open the socket to everyone, as a misconfigured socket_mode would: only the peer check
    // stands between the stranger and the API.
    ASSERT_EQ(::chmod(daemon().socket().c_str(), 0666), 0);
    const fs::path socket = daemon().socket();
    const auto before = started_spawns(daemon());
    auto body = spawn_body("sec-attack", "stranger", {"/bin/bash", "-c", "touch /workspace/pwned"});
    body["id"] = 7;
    const std::string pipelined =
        protocol::encode(protocol::control_frame(FrameType::req, 0,
                                                 {{"id", 1}, {"op", "hello"}, {"version", 1}})) +
        protocol::encode(protocol::control_frame(FrameType::req, 0, body));
    for (const uid_t stranger : {65532u, 300000u}) {
        const auto result = run_as(stranger, [&](std::FILE* out) {
            auto client = client::Client::connect(socket);
            try {
                client.send_raw(pipelined);
            } catch (const client::ConnectionError&) {
                // Refused on accept, before the write.
            }
            json event;
            bool answered = false;
            try {
                while (auto frame = client.next_frame(5s)) {
                    if (frame->type == FrameType::evt && frame->channel == 0) {
                        event = json::parse(frame->payload, nullptr, false);
                    }
                    answered = answered || frame->type == FrameType::res;
                }
                std::fprintf(out, "the connection stayed open\n");
                return 1;
            } catch (const client::ConnectionError&) {
            }
            std::fprintf(out, "event: %s answered: %d\n", event.dump().c_str(), answered);
            return event.value("code", "") == "forbidden" && !answered ? 0 : 1;
        });
        EXPECT_EQ(result.exit_code, 0) << "uid " << stranger << ": " << result.output;
        bool audited = false;
        for (const auto& line : daemon().events("auth_failure")) {
            audited = audited || line.value("peer_uid", 0u) == stranger;
        }
        EXPECT_TRUE(audited) << "no auth_failure for uid " << stranger;
    }
    EXPECT_EQ(daemon().events("spawn_requested").size(), 0u) << daemon().log_text();
    EXPECT_EQ(started_spawns(daemon()), before);
    EXPECT_FALSE(fs::exists(daemon().workspace_root() / "stranger"));
    auto fresh = daemon().connect("after");
    EXPECT_NO_THROW(fresh.request({{"op", "list"}}, 10s));
}

// "Malformed input changes nothing: oversize ... frames close only that connection
// (`bad_frame`)": a frame that claims 4 GiB, on the control channel and as IN on a session
// the hostile client attached to; the session and other clients carry on.
TEST_F(Api, AFrameClaimingFourGibIsBadFrameAndOthersAreStillServed) {
    auto keeper = start_keeper(daemon());
    ASSERT_TRUE(keeper.echoes());
    EXPECT_EQ(send_hostile(daemon(), raw_header(0xffffffffu, 1, 0)),
              std::make_pair(std::string("bad_frame"), true));
    // The claim followed by a stream of bytes, as if the 4 GiB were on their way.
    EXPECT_EQ(
        send_hostile(daemon(), raw_header(0xffffffffu, 1, 0) + std::string(256 * 1024, 'A')).first,
        "bad_frame");
    {
        auto hostile = daemon().connect("hostile-attach");
        Reader reader(hostile);
        const auto attached =
            attach(hostile, reader, {{"session", keeper.spawned.session}}, 1 << 16);
        const auto channel = attached.at("channel").get<std::uint32_t>();
        try {
            hostile.send_raw(
                raw_header(0xffffffffu, static_cast<std::uint8_t>(FrameType::in), channel) +
                std::string(64 * 1024, 'B'));
        } catch (const client::ConnectionError&) {
        }
        reader.until([&] { return reader.closed(); }, 5s);
        EXPECT_TRUE(reader.closed()) << "the connection outlived a 4 GiB IN header";
    }
    EXPECT_TRUE(daemon().running()) << daemon().log_text();
    EXPECT_TRUE(keeper.echoes()) << "the session stopped after the hostile frames";
    const auto& out = keeper.reader->channel(keeper.spawned.channel).out;
    EXPECT_THAT(out, Not(HasSubstr("BBBB"))) << "bytes of the refused frame reached the session";
    auto fresh = daemon().connect("after");
    EXPECT_NO_THROW(fresh.request({{"op", "list"}}, 10s));
}

// "Malformed input changes nothing": an HTTP request, a header dribbled one byte at a time, a
// payload cut short by a close, and a peer that stalls in the middle of a header do not stop
// the daemon from serving a session and new clients meanwhile.
TEST_F(Api, GarbageTruncatedAndStalledFramesCloseOnlyTheirConnection) {
    auto keeper = start_keeper(daemon());
    ASSERT_TRUE(keeper.echoes());
    EXPECT_EQ(send_hostile(daemon(), "GET / HTTP/1.1\r\nHost: ccjaild\r\n\r\n").first, "bad_frame");
    {
        auto dribbler = daemon().connect("dribbler");
        Reader reader(dribbler);
        const std::string header = raw_header(0xfffffff0u, 1, 0);
        try {
            for (const char byte : header) {
                dribbler.send_raw(std::string(1, byte));
                std::this_thread::sleep_for(20ms);
            }
        } catch (const client::ConnectionError&) {
        }
        reader.until([&] { return reader.closed(); }, 5s);
        EXPECT_TRUE(reader.closed()) << "a dribbled oversize header was not refused";
    }
    {
        auto truncated = daemon().connect("truncated");
        truncated.send_raw(raw_header(100, 1, 0) + "{\"op\": \"spawn\", \"prof");
    }  // closed with 80 bytes missing
    auto staller = client::Client::connect(daemon().socket());
    staller.send_raw(raw_header(40, 1, 0).substr(0, 7));
    EXPECT_TRUE(keeper.echoes()) << "the daemon stalled behind a half header";
    auto fresh = daemon().connect("meanwhile");
    EXPECT_NO_THROW(fresh.request({{"op", "list"}}, 10s));
    EXPECT_EQ(spawn_code(daemon(), spawn_body("sec-attack", "meanwhile", {"/bin/true"})), "ok");
    EXPECT_TRUE(daemon().running());
}

// "env outside the allowlist ... refused with their code before anything is built" and "The
// environment is exactly the profile's": loader and shell start-up variables cannot be set by
// name, not even by hiding them in the allowed name's value.
TEST_F(Api, LoaderAndShellVariablesCannotBeSmuggledIntoTheEnvironment) {
    const auto before = started_spawns(daemon());
    const std::vector<std::string> names = {"LD_PRELOAD",
                                            "LD_LIBRARY_PATH",
                                            "LD_AUDIT",
                                            "BASH_ENV",
                                            "ENV",
                                            "PATH",
                                            "HOME",
                                            "BASH_FUNC_ls%%",
                                            "sec_note",
                                            "SEC_NOTE=X",
                                            "",
                                            "SEC_NOTE ",
                                            std::string("SEC_NOTE\0LD_PRELOAD", 19)};
    for (const auto& name : names) {
        auto body = spawn_body("sec-priv-env", "smuggler", {"/usr/bin/env"});
        body["env"] = {{name, "/tmp/evil.so"}};
        EXPECT_EQ(spawn_code(daemon(), body), "bad_request") << "env name \"" << name << "\"";
    }
    auto nul = spawn_body("sec-priv-env", "smuggler", {"/usr/bin/env"});
    nul["env"] = {{"SEC_NOTE", std::string("a\0LD_PRELOAD=/tmp/evil.so", 25)}};
    EXPECT_EQ(spawn_code(daemon(), nul), "bad_request");
    EXPECT_EQ(started_spawns(daemon()), before) << "a refused request spawned something";

    // Values are data: a newline, an exported-function body and a command substitution in the
    // allowed name's value stay inside that one variable.
    AttackOptions options;
    options.profile = "sec-priv-env";
    options.extra = {{"env",
                      {{"SEC_NOTE",
                        "x\nLD_PRELOAD=/tmp/evil.so\nBASH_ENV=/tmp/rc () { :; }; echo SMUGGLED "
                        "$(echo SUBSTITUTED)"}}}};
    const auto attack = run_shell(
        "compgen -e | grep -E '^(LD_|BASH_ENV$|ENV$|BASH_FUNC)' || echo clean; "
        "printenv SEC_NOTE | head -1; "
        "bash -c 'echo inner'",
        options);
    ASSERT_EQ(attack.status(), "exited") << attack.describe();
    EXPECT_THAT(attack.out, ::testing::StartsWith("clean\nx\ninner\n")) << attack.describe();
    EXPECT_THAT(attack.out, Not(HasSubstr("SMUGGLED"))) << attack.describe();
    EXPECT_THAT(attack.out, Not(HasSubstr("SUBSTITUTED"))) << attack.describe();
}

// "huge ... argv ... refused with their code before anything is built": 100 000 arguments, one
// argument near the frame limit, and a frame over the limit, with nothing spawned.
TEST_F(Api, HugeArgvIsRefusedAndNothingIsSpawned) {
    const auto before = started_spawns(daemon());
    std::vector<std::string> many(100000, "a");
    many.insert(many.begin(), "/bin/true");
    const auto body = spawn_body("sec-attack", "huge", many);
    ASSERT_LT(body.dump().size(), 1u << 20) << "the request must fit one frame";
    EXPECT_EQ(spawn_code(daemon(), body), "bad_request");
    EXPECT_EQ(spawn_code(daemon(), spawn_body("sec-attack", "huge",
                                              {"/bin/echo", std::string(900 * 1024, 'x')})),
              "bad_request");
    std::vector<std::string> wide(3000, std::string(400, 'w'));
    wide.insert(wide.begin(), "/bin/true");
    EXPECT_EQ(send_hostile(
                  daemon(),
                  [&] {
                      const std::string payload = spawn_body("sec-attack", "huge", wide).dump();
                      return raw_header(static_cast<std::uint32_t>(payload.size()), 1, 0) + payload;
                  }())
                  .first,
              "bad_frame");
    EXPECT_EQ(started_spawns(daemon()), before);
    EXPECT_EQ(spawn_code(daemon(), spawn_body("sec-attack", "huge", {"/bin/true"})), "ok");
}

// "`..`/symlinked workspaces and cwds are refused" and "Workspace paths cannot escape": a cwd
// with `..`, an absolute one, or control characters is `bad_request`; a cwd through a symlink
// in the workspace resolves inside the jail's root, never the host's.
TEST_F(Api, CwdValuesCannotLeaveTheWorkspace) {
    const fs::path workspace = daemon().workspace_root() / "cwd";
    fs::create_directories(workspace / "sub");
    ::chmod(workspace.c_str(), 0777);
    fs::create_symlink("/etc", workspace / "etc-link");
    fs::create_symlink("../../../../../../..", workspace / "up-link");
    auto with_cwd = [&](const std::string& cwd) {
        auto body = spawn_body("sec-attack", "cwd", {"/bin/pwd"});
        body["workspace"] = "cwd";
        body["cwd"] = cwd;
        return spawn_code(daemon(), body);
    };
    const auto before = started_spawns(daemon());
    for (const std::string& cwd : std::vector<std::string>{
             "..", "../cwd", "sub/../..", "sub/..", "/etc", "/workspace/../etc", "sub\n..",
             std::string("sub\0/../..", 10), "sub/\x1b[2J"}) {
        EXPECT_EQ(with_cwd(cwd), "bad_request") << "cwd \"" << cwd << "\"";
    }
    EXPECT_EQ(started_spawns(daemon()), before);
    // Where each link leads when resolved in the jail's root, as the jail's chdir does.
    const std::map<std::string, std::string> in_jail = {{"etc-link", "/etc"}, {"up-link", "/"}};
    for (const auto& [link, jail_path] : in_jail) {
        AttackOptions options;
        options.extra = {{"workspace", "cwd"}, {"cwd", link}};
        try {
            const auto attack = run_shell(
                "pwd -P; test -e shadow && echo host-shadow; test -e work && echo host-root; "
                "test -e ../work && echo host-root; echo end",
                options);
            ASSERT_EQ(attack.status(), "exited") << attack.describe();
            EXPECT_THAT(attack.out, ::testing::StartsWith(jail_path + "\n")) << attack.describe();
            EXPECT_THAT(attack.out, Not(HasSubstr("host-"))) << link << "\n" << attack.describe();
            EXPECT_THAT(attack.out, HasSubstr("end")) << attack.describe();
        } catch (const client::ClientError& error) {
            EXPECT_THAT(error.code_name(), ::testing::AnyOf("bad_request", "spawn_failed"))
                << link << ": " << error.what();
        }
    }
}

// "Requests are data ... user labels" and "never uid 0": request keys that would pick the
// identity, the seccomp policy or a profile by path are refused; the label "root" is only a
// label and runs unprivileged.
TEST_F(Api, RequestFieldsCannotPickPrivilege) {
    const auto before = started_spawns(daemon());
    for (const auto& [key, value] :
         std::vector<std::pair<std::string, json>>{{"uid", 0},
                                                   {"gid", 0},
                                                   {"identity", {{"uid", 0}}},
                                                   {"seccomp", {{"allow_ptrace", true}}},
                                                   {"network", "host"},
                                                   {"filesystem", {{"binds", {{"source", "/"}}}}},
                                                   {"limits", {{"pids", 100000}}}}) {
        auto body = spawn_body("sec-attack", "picker", {"/bin/true"});
        body[key] = value;
        EXPECT_EQ(spawn_code(daemon(), body), "bad_request") << key;
    }
    for (const std::string profile :
         {"/etc/passwd", "../sec-attack", "sec-attack/../base", "sec-attack\n", ""}) {
        EXPECT_THAT(spawn_code(daemon(), spawn_body(profile, "picker", {"/bin/true"})),
                    ::testing::AnyOf("bad_request", "unknown_profile"))
            << "profile \"" << profile << "\"";
    }
    for (const std::string& user : std::vector<std::string>{
             "../root", "root/..", "ROOT", "-root", ".root", "r\noot", std::string(65, 'r')}) {
        EXPECT_EQ(spawn_code(daemon(), spawn_body("sec-attack", user, {"/bin/true"})),
                  "bad_request")
            << "user \"" << user << "\"";
    }
    EXPECT_EQ(started_spawns(daemon()), before);
    AttackOptions root_label;
    root_label.user = "root";
    const auto attack = run_shell("id -u; id -g", root_label);
    ASSERT_EQ(attack.status(), "exited") << attack.describe();
    EXPECT_THAT(attack.out, Not(::testing::StartsWith("0\n"))) << attack.describe();
    EXPECT_THAT(attack.out, ::testing::MatchesRegex("3[0-9]{5}\n3[0-9]{5}\n")) << attack.describe();
}

}  // namespace
}  // namespace ccjail::sectest
