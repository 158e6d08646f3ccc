// A client of another uid cannot see or touch a session: every op answers `not_found`, exactly
// as for a session that does not exist (never `forbidden`, never a different message), while
// the owner and root (admin) see it.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <sstream>

#include "daemon_harness.hpp"

namespace ccjail::dtest {
namespace {

constexpr uid_t kOwnerUid = 65533;
constexpr uid_t kOtherUid = 65534;

class IsolationTest : public DaemonTest {
  protected:
    DaemonOptions options() const override {
        DaemonOptions o;
        o.config = {{"client_uids", {kOwnerUid, kOtherUid}}, {"socket_mode", "0666"}};
        return o;
    }
};

bool lists(client::Client& client, const std::string& session) {
    const auto response = client.request({{"op", "list"}});
    for (const auto& entry : response.at("sessions")) {
        if (entry.value("session", "") == session) {
            return true;
        }
    }
    return false;
}

// The message of a refused request, or "" when it succeeded.
std::string error_message_of(client::Client& client, const json& body) {
    try {
        client.request(body, 10s);
        return "";
    } catch (const client::ClientError& error) {
        return error.what();
    }
}

TEST_F(IsolationTest, AnotherUidCannotSeeOrTouchTheSessionWhileRootSeesAll) {
    const fs::path socket = daemon().socket();
    // The owner (a plain client uid) spawns a session and leaves it running detached.
    const auto owner = run_as(kOwnerUid, [&](std::FILE* out) {
        auto client = client::Client::connect(socket);
        const auto hello = client.hello("owner");
        if (hello.role != "client" || hello.uid != kOwnerUid) {
            std::fprintf(out, "hello: %s\n", hello.raw.dump().c_str());
            return 1;
        }
        const auto response =
            client.request(spawn_body("dt-fast", "owner", {"/bin/sleep", "60"}), 30s);
        std::fprintf(out, "SESSION %s\n", response.at("session").get<std::string>().c_str());
        return 0;
    });
    ASSERT_EQ(owner.exit_code, 0) << owner.output << daemon().log_text();
    std::string session;
    std::istringstream(owner.output.substr(owner.output.find("SESSION ") + 8)) >> session;
    ASSERT_EQ(session.size(), 16u) << owner.output;

    const auto other = run_as(kOtherUid, [&](std::FILE* out) {
        auto client = client::Client::connect(socket);
        const auto hello = client.hello("other");
        int failures = 0;
        auto expect = [&](const std::string& what, const std::string& got,
                          const std::string& want) {
            if (got != want) {
                std::fprintf(out, "%s: got %s, expected %s\n", what.c_str(), got.c_str(),
                             want.c_str());
                ++failures;
            }
        };
        expect("role", hello.role, "client");
        expect("listed", lists(client, session) ? "yes" : "no", "no");
        const json foreign = {{"session", session}};
        auto op = [&](json body) {
            body.update(foreign);
            return body;
        };
        expect("inspect", error_code_of(client, op({{"op", "inspect"}})), "not_found");
        expect("attach", error_code_of(client, op({{"op", "attach"}})), "not_found");
        expect("attach read-only",
               error_code_of(client, op({{"op", "attach"}, {"read_only", true}})), "not_found");
        expect("attach from_offset",
               error_code_of(client, op({{"op", "attach"}, {"from_offset", 0}})), "not_found");
        expect("kill", error_code_of(client, op({{"op", "kill"}})), "not_found");
        expect("signal", error_code_of(client, op({{"op", "signal"}, {"signal", "SIGKILL"}})),
               "not_found");
        expect("input", error_code_of(client, op({{"op", "input"}, {"data", "x"}})), "not_found");
        expect("close_stdin", error_code_of(client, op({{"op", "close_stdin"}})), "not_found");
        expect("resize", error_code_of(client, op({{"op", "resize"}, {"cols", 10}, {"rows", 10}})),
               "not_found");
        // No hint of existence: the same answer as for an id nobody uses.
        const std::string bogus =
            session == "0000000000000000" ? "1111111111111111" : "0000000000000000";
        expect("message for a foreign id vs a missing one",
               error_message_of(client, {{"op", "inspect"}, {"session", session}}),
               error_message_of(client, {{"op", "inspect"}, {"session", bogus}}));
        expect("attach message for a foreign id vs a missing one",
               error_message_of(client, {{"op", "attach"}, {"session", session}}),
               error_message_of(client, {{"op", "attach"}, {"session", bogus}}));
        // Its own session is visible to it, the owner's still is not.
        const auto mine = client.request(spawn_body("dt-fast", "other", {"/bin/sleep", "60"}), 30s);
        const std::string own = mine.at("session").get<std::string>();
        expect("own session listed", lists(client, own) ? "yes" : "no", "yes");
        expect("foreign still unlisted", lists(client, session) ? "yes" : "no", "no");
        expect("kill own",
               error_code_of(client, {{"op", "kill"}, {"session", own}, {"grace_ms", 0}}), "ok");
        // The metrics and profiles ops are not about sessions: allowed.
        expect("profiles", error_code_of(client, {{"op", "profiles"}}), "ok");
        return failures == 0 ? 0 : 1;
    });
    EXPECT_EQ(other.exit_code, 0) << other.output;

    // Root is admin: it sees both sessions, can inspect the owner's and watch it read-only.
    auto root = daemon().connect("root");
    EXPECT_EQ(root.request({{"op", "list"}}).at("sessions").size(), 2u);
    ASSERT_TRUE(lists(root, session));
    const auto inspect = root.request({{"op", "inspect"}, {"session", session}});
    EXPECT_EQ(inspect.value("state", ""), "running") << "the other uid's attempts must not have "
                                                        "killed it: "
                                                     << inspect.dump();
    Reader reader(root);
    const auto watch = attach(root, reader, {{"session", session}, {"read_only", true}}, 4096);
    EXPECT_EQ(watch.value("in_credit", 1ull), 0ull);
    EXPECT_EQ(error_code_of(root, {{"op", "input"}, {"data", "x"}}, 10s,
                            watch.at("channel").get<std::uint32_t>()),
              "forbidden");

    // The owner still controls its own session.
    const auto owner_again = run_as(kOwnerUid, [&](std::FILE* out) {
        auto client = client::Client::connect(socket);
        client.hello("owner");
        if (!lists(client, session)) {
            std::fprintf(out, "the owner does not see its session\n");
            return 1;
        }
        const auto code =
            error_code_of(client, {{"op", "kill"}, {"session", session}, {"grace_ms", 0}});
        std::fprintf(out, "kill: %s\n", code.c_str());
        return code == "ok" ? 0 : 1;
    });
    EXPECT_EQ(owner_again.exit_code, 0) << owner_again.output;
    EXPECT_TRUE(reader.until_exit(watch.at("channel").get<std::uint32_t>(), 20s));
}

TEST_F(IsolationTest, AnUnlistedUidIsRefusedAndAudited) {
    const fs::path socket = daemon().socket();
    // The daemon refuses on accept, before any request: read what it says without writing
    // (a write could race with its close and hide the event behind EPIPE).
    const auto stranger = run_as(65532, [&](std::FILE* out) {
        auto client = client::Client::connect(socket);
        json event;
        try {
            while (auto frame = client.next_frame(5s)) {
                if (frame->type == protocol::FrameType::evt && frame->channel == 0) {
                    event = json::parse(frame->payload, nullptr, false);
                }
            }
            std::fprintf(out, "the connection stayed open\n");
            return 1;
        } catch (const client::ConnectionError&) {
        }
        std::fprintf(out, "event before the close: %s\n", event.dump().c_str());
        return event.value("event", "") == "error" && event.value("code", "") == "forbidden" ? 0
                                                                                             : 1;
    });
    EXPECT_EQ(stranger.exit_code, 0) << stranger.output;
    bool audited = false;
    for (const auto& line : daemon().events("auth_failure")) {
        audited = audited || line.value("peer_uid", 0u) == 65532u;
    }
    EXPECT_TRUE(audited) << daemon().log_text();
}

// Nobody created the run dir beforehand (a plain `ccjaild --state-dir D` from the README, or
// /run/ccjail on a host without a service manager): the daemon creates it, and a permitted
// client uid must still reach the socket that socket_mode opens to it.
class FreshRunDirTest : public IsolationTest {
  protected:
    DaemonOptions options() const override {
        DaemonOptions o = IsolationTest::options();
        o.precreate_run_dir = false;
        return o;
    }
};

TEST_F(FreshRunDirTest, APermittedUidReachesTheSocketInARunDirTheDaemonCreated) {
    const fs::path socket = daemon().socket();
    const auto client = run_as(kOtherUid, [&](std::FILE* out) {
        auto c = client::Client::connect(socket);
        const auto hello = c.hello("fresh");
        std::fprintf(out, "role %s\n", hello.role.c_str());
        return hello.role == "client" ? 0 : 1;
    });
    EXPECT_EQ(client.exit_code, 0) << client.output;
}

}  // namespace
}  // namespace ccjail::dtest
