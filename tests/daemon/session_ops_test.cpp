// The session ops through a real daemon, in pty and in pipe mode: spawn, input, resize,
// signal, kill, list, inspect, attach from a second connection, detach.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <thread>

#include "daemon_harness.hpp"

namespace ccjail::dtest {
namespace {

using ::testing::HasSubstr;

constexpr std::uint32_t kWindow = 256 * 1024;

std::optional<json> listed(client::Client& client, const std::string& session) {
    const auto response = client.request({{"op", "list"}});
    for (const auto& entry : response.at("sessions")) {
        if (entry.value("session", std::string()) == session) {
            return entry;
        }
    }
    return std::nullopt;
}

class SessionOpsTest : public DaemonTest {};

TEST_F(SessionOpsTest, PtyShellGetsItsOwnTerminalInputAndResize) {
    auto client = daemon().connect();
    Reader reader(client);
    auto body = spawn_body("dt-fast", "alice", {"/bin/sh"}, "pty");
    body["cols"] = 80;
    body["rows"] = 24;
    const auto s = spawn(client, reader, body, kWindow);
    EXPECT_EQ(s.response.value("mode", ""), "pty");
    EXPECT_GT(s.pid, 0);
    ASSERT_TRUE(reader.until([&] { return reader.channel(s.channel).has_event("spawned"); }, 10s))
        << "no spawned event on the session's channel";

    client.send_input(s.channel, "tty; stty size; echo mark-$((6*7))\n");
    ASSERT_TRUE(reader.until_out_contains(s.channel, "mark-42", 10s))
        << reader.channel(s.channel).out;
    EXPECT_THAT(reader.channel(s.channel).out, HasSubstr("/dev/pts/0"));
    EXPECT_THAT(reader.channel(s.channel).out, HasSubstr("24 80"));

    client.request({{"op", "resize"}, {"cols", 132}, {"rows", 43}}, 10s, s.channel);
    client.send_input(s.channel, "stty size; echo mark-$((6*8))\n");
    ASSERT_TRUE(reader.until_out_contains(s.channel, "mark-48", 10s))
        << reader.channel(s.channel).out;
    EXPECT_THAT(reader.channel(s.channel).out, HasSubstr("43 132"));

    // The `input` op is the JSON form of an IN frame.
    client.request({{"op", "input"}, {"data", "echo via-op-$((2+3))\n"}}, 10s, s.channel);
    EXPECT_TRUE(reader.until_out_contains(s.channel, "via-op-5", 10s));

    // kill: SIGTERM then the cgroup after the grace; an interactive shell ignores SIGTERM.
    client.request({{"op", "kill"}, {"grace_ms", 300}}, 10s, s.channel);
    ASSERT_TRUE(reader.until_exit(s.channel, 20s)) << "no exit event after kill";
    EXPECT_EQ(reader.channel(s.channel).exit_report.value("status", ""), "killed")
        << reader.channel(s.channel).exit_report.dump();
    EXPECT_TRUE(reader.channel(s.channel).eof) << "no EOF before the exit event";
    EXPECT_FALSE(daemon().events("kill", s.session).empty()) << "kill was not audited";
    EXPECT_FALSE(daemon().events("exit", s.session).empty()) << "exit was not audited";
}

TEST_F(SessionOpsTest, PtyListInspectAndASecondAttachedClient) {
    auto client = daemon().connect();
    Reader reader(client);
    const auto s = spawn(client, reader, spawn_body("dt-fast", "bob", {"/bin/sh"}, "pty"), kWindow);
    client.send_input(s.channel, "echo first-$((1+1))\n");
    ASSERT_TRUE(reader.until_out_contains(s.channel, "first-2", 10s));

    const auto entry = listed(client, s.session);
    ASSERT_TRUE(entry) << "the spawner does not see its session in list";
    EXPECT_EQ(entry->value("state", ""), "running");
    EXPECT_EQ(entry->value("mode", ""), "pty");
    EXPECT_EQ(entry->value("profile", ""), "dt-fast");
    EXPECT_EQ(entry->value("user", ""), "bob");
    EXPECT_EQ(entry->value("pid", -2), s.pid);
    EXPECT_EQ(entry->value("attached", 0), 1);
    EXPECT_EQ(entry->value("peer_uid", 99), 0);

    const auto inspect = client.request({{"op", "inspect"}, {"session", s.session}});
    EXPECT_EQ(inspect.value("state", ""), "running");
    EXPECT_EQ(inspect.value("pid", -2), s.pid);
    EXPECT_GT(inspect.value("monitor_pid", -1), 0);
    const std::string cgroup = inspect.value("cgroup", "");
    EXPECT_FALSE(cgroup.empty());
    EXPECT_THAT(cgroup, HasSubstr("jail-" + s.session));
    ASSERT_TRUE(inspect.contains("limits")) << inspect.dump();
    EXPECT_EQ(inspect["limits"].value("memory_bytes", 0ull), 256ull << 20);
    EXPECT_EQ(inspect["limits"].value("pids", 0ull), 64ull);
    ASSERT_TRUE(inspect.contains("usage")) << inspect.dump();
    EXPECT_GE(inspect["usage"].value("pids", 0), 1) << inspect.dump();
    EXPECT_GT(inspect["usage"].value("memory_bytes", 0ull), 0ull) << inspect.dump();
    EXPECT_GT(inspect.value("bytes_out", 0ull), 0ull);
    EXPECT_GT(inspect.value("bytes_in", 0ull), 0ull);

    // A second connection attaches from offset 0: the ring replays what came so far, and both
    // see what either types.
    auto second = daemon().connect("second");
    Reader second_reader(second);
    const auto attached =
        attach(second, second_reader, {{"session", s.session}, {"from_offset", 0}}, kWindow);
    const auto channel2 = attached.at("channel").get<std::uint32_t>();
    EXPECT_EQ(attached.value("mode", ""), "pty");
    EXPECT_EQ(attached.value("state", ""), "running");
    EXPECT_EQ(attached.value("begin_offset", 1ull), 0ull);
    EXPECT_GT(attached.value("in_credit", 0ull), 0ull);
    ASSERT_TRUE(second_reader.until_out_contains(channel2, "first-2", 10s))
        << "no replay: " << second_reader.channel(channel2).out;
    second.send_input(channel2, "echo second-$((3+3))\n");
    EXPECT_TRUE(second_reader.until_out_contains(channel2, "second-6", 10s));
    EXPECT_TRUE(reader.until_out_contains(s.channel, "second-6", 10s));
    EXPECT_EQ(listed(client, s.session)->value("attached", 0), 2);
    EXPECT_FALSE(daemon().events("attach", s.session).empty()) << "attach was not audited";

    // detach: the channel is gone, the session keeps running.
    second.request({{"op", "detach"}}, 10s, channel2);
    EXPECT_EQ(error_code_of(second, {{"op", "input"}, {"data", "x"}}, 10s, channel2), "not_found");
    EXPECT_EQ(listed(client, s.session)->value("attached", 0), 1);
    EXPECT_EQ(listed(client, s.session)->value("state", ""), "running");
    client.request({{"op", "kill"}, {"session", s.session}, {"grace_ms", 200}});
    EXPECT_TRUE(reader.until_exit(s.channel, 20s));
}

TEST_F(SessionOpsTest, PtySignalReachesTheProgram) {
    auto client = daemon().connect();
    Reader reader(client);
    const auto s = spawn(client, reader,
                         spawn_body("dt-fast", "carol",
                                    {"/bin/sh", "-c",
                                     "trap 'echo got-usr1' USR1; echo armed; "
                                     "while :; do sleep 0.1; done"},
                                    "pty"),
                         kWindow);
    ASSERT_TRUE(reader.until_out_contains(s.channel, "armed", 10s));
    client.request({{"op", "signal"}, {"signal", "SIGUSR1"}}, 10s, s.channel);
    EXPECT_TRUE(reader.until_out_contains(s.channel, "got-usr1", 10s))
        << reader.channel(s.channel).out;
    // By number, on channel 0 with the session field.
    client.request({{"op", "signal"}, {"session", s.session}, {"signal", 15}});
    ASSERT_TRUE(reader.until_exit(s.channel, 20s));
    const auto& report = reader.channel(s.channel).exit_report;
    EXPECT_EQ(report.value("status", ""), "signaled") << report.dump();
    EXPECT_EQ(report.value("signal", 0), 15) << report.dump();
    EXPECT_EQ(
        error_code_of(client, {{"op", "signal"}, {"session", s.session}, {"signal", "SIGSEGV"}}),
        "bad_request");
}

TEST_F(SessionOpsTest, PipeCatEchoesInputAndEndsOnEof) {
    auto client = daemon().connect();
    Reader reader(client);
    const auto s = spawn(client, reader, spawn_body("dt-fast", "dave", {"/bin/cat"}), kWindow);
    EXPECT_EQ(s.response.value("mode", ""), "pipe");
    EXPECT_GT(s.response.value("in_credit", 0ull), 0ull);
    client.send_input(s.channel, "hello pipe\n");
    ASSERT_TRUE(reader.until_out_contains(s.channel, "hello pipe\n", 10s));
    client.request({{"op", "input"}, {"data", "via op\n"}}, 10s, s.channel);
    ASSERT_TRUE(reader.until_out_contains(s.channel, "via op\n", 10s));
    // Pipe mode is byte-exact: no terminal translation.
    EXPECT_EQ(reader.channel(s.channel).out, "hello pipe\nvia op\n");
    EXPECT_EQ(
        error_code_of(client, {{"op", "resize"}, {"cols", 100}, {"rows", 30}}, 10s, s.channel),
        "bad_request");

    const auto entry = listed(client, s.session);
    ASSERT_TRUE(entry);
    EXPECT_EQ(entry->value("mode", ""), "pipe");
    const auto inspect = client.request({{"op", "inspect"}, {"session", s.session}});
    EXPECT_EQ(inspect.value("mode", ""), "pipe");
    EXPECT_EQ(inspect.value("bytes_in", 0ull), 18ull);
    EXPECT_EQ(inspect.value("bytes_out", 0ull), 18ull);

    client.send_eof(s.channel);
    ASSERT_TRUE(reader.until_exit(s.channel, 20s)) << "cat did not end after EOF";
    EXPECT_TRUE(reader.channel(s.channel).eof);
    const auto& report = reader.channel(s.channel).exit_report;
    EXPECT_EQ(report.value("status", ""), "exited") << report.dump();
    EXPECT_EQ(report.value("exit_code", -1), 0) << report.dump();

    // Ended sessions stay inspectable, with their report.
    ASSERT_TRUE(reader.until(
        [&] {
            return client.request({{"op", "inspect"}, {"session", s.session}}).value("state", "") ==
                   "ended";
        },
        10s));
    const auto ended = client.request({{"op", "inspect"}, {"session", s.session}});
    EXPECT_EQ(ended["report"].value("status", ""), "exited") << ended.dump();
}

TEST_F(SessionOpsTest, PipeKeepsStdoutAndStderrApartAndReportsTheExitCode) {
    auto client = daemon().connect();
    Reader reader(client);
    const auto s =
        spawn(client, reader,
              spawn_body("dt-fast", "erin",
                         {"/bin/sh", "-c", "echo to-out; echo to-err >&2; echo more-out; exit 3"}),
              kWindow);
    ASSERT_TRUE(reader.until_exit(s.channel, 20s));
    EXPECT_EQ(reader.channel(s.channel).out, "to-out\nmore-out\n");
    EXPECT_EQ(reader.channel(s.channel).err, "to-err\n");
    const auto& report = reader.channel(s.channel).exit_report;
    EXPECT_EQ(report.value("status", ""), "exited") << report.dump();
    EXPECT_EQ(report.value("exit_code", -1), 3) << report.dump();
}

TEST_F(SessionOpsTest, PipeSignalAndKill) {
    auto client = daemon().connect();
    Reader reader(client);
    const auto a =
        spawn(client, reader, spawn_body("dt-fast", "frank", {"/bin/sleep", "100"}), kWindow);
    const auto b =
        spawn(client, reader,
              spawn_body("dt-fast", "frank", {"/bin/sh", "-c", "trap '' TERM; echo up; sleep 100"}),
              kWindow);
    ASSERT_TRUE(reader.until_out_contains(b.channel, "up", 10s));

    client.request({{"op", "signal"}, {"signal", "SIGTERM"}}, 10s, a.channel);
    ASSERT_TRUE(reader.until_exit(a.channel, 20s));
    EXPECT_EQ(reader.channel(a.channel).exit_report.value("status", ""), "signaled");
    EXPECT_EQ(reader.channel(a.channel).exit_report.value("signal", 0), 15);

    // b ignores SIGTERM: kill must still end it once the grace has passed.
    const auto started = std::chrono::steady_clock::now();
    client.request({{"op", "kill"}, {"grace_ms", 500}}, 10s, b.channel);
    ASSERT_TRUE(reader.until_exit(b.channel, 20s));
    EXPECT_GE(std::chrono::steady_clock::now() - started, 400ms) << "the grace was not honoured";
    EXPECT_EQ(reader.channel(b.channel).exit_report.value("status", ""), "killed");
    EXPECT_EQ(error_code_of(client, {{"op", "kill"}, {"session", b.session}, {"grace_ms", 700000}}),
              "bad_request");
}

TEST_F(SessionOpsTest, DetachedSessionKeepsRunningAndCanBeReattached) {
    auto client = daemon().connect();
    Reader reader(client);
    const auto s = spawn(client, reader, spawn_body("dt-fast", "gina", {"/bin/cat"}), kWindow);
    client.send_input(s.channel, "one\n");
    ASSERT_TRUE(reader.until_out_contains(s.channel, "one\n", 10s));
    client.request({{"op", "detach"}}, 10s, s.channel);
    EXPECT_FALSE(daemon().events("detach", s.session).empty()) << "detach was not audited";

    // Same connection, new channel, from the current end: only new output.
    const auto attached =
        attach(client, reader, {{"session", s.session}, {"from_offset", 4}}, kWindow);
    const auto channel = attached.at("channel").get<std::uint32_t>();
    EXPECT_NE(channel, s.channel);
    EXPECT_EQ(attached.value("offset", 0ull), 4ull);
    client.send_input(channel, "two\n");
    ASSERT_TRUE(reader.until_out_contains(channel, "two\n", 10s));
    EXPECT_EQ(reader.channel(channel).out, "two\n");

    // A client disconnecting is a detach too: the session survives it.
    {
        auto other = daemon().connect("leaves");
        Reader r(other);
        attach(other, r, {{"session", s.session}}, 0);
    }
    std::this_thread::sleep_for(200ms);
    const auto entry = listed(client, s.session);
    ASSERT_TRUE(entry);
    EXPECT_EQ(entry->value("state", ""), "running");
    EXPECT_EQ(entry->value("attached", 0), 1);
    client.send_eof(channel);
    ASSERT_TRUE(reader.until_exit(channel, 20s));
    EXPECT_EQ(reader.channel(channel).exit_report.value("exit_code", -1), 0);
}

TEST_F(SessionOpsTest, ProfilesAndMetricsAnswer) {
    auto client = daemon().connect();
    const auto profiles = client.request({{"op", "profiles"}});
    std::set<std::string> names;
    for (const auto& p : profiles.at("profiles")) {
        names.insert(p.value("name", ""));
    }
    EXPECT_TRUE(names.contains("dt-fast") && names.contains("dt-rate") && names.contains("base"))
        << profiles.dump();
    Reader reader(client);
    const auto s = spawn(client, reader, spawn_body("dt-fast", "hank", {"/bin/true"}), kWindow);
    ASSERT_TRUE(reader.until_exit(s.channel, 20s));
    const auto metrics = client.request({{"op", "metrics"}}).value("text", "");
    EXPECT_THAT(metrics, HasSubstr("# TYPE")) << metrics;
    EXPECT_THAT(metrics, HasSubstr("dt-fast")) << metrics;
}

TEST_F(SessionOpsTest, AReadOnlyAttachmentWatchesButCannotWriteResizeSignalOrKill) {
    auto owner = daemon().connect();
    Reader owner_reader(owner);
    const auto s =
        spawn(owner, owner_reader, spawn_body("dt-fast", "alice", {"/bin/sh"}, "pty"), kWindow);

    auto admin = daemon().connect();
    Reader admin_reader(admin);
    const auto attached =
        attach(admin, admin_reader, {{"op", "attach"}, {"session", s.session}, {"read_only", true}},
               kWindow);
    const auto channel = attached.at("channel").get<std::uint32_t>();
    EXPECT_EQ(attached.value("in_credit", 1u), 0u) << "a read-only channel gets no input credit";

    // It sees the session's output.
    owner.send_input(s.channel, "echo seen-$((3*3))\n");
    ASSERT_TRUE(admin_reader.until_out_contains(channel, "seen-9", 10s))
        << admin_reader.channel(channel).out;

    // Every write on the read-only channel is refused, and changes nothing.
    EXPECT_EQ(error_code_of(admin, {{"op", "input"}, {"data", "echo nope\n"}}, 10s, channel),
              "forbidden");
    EXPECT_EQ(error_code_of(admin, {{"op", "resize"}, {"cols", 10}, {"rows", 10}}, 10s, channel),
              "forbidden");
    EXPECT_EQ(error_code_of(admin, {{"op", "signal"}, {"signal", "SIGKILL"}}, 10s, channel),
              "forbidden");
    EXPECT_EQ(error_code_of(admin, {{"op", "kill"}, {"grace_ms", 0}}, 10s, channel), "forbidden");
    admin.send_input(channel, "echo raw-in\n");
    ASSERT_TRUE(
        admin_reader.until([&] { return admin_reader.channel(channel).has_event("error"); }, 10s));
    EXPECT_EQ(error_event_code(*admin_reader.channel(channel).event("error")), "forbidden");

    // The session still runs and still answers its owner.
    owner.send_input(s.channel, "echo alive-$((4*4))\n");
    ASSERT_TRUE(owner_reader.until_out_contains(s.channel, "alive-16", 10s));
    EXPECT_THAT(owner_reader.channel(s.channel).out, ::testing::Not(HasSubstr("raw-in")));
    EXPECT_THAT(owner_reader.channel(s.channel).out, ::testing::Not(HasSubstr("nope")));

    owner.request({{"op", "kill"}, {"grace_ms", 0}}, 10s, s.channel);
    EXPECT_TRUE(owner_reader.until_exit(s.channel, 20s));
}

}  // namespace
}  // namespace ccjail::dtest
