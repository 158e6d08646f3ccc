// The daemon's own life: a SIGKILL loses no session (the restarted daemon re-adopts it and the
// output continues where the client left off), and SIGTERM leaves nothing behind.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <sys/stat.h>

#include <fstream>
#include <map>
#include <thread>

#include "daemon_harness.hpp"
#include "stream_check.hpp"

namespace ccjail::dtest {
namespace {

std::string joined(const std::vector<std::string>& lines) {
    std::string text;
    for (const auto& line : lines) {
        text += line + "\n";
    }
    return text;
}

std::string joined(const std::vector<fs::path>& paths) {
    std::string text;
    for (const auto& path : paths) {
        text += path.string() + "\n";
    }
    return text;
}

class LifecycleTest : public DaemonTest {};

// Reads the session on `channel` into `check` and SIGKILLs the daemon once `crash_at` bytes
// have arrived: right after granting fresh credit and `delay` later, so that output is in
// flight (being read from the jail, queued in the daemon, in the socket) when it dies. Then
// reads what the dead daemon had sent until the connection ends.
void read_until_crash(Daemon& daemon, client::Client& client, std::uint32_t channel_id,
                      StreamCheck& check, std::uint64_t crash_at, std::chrono::microseconds delay) {
    Reader reader(client);
    bool crashed = false;
    auto& channel = reader.channel(channel_id);
    channel.keep_data = false;
    channel.sink = [&](bool out, std::string_view bytes) {
        if (out) {
            check.feed(bytes);
        }
        if (!crashed && check.offset() >= crash_at) {
            crashed = true;
            reader.grant(channel_id, 256 * 1024);
            std::this_thread::sleep_for(delay);
            daemon.kill_hard();
        }
    };
    reader.open(channel_id, 256 * 1024);
    reader.until([&] { return reader.closed(); }, 30s);
    ASSERT_TRUE(crashed) << "received up to " << check.offset();
    EXPECT_TRUE(channel.exit_report.is_null()) << "the session ended with the daemon";
}

// Attaches to `session` after a restart from the offset the client has, checking that the
// session kept running and nothing before that offset was released.
std::uint32_t reattach(client::Client& client, const std::string& session, pid_t pid,
                       std::uint64_t from) {
    const auto info = client.request({{"op", "inspect"}, {"session", session}});
    EXPECT_EQ(info.value("state", ""), "running") << info.dump();
    EXPECT_EQ(info.value("pid", -2), pid);
    const auto attached =
        client.request({{"op", "attach"}, {"session", session}, {"from_offset", from}});
    EXPECT_LE(attached.value("begin_offset", from + 1), from)
        << "output the client never received was released: " << attached.dump();
    return attached.at("channel").get<std::uint32_t>();
}

// The daemon is SIGKILLed three times in the middle of a 48 MiB pipe stream, at different
// moments; after each restart the client reattaches from the bytes it has. The stream arrives
// whole, in order, with no dropped bytes, and the session exits normally.
TEST_F(LifecycleTest, SigkilledDaemonRestartsAndTheSessionContinuesIntact) {
    constexpr std::uint64_t kTotal = 48ull << 20;
    constexpr std::uint64_t kCrashEvery = 8ull << 20;
    const std::chrono::microseconds delays[] = {0us, 300us, 3000us};
    StreamCheck check;
    auto first = daemon().connect();
    const auto spawned =
        first.request(spawn_body("dt-fast", "crash", {kProbe, "gen", std::to_string(kTotal)}), 30s);
    const std::string session = spawned.at("session").get<std::string>();
    const pid_t pid = spawned.value("pid", -1);
    std::uint32_t channel = spawned.at("channel").get<std::uint32_t>();
    std::unique_ptr<client::Client> client = std::make_unique<client::Client>(std::move(first));
    for (int crash = 0; crash < 3; ++crash) {
        ASSERT_NO_FATAL_FAILURE(read_until_crash(daemon(), *client, channel, check,
                                                 kCrashEvery * (crash + 1), delays[crash]));
        ASSERT_LT(check.offset(), kTotal);
        ASSERT_TRUE(fs::exists(daemon().sessions_dir() / (session + ".json")))
            << "the session's state file is gone after the crash";
        EXPECT_EQ(::kill(pid, 0), 0) << "the jail died with the daemon";
        ASSERT_NO_FATAL_FAILURE(daemon().start());
        client = std::make_unique<client::Client>(daemon().connect("after-restart"));
        channel = reattach(*client, session, pid, check.offset());
    }
    Reader reader(*client);
    auto& state = reader.channel(channel);
    state.keep_data = false;
    state.sink = [&](bool out, std::string_view bytes) {
        if (out) {
            check.feed(bytes);
        }
    };
    reader.open(channel, 256 * 1024);
    ASSERT_TRUE(reader.until_exit(channel, 60s)) << "received up to " << check.offset();
    EXPECT_FALSE(state.has_event("dropped")) << state.event("dropped")->dump();
    EXPECT_EQ(check.received(), kTotal);
    EXPECT_FALSE(check.first_mismatch()) << "first wrong byte at " << *check.first_mismatch();
    EXPECT_EQ(check.sha256(), stream_sha256(0, kTotal));
    EXPECT_EQ(state.exit_report.value("status", ""), "exited") << state.exit_report.dump();
    EXPECT_EQ(state.exit_report.value("exit_code", -1), 0);
    EXPECT_EQ(daemon().events("daemon_started").size(), 4u);
    bool adopted = false;
    for (const auto& line : daemon().events("spawn_started", session)) {
        adopted = adopted || line.value("adopted", false);
    }
    EXPECT_TRUE(adopted) << "no spawn_started{adopted} line after the restart";

    ASSERT_TRUE(daemon().terminate(30s));
    EXPECT_EQ(joined(descendant_processes()), "");
    EXPECT_EQ(joined(session_cgroups({session})), "");
    EXPECT_EQ(joined(files_in(daemon().sessions_dir())), "");
}

// SIGTERM with sessions in every state: pty and pipe, one that ignores SIGTERM, one with
// output, one detached, one ended. `window` is the OUT credit the spawning client grants.
void sigterm_leaves_nothing(Daemon& daemon, std::uint32_t window) {
    auto client = daemon.connect();
    Reader reader(client);
    std::set<std::string> ids;
    std::map<std::string, std::string> what;
    std::vector<pid_t> pids;
    auto record = [&](const Spawned& s, const json& body) {
        ids.insert(s.session);
        what[s.session] = body["mode"].get<std::string>() + " " + body["argv"].dump();
        pids.push_back(s.pid);
    };
    for (const auto& body :
         {spawn_body("dt-fast", "term", {"/bin/sh", "-c", "trap '' TERM; sleep 1000"}),
          spawn_body("dt-fast", "term", {kProbe, "gen", "10000000", "--then-sleep", "1000"}),
          spawn_body("dt-fast", "term", {"/bin/true"})}) {
        record(spawn(client, reader, body, window), body);
    }
    // One detached: its spawner's connection is gone. One ended (/bin/true above).
    {
        auto other = daemon.connect("detached");
        Reader r(other);
        const auto body = spawn_body("dt-fast", "term", {"/bin/sleep", "1000"}, "pty");
        record(spawn(other, r, body, 0), body);
    }
    std::this_thread::sleep_for(300ms);
    EXPECT_EQ(session_cgroups(ids).size() > 0, true) << "no jail cgroup found to check against";
    EXPECT_FALSE(files_in(daemon.sessions_dir()).empty());

    daemon.send_signal(SIGTERM);
    // The client keeps reading (and granting credit when it has a window) until the daemon
    // closes the connection.
    reader.until([&] { return reader.closed(); }, 30s);
    EXPECT_TRUE(reader.closed()) << "the connection outlived the shutdown";
    const auto status = daemon.wait(30s);
    ASSERT_TRUE(status) << "ccjaild did not exit within 30 s of SIGTERM";
    EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 0) << "status " << *status;

