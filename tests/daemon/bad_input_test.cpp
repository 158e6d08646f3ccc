// Hostile and broken input: each gets its own error code, and afterwards the daemon still
// answers and a session that was running before still runs (it echoes a fresh marker).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <thread>

#include "daemon_harness.hpp"

namespace ccjail::dtest {
namespace {

using protocol::Frame;
using protocol::FrameType;

class BadInputTest : public DaemonTest {
  protected:
    DaemonOptions options() const override {
        DaemonOptions o;
        o.config = {{"max_sessions", 6},
                    {"max_sessions_per_user", 4},
                    {"spawn_rate_per_user_per_min", 30},
                    {"spawn_burst_per_user", 10}};
        return o;
    }

    void SetUp() override {
        DaemonTest::SetUp();
        if (IsSkipped() || HasFatalFailure()) {
            return;
        }
        keeper_ = std::make_unique<client::Client>(daemon().connect("keeper"));
        keeper_reader_ = std::make_unique<Reader>(*keeper_);
        keeper_session_ = spawn(*keeper_, *keeper_reader_,
                                spawn_body("dt-fast", "keeper", {"/bin/cat"}), 256 * 1024);
        expect_healthy();
    }

    // The daemon answers a new connection, and the keeper session echoes a new marker.
    void expect_healthy() {
        ASSERT_TRUE(daemon().running()) << daemon().log_text();
        auto fresh = daemon().connect("health");
        EXPECT_NO_THROW(fresh.request({{"op", "list"}}, 10s));
        const std::string marker = "alive-" + std::to_string(++pings_) + "\n";
        keeper_->send_input(keeper_session_.channel, marker);
        EXPECT_TRUE(keeper_reader_->until_out_contains(keeper_session_.channel, marker, 10s))
            << "the keeper session stopped echoing";
        EXPECT_TRUE(keeper_reader_->channel(keeper_session_.channel).exit_report.is_null());
    }

    // Sends raw bytes on a fresh connection and returns the connection-level error code the
    // daemon reported before closing ("" when none), and whether it closed.
    std::pair<std::string, bool> send_broken(const std::string& bytes) {
        auto c = daemon().connect("broken");
        Reader reader(c);
        c.send_raw(bytes);
        reader.until([&] { return reader.closed(); }, 5s);
        std::string code;
        for (const auto& event : reader.connection_events()) {
            if (event.value("event", "") == "error") {
                code = error_event_code(event);
            }
        }
        return {code, reader.closed()};
    }

    // A REQ frame whose payload is `payload`, answered by a RES with id null: the RES's code.
    std::string control_error(client::Client& c, const std::string& payload) {
        c.send_frame(Frame{FrameType::req, 0, 0, payload});
        const auto deadline = std::chrono::steady_clock::now() + 10s;
        while (std::chrono::steady_clock::now() < deadline) {
            auto frame = c.next_frame(200ms);
            if (frame && frame->type == FrameType::res) {
                const auto body = json::parse(frame->payload, nullptr, false);
                return body.is_object() && body.value("ok", true) == false
                           ? body["error"].value("code", "")
                           : "ok";
            }
        }
        return "timeout";
    }

    std::string spawn_code(json body) {
        auto c = daemon().connect("spawner");
        return error_code_of(c, body);
    }

    std::unique_ptr<client::Client> keeper_;
    std::unique_ptr<Reader> keeper_reader_;
    Spawned keeper_session_;
    int pings_ = 0;
};

TEST_F(BadInputTest, OversizeLengthHeaderIsBadFrameAndClosesTheConnection) {
    EXPECT_EQ(send_broken(raw_header(0xfffffff0u, 1, 0)),
              std::make_pair(std::string("bad_frame"), true));
    // Just over the configured maximum payload (1 MiB).
    EXPECT_EQ(send_broken(raw_header((1u << 20) + 1, 1, 0)),
              std::make_pair(std::string("bad_frame"), true));
    expect_healthy();
}

TEST_F(BadInputTest, UnknownFrameTypeFlagsAndReservedAreBadFrame) {
    EXPECT_EQ(send_broken(raw_header(0, 9, 0)).first, "bad_frame");
    EXPECT_EQ(send_broken(raw_header(0, 0, 0)).first, "bad_frame");
    EXPECT_EQ(send_broken(raw_header(0, 255, 0)).first, "bad_frame");
    EXPECT_EQ(send_broken(raw_header(2, 1, 0, 1) + "{}").first, "bad_frame");
    std::string reserved = raw_header(2, 1, 0);
    reserved[6] = 1;
    EXPECT_EQ(send_broken(reserved + "{}").first, "bad_frame");
    EXPECT_EQ(send_broken(raw_header(3, 8, 1) + "abc").first, "bad_frame");  // CREDIT not 4 bytes
    expect_healthy();
}

TEST_F(BadInputTest, FramesOnlyTheDaemonSendsAreRefused) {
    auto c = daemon().connect("wrong-direction");
    Reader reader(c);
    c.send_frame(Frame{FrameType::out, 0, keeper_session_.channel, "x"});
    reader.until(
        [&] {
            return !reader.channel(keeper_session_.channel).events.empty() ||
                   !reader.connection_events().empty() || reader.closed();
        },
        5s);
    EXPECT_FALSE(reader.channel(keeper_session_.channel).events.empty() &&
                 reader.connection_events().empty())
        << "an OUT frame from a client was silently accepted";
    expect_healthy();
}

TEST_F(BadInputTest, InvalidJsonIsBadRequestAndTheConnectionCarriesOn) {
    auto c = daemon().connect("json");
    EXPECT_EQ(control_error(c, "{\"op\": \"list\", "), "bad_request");
    EXPECT_EQ(control_error(c, "not json at all"), "bad_request");
    EXPECT_EQ(control_error(c, "[1, 2, 3]"), "bad_request");
    EXPECT_EQ(control_error(c, std::string("{\"op\":\"li\xff\xfe\"}")), "bad_request");
    EXPECT_EQ(control_error(c, "{\"id\": 1}"), "bad_request");
    EXPECT_EQ(control_error(c, "{\"id\": -1, \"op\": \"list\"}"), "bad_request");
    EXPECT_EQ(error_code_of(c, {{"op", "no-such-op"}}), "unknown_op");
    EXPECT_EQ(error_code_of(c, {{"op", "list"}}), "ok") << "the connection did not carry on";
    expect_healthy();
}

TEST_F(BadInputTest, DeeplyNestedJsonIsBadRequest) {
    auto c = daemon().connect("nested");
    std::string deep = "{\"id\": 5, \"op\": \"list\", \"x\": ";
    deep += std::string(10000, '[') + std::string(10000, ']') + "}";
    EXPECT_EQ(control_error(c, deep), "bad_request");
    std::string objects;
    for (int i = 0; i < 10000; ++i) {
        objects += "{\"a\":";
    }
    objects += "1" + std::string(10000, '}');
    EXPECT_EQ(control_error(c, objects), "bad_request");
    EXPECT_EQ(error_code_of(c, {{"op", "list"}}), "ok");
    expect_healthy();
}

TEST_F(BadInputTest, RequestsBeforeHelloAndWrongVersions) {
    {
        auto c = client::Client::connect(daemon().socket());
        // docs/protocol.md: another op before hello is unsupported_version.
        EXPECT_EQ(error_code_of(c, {{"op", "list"}}), "unsupported_version");
    }
    {
        auto c = client::Client::connect(daemon().socket());
        EXPECT_EQ(error_code_of(c, {{"op", "hello"}, {"version", 2}}), "unsupported_version");
        Reader reader(c);
        reader.until([&] { return reader.closed(); }, 5s);
        EXPECT_TRUE(reader.closed()) << "the connection stayed open after unsupported_version";
    }
    {
        auto c = daemon().connect();
        EXPECT_EQ(error_code_of(c, {{"op", "hello"}, {"version", 1}}), "bad_request");
    }
    expect_healthy();
}

TEST_F(BadInputTest, HugeArgvIsBadRequest) {
    std::vector<std::string> many(5000, "a");
    many.insert(many.begin(), "/bin/true");
    EXPECT_EQ(spawn_code(spawn_body("dt-fast", "huge", many)), "bad_request");
    std::vector<std::string> over_profile(300, "a");  // dt-fast keeps max_args at 256
    over_profile.insert(over_profile.begin(), "/bin/true");
    EXPECT_EQ(spawn_code(spawn_body("dt-fast", "huge", over_profile)), "bad_request");
    EXPECT_EQ(
        spawn_code(spawn_body("dt-fast", "huge", {"/bin/echo", std::string(200 * 1024, 'x')})),
        "bad_request");
    // Larger than a frame may be: the framing refuses it.
    auto c = daemon().connect("huge");
    std::string body =
        spawn_body("dt-fast", "huge", {"/bin/echo", std::string(1100 * 1024, 'x')}).dump();
    Reader reader(c);
    try {
        c.send_raw(raw_header(static_cast<std::uint32_t>(body.size()), 1, 0) + body);
    } catch (const client::ConnectionError&) {
        // The daemon refused the header and closed before the payload was written.
    }
    reader.until([&] { return reader.closed(); }, 5s);
    EXPECT_TRUE(reader.closed());
    expect_healthy();
}

TEST_F(BadInputTest, NulEscapeAndNewlineInArgvAreBadRequest) {
    EXPECT_EQ(spawn_code(spawn_body("dt-fast", "ctl", {"/bin/echo", std::string("a\0b", 3)})),
              "bad_request");
    EXPECT_EQ(spawn_code(spawn_body("dt-fast", "ctl", {"/bin/echo", "\x1b[2J"})), "bad_request");
    EXPECT_EQ(spawn_code(spawn_body("dt-fast", "ctl", {"/bin/echo", "two\nlines"})), "bad_request");
    EXPECT_EQ(spawn_code(spawn_body("dt-fast", "ctl", {"/bin/echo", "del\x7f"})), "bad_request");
    EXPECT_EQ(spawn_code(spawn_body("dt-fast", "ctl", {std::string("/bin/ec\0ho", 10)})),
              "bad_request");
    EXPECT_EQ(spawn_code(spawn_body("dt-fast", "ctl", {"/bin/echo", "plain"})), "ok");
    expect_healthy();
}

TEST_F(BadInputTest, WorkspacesOutsideTheRootOrThroughSymlinksAreBadRequest) {
    const fs::path root = daemon().workspace_root();
    const fs::path outside = daemon().root() / "outside";
    fs::create_directories(outside);
    fs::create_directories(root / "real");
    fs::create_symlink(outside, root / "link");
    fs::create_directories(root / "real" / "inner");
    fs::create_symlink(outside, root / "real" / "inner-link");
    auto with_workspace = [&](const std::string& workspace) {
        auto body = spawn_body("dt-fast", "ws", {"/bin/true"});
        body["workspace"] = workspace;
        return spawn_code(body);
    };
    EXPECT_EQ(with_workspace((root / ".." / "outside").string()), "bad_request");
    EXPECT_EQ(with_workspace((root / "real" / ".." / ".." / "outside").string()), "bad_request");
    EXPECT_EQ(with_workspace("/etc"), "bad_request");
    EXPECT_EQ(with_workspace("relative/path"), "bad_request");
    EXPECT_EQ(with_workspace((root / "link").string()), "bad_request");
    EXPECT_EQ(with_workspace((root / "real" / "inner-link").string()), "bad_request");
    EXPECT_EQ(with_workspace((root / "missing").string()), "bad_request");
    auto with_cwd = [&](const std::string& cwd) {
        auto body = spawn_body("dt-fast", "ws", {"/bin/true"});
        body["workspace"] = (root / "real").string();
        body["cwd"] = cwd;
        return spawn_code(body);
    };
    EXPECT_EQ(with_cwd("../.."), "bad_request");
    EXPECT_EQ(with_cwd("/etc"), "bad_request");
    EXPECT_EQ(with_cwd("inner"), "ok");
    EXPECT_EQ(with_workspace((root / "real").string()), "ok");
    EXPECT_TRUE(fs::is_empty(outside)) << "something was created through the symlink";
    expect_healthy();
}

TEST_F(BadInputTest, UnknownProfileAndBadNames) {
    EXPECT_EQ(spawn_code(spawn_body("no-such-profile", "u", {"/bin/true"})), "unknown_profile");
    EXPECT_EQ(spawn_code(spawn_body("../profiles/dt-fast", "u", {"/bin/true"})), "bad_request");
    EXPECT_EQ(spawn_code(spawn_body("dt-fast.json", "u", {"/bin/true"})), "bad_request");
    EXPECT_EQ(spawn_code(spawn_body("dt-fast", "Root", {"/bin/true"})), "bad_request");
    EXPECT_EQ(spawn_code(spawn_body("dt-fast", "../x", {"/bin/true"})), "bad_request");
    auto unknown_key = spawn_body("dt-fast", "u", {"/bin/true"});
    unknown_key["privileged"] = true;
    EXPECT_EQ(spawn_code(unknown_key), "bad_request");
    auto higher = spawn_body("dt-fast", "u", {"/bin/true"});
    higher["limits"] = {{"memory", "1G"}};
    EXPECT_EQ(spawn_code(higher), "bad_request");
    auto bad_mode = spawn_body("dt-fast", "u", {"/bin/true"});
    bad_mode["mode"] = "socket";
    EXPECT_EQ(spawn_code(bad_mode), "bad_request");
    expect_healthy();
}

TEST_F(BadInputTest, EnvOutsideTheProfilesAllowlistIsBadRequest) {
    auto body = spawn_body("dt-fast", "env", {"/usr/bin/printenv", "DT_ALLOWED"});
    body["env"] = {{"LD_PRELOAD", "/tmp/x.so"}};
    EXPECT_EQ(spawn_code(body), "bad_request");
    body["env"] = {{"PATH", "/tmp"}};
    EXPECT_EQ(spawn_code(body), "bad_request");
    body["env"] = {{"DT_ALLOWED", "yes"}, {"NOT_ALLOWED", "no"}};
    EXPECT_EQ(spawn_code(body), "bad_request");
    body["env"] = {{"BAD NAME", "x"}};
    EXPECT_EQ(spawn_code(body), "bad_request");
    // The allowlisted name passes, and reaches the program.
    body["env"] = {{"DT_ALLOWED", "yes"}};
    auto c = daemon().connect("env");
    Reader reader(c);
    const auto s = spawn(c, reader, body, 4096);
    ASSERT_TRUE(reader.until_exit(s.channel, 20s));
    EXPECT_EQ(reader.channel(s.channel).out, "yes\n");
    expect_healthy();
}

// The error events on a channel, by code.
std::map<std::string, int> error_codes(const ChannelState& state) {
    std::map<std::string, int> codes;
    for (const auto& e : state.events) {
        if (e.value("event", "") == "error") {
            ++codes[error_event_code(e)];
        }
    }
    return codes;
}

TEST_F(BadInputTest, InputBeyondCreditOrFrameSizeIsRefusedOnTheChannel) {
    const auto channel = keeper_session_.channel;
    auto& state = keeper_reader_->channel(channel);
    // Larger than max_input_frame_bytes (64 KiB): bad_request on the channel.
    keeper_->send_input(channel, std::string(70 * 1024, 'q'), 70 * 1024);
    ASSERT_TRUE(keeper_reader_->until(
        [&] {
            return std::any_of(state.events.begin(), state.events.end(),
                               [](const json& e) { return e.value("event", "") == "error"; });
        },
        10s));
    EXPECT_EQ(error_codes(state)["bad_request"], 1) << json(state.events).dump();

    // A program that never reads stdin: the daemon can write at most a pipe buffer and the
    // input rate's worth, so IN far beyond the granted credit cannot have been re-granted.
    auto c = daemon().connect("flooder");
    Reader reader(c);
    const auto s = spawn(c, reader, spawn_body("dt-fast", "flooder", {"/bin/sleep", "60"}), 4096);
    const std::uint64_t credit = reader.channel(s.channel).in_credit;
    ASSERT_GT(credit, 0u);
    c.send_input(s.channel, std::string(credit + (4 << 20), 'r'), 16 * 1024);
    auto& flooded = reader.channel(s.channel);
    EXPECT_TRUE(reader.until([&] { return error_codes(flooded)["rate_limited"] > 0; }, 10s))
        << "no rate_limited error for IN beyond the credit: " << json(flooded.events).dump();
    const auto info = c.request({{"op", "inspect"}, {"session", s.session}});
    EXPECT_LE(info.value("bytes_in", 0ull), credit + (2 << 20)) << info.dump();
    EXPECT_EQ(info.value("state", ""), "running");
    expect_healthy();
}

// 200 spawns at once over four connections (pipelined), more than every limit allows. Each
// gets an answer: success within the limits, otherwise too_many_sessions or rate_limited.
TEST_F(BadInputTest, TwoHundredConcurrentSpawnsBeyondTheLimits) {
    constexpr int kConnections = 4;
    constexpr int kPerConnection = 50;
    std::vector<client::Client> clients;
    for (int i = 0; i < kConnections; ++i) {
        clients.push_back(daemon().connect("flood"));
    }
    for (int i = 0; i < kConnections; ++i) {
        for (int n = 0; n < kPerConnection; ++n) {
            auto body =
                spawn_body("dt-fast", "flood-" + std::to_string(i % 2), {"/bin/sleep", "30"});
            body["id"] = 1000 + n;
            clients[i].send_frame(protocol::control_frame(FrameType::req, 0, body));
        }
    }
    std::map<std::string, int> codes;
    std::vector<std::pair<int, std::string>> started;
    const auto deadline = std::chrono::steady_clock::now() + 90s;
    for (int i = 0; i < kConnections; ++i) {
        int answered = 0;
        while (answered < kPerConnection && std::chrono::steady_clock::now() < deadline) {
            auto frame = clients[i].next_frame(500ms);
            if (!frame || frame->type != FrameType::res) {
                continue;
            }
            const auto body = json::parse(frame->payload);
            ++answered;
            if (body.value("ok", false)) {
                ++codes["ok"];
                started.emplace_back(i, body.value("session", ""));
                // A client that reads: lets an ended session drain and release its slot.
                clients[i].send_credit(body.value("channel", 0u), 65536);
            } else {
                ++codes[body["error"].value("code", "?")];
            }
        }
        EXPECT_EQ(answered, kPerConnection) << "connection " << i << " lost answers";
    }
    int total = 0;
    for (const auto& [code, count] : codes) {
        total += count;
        EXPECT_TRUE(code == "ok" || code == "too_many_sessions" || code == "rate_limited")
            << count << " x " << code;
    }
    EXPECT_EQ(total, kConnections * kPerConnection);
    // max_sessions 6 with the keeper running; 4 per user label.
    EXPECT_LE(codes["ok"], 5);
    EXPECT_GE(codes["ok"], 1);
    EXPECT_GT(codes["too_many_sessions"], 0);
    EXPECT_EQ(daemon().events("spawn_rejected").size(),
              static_cast<std::size_t>(total - codes["ok"]));
    expect_healthy();

    // The counts are released when the sessions end: a new spawn fits again.
    for (const auto& [i, session] : started) {
        EXPECT_EQ(
            error_code_of(clients[i], {{"op", "kill"}, {"session", session}, {"grace_ms", 0}}),
            "ok");
    }
    auto later = daemon().connect("later");
    const auto wait_until = std::chrono::steady_clock::now() + 20s;
    std::string code;
    do {
        std::this_thread::sleep_for(200ms);
        code = error_code_of(later, spawn_body("dt-fast", "after-flood", {"/bin/true"}));
    } while (code != "ok" && std::chrono::steady_clock::now() < wait_until);
    EXPECT_EQ(code, "ok") << "sessions after the kills: "
                          << later.request({{"op", "list"}}).at("sessions").dump();
    expect_healthy();
}

}  // namespace
}  // namespace ccjail::dtest