    EXPECT_EQ(joined(descendant_processes()), "");
    for (const pid_t pid : pids) {
        EXPECT_NE(::kill(pid, 0), 0) << "jail process " << pid << " survived";
    }
    EXPECT_EQ(joined(session_cgroups(ids)), "");
    EXPECT_EQ(joined(files_in(daemon.sessions_dir())), "") << json(what).dump(1);
    EXPECT_FALSE(fs::exists(daemon.socket())) << "the socket file is left";
    EXPECT_EQ(daemon.events("daemon_stopped").size(), 1u) << daemon.log_text();
}

TEST_F(LifecycleTest, SigtermLeavesNoProcessCgroupOrStateFile) {
    sigterm_leaves_nothing(daemon(), 1 << 20);
}

// The spawning client never grants credit (a stalled or hostile client): the shutdown must
// not wait on it.
TEST_F(LifecycleTest, SigtermLeavesNothingEvenWithAClientThatGrantsNoCredit) {
    sigterm_leaves_nothing(daemon(), 0);
}

TEST_F(LifecycleTest, RestartCleansUpAfterAMonitorThatDied) {
    auto client = daemon().connect();
    Reader reader(client);
    const auto s = spawn(client, reader, spawn_body("dt-fast", "gone", {"/bin/sleep", "1000"}), 0);
    const auto monitor =
        client.request({{"op", "inspect"}, {"session", s.session}}).value("monitor_pid", -1);
    ASSERT_GT(monitor, 0);
    daemon().kill_hard();
    // Monitor and jail die together while no daemon runs.
    ::kill(s.pid, SIGKILL);
    ::kill(monitor, SIGKILL);
    for (int i = 0; i < 100 && (::kill(monitor, 0) == 0 || ::kill(s.pid, 0) == 0); ++i) {
        reap_orphans();
        std::this_thread::sleep_for(20ms);
    }
    ASSERT_NO_FATAL_FAILURE(daemon().start());
    auto after = daemon().connect();
    EXPECT_EQ(error_code_of(after, {{"op", "inspect"}, {"session", s.session}}), "not_found");
    EXPECT_EQ(joined(files_in(daemon().sessions_dir())), "");
    EXPECT_EQ(joined(session_cgroups({s.session})), "")
        << "the restarted daemon left the dead session's empty cgroup";
}

// The outcome of a spawn of /bin/true from `profile`: "ok" or the error code.
std::string run_true(Daemon& daemon, const std::string& profile, const std::string& user) {
    auto client = daemon.connect();
    return error_code_of(client, spawn_body(profile, user, {"/bin/true"}));
}

// systemctl reload: profiles are read again; a broken edit keeps the last good version in use,
// a broken new file is not spawnable, a new valid one is, a deleted one is gone. Running
// sessions are untouched and the daemon stays up.
TEST_F(LifecycleTest, SighupReloadsProfilesAndABrokenEditKeepsTheLastGoodVersion) {
    auto client = daemon().connect();
    Reader reader(client);
    const auto s = spawn(client, reader, spawn_body("dt-fast", "hup", {"/bin/sleep", "1000"}), 0);
    const fs::path dir = daemon().profiles_dir();
    std::string fast = read_file(dir / "dt-fast.json");
    write_file(dir / "dt-new.json", fast, 0644);
    EXPECT_EQ(run_true(daemon(), "dt-new", "hup-new"), "unknown_profile")
        << "a profile file is not used before a reload";
    write_file(dir / "dt-fast.json", R"({"extends": "base", "network": "wifi"})", 0644);
    write_file(dir / "dt-broken.json", R"({"extends": "base", "limits": {"pids": -1}})", 0644);

    const json reloaded = daemon().reload();
    ASSERT_FALSE(reloaded.is_null()) << daemon().log_text();
    EXPECT_EQ(reloaded.value("level", ""), "error");
    EXPECT_THAT(reloaded["loaded"], ::testing::Contains("dt-new"));
    EXPECT_THAT(reloaded["kept_previous"].value("dt-fast", ""), ::testing::HasSubstr("/network"));
    EXPECT_THAT(reloaded["invalid"].value("dt-broken", ""), ::testing::HasSubstr("/limits/pids"));

    EXPECT_EQ(run_true(daemon(), "dt-fast", "hup-fast"), "ok") << "the last good dt-fast is kept";
    EXPECT_EQ(run_true(daemon(), "dt-new", "hup-new"), "ok");
    EXPECT_EQ(run_true(daemon(), "dt-broken", "hup-broken"), "internal");
    EXPECT_TRUE(daemon().running());
    EXPECT_EQ(client.request({{"op", "inspect"}, {"session", s.session}}).value("state", ""),
              "running");
    const json listed = client.request({{"op", "profiles"}});
    bool fast_listed_with_error = false;
    for (const auto& entry : listed.at("profiles")) {
        if (entry.value("name", "") == "dt-fast") {
            fast_listed_with_error = entry.contains("limits") && entry.contains("error");
        }
    }
    EXPECT_TRUE(fast_listed_with_error) << listed.dump();

    fs::remove(dir / "dt-new.json");
    const json again = daemon().reload();
    ASSERT_FALSE(again.is_null()) << daemon().log_text();
    EXPECT_THAT(again["removed"], ::testing::Contains("dt-new"));
    EXPECT_EQ(run_true(daemon(), "dt-new", "hup-new"), "unknown_profile");
}

// systemctl reload re-reads ccjaild.json: limits apply to the next spawn, keys that need a
// restart are named and keep their running value, and an invalid file changes nothing.
TEST_F(LifecycleTest, SighupReloadsTheConfigAndRefusesAnInvalidOne) {
    const fs::path config = daemon().root() / "ccjaild.json";
    json text = json::parse(read_file(config));
    text["max_sessions_per_user"] = 1;
    text["socket_mode"] = "0600";
    write_file(config, text.dump(2), 0644);
    ASSERT_FALSE(daemon().reload().is_null()) << daemon().log_text();
    const auto reloaded = daemon().events("config_reloaded");
    ASSERT_EQ(reloaded.size(), 1u) << daemon().log_text();
    EXPECT_THAT(reloaded[0]["applied"], ::testing::ElementsAre("max_sessions_per_user"));
    EXPECT_THAT(reloaded[0]["needs_restart"], ::testing::ElementsAre("socket_mode"));
    struct stat st {};
    ASSERT_EQ(::stat(daemon().socket().c_str(), &st), 0);
    EXPECT_NE(st.st_mode & 0777, 0600u) << "socket_mode waits for a restart";

    auto client = daemon().connect();
    Reader reader(client);
    const auto first =
        spawn(client, reader, spawn_body("dt-fast", "one", {"/bin/sleep", "1000"}), 0);
    EXPECT_EQ(error_code_of(client, spawn_body("dt-fast", "one", {"/bin/true"})),
              "too_many_sessions");

    write_file(config, R"({"max_sessions_per_user": "many"})", 0644);
    ASSERT_FALSE(daemon().reload().is_null()) << daemon().log_text();
    const auto failed = daemon().events("config_reload_failed");
    ASSERT_EQ(failed.size(), 1u) << daemon().log_text();
    EXPECT_THAT(failed[0].value("message", ""), ::testing::HasSubstr("max_sessions_per_user"));
    EXPECT_EQ(error_code_of(client, spawn_body("dt-fast", "one", {"/bin/true"})),
              "too_many_sessions")
        << "the running limit of 1 stays, not the default";
    EXPECT_EQ(client.request({{"op", "inspect"}, {"session", first.session}}).value("state", ""),
              "running");
}

}  // namespace
}  // namespace ccjail::dtest
