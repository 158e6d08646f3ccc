// Two users of one web UI, running Claude Code at the same time: each session sees its own
// HOME, workspace, processes and transcripts, and nothing of the other's.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <fstream>

#include "e2e_harness.hpp"

namespace ccjail::e2e {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

class TwoUsersTest : public ClaudeE2ETest {};

std::string session_id_of(const std::string& out) {
    for (const auto& e : json_lines(out)) {
        if (e.value("type", "") == "system" && e.value("subtype", "") == "init") {
            return e.value("session_id", "");
        }
    }
    return "";
}

uid_t owner_of(const fs::path& path) {
    struct stat st {};
    return ::stat(path.c_str(), &st) == 0 ? st.st_uid : static_cast<uid_t>(-1);
}

TEST_F(TwoUsersTest, NeitherSeesTheOthersHomeWorkspaceProcessesOrTranscripts) {
    const std::string users[2] = {"alice", "bob"};
    auto client = daemon().connect("e2e-two");
    dtest::Reader reader(client);

    // Both users' agent turns run at once.
    dtest::Spawned turns[2];
    for (int i = 0; i < 2; ++i) {
        turns[i] = dtest::spawn(
            client, reader,
            claude_print_body(claude_profile(), users[i], "write the marker for " + users[i]),
            1u << 20);
        client.send_eof(turns[i].channel);
    }
    ASSERT_TRUE(reader.until(
        [&] {
            return !reader.channel(turns[0].channel).exit_report.is_null() &&
                   !reader.channel(turns[1].channel).exit_report.is_null();
        },
        180s));
    std::string claude_session[2];
    uid_t uid[2];
    for (int i = 0; i < 2; ++i) {
        const auto& ch = reader.channel(turns[i].channel);
        ASSERT_EQ(ch.exit_report.value("exit_code", -1), 0) << users[i] << ": " << ch.err;
        claude_session[i] = session_id_of(ch.out);
        ASSERT_FALSE(claude_session[i].empty()) << ch.out;
        uid[i] = owner_of(home_of(users[i]));
        ASSERT_TRUE(fs::exists(workspace_of(users[i]) / kMarkerFile)) << users[i];
        // A file only this user has, in the workspace.
        const fs::path own = workspace_of(users[i]) / (users[i] + "-only.txt");
        std::ofstream(own) << users[i] << "\n";
        ASSERT_EQ(::chown(own.c_str(), uid[i], uid[i]), 0);
    }
    ASSERT_NE(uid[0], uid[1]);
    for (const uid_t id : uid) {
        EXPECT_GE(id, 200000u);
    }
    for (int i = 0; i < 2; ++i) {
        // Per-user homes are closed to everyone else on the host, too.
        struct stat st {};
        ASSERT_EQ(::stat(home_of(users[i]).c_str(), &st), 0);
        EXPECT_EQ(st.st_mode & 077, 0u) << home_of(users[i]);
    }

    // While one user's session is alive (a long sleep in the same jail kind), the other looks
    // around from inside its own.
    for (int me = 0; me < 2; ++me) {
        const int other = 1 - me;
        dtest::Spawned sleeper = dtest::spawn(
            client, reader,
            dtest::spawn_body("e2e-claude-shell", users[other], {"sleep 120"}, "pipe"), 0);
        const std::string script =
            "echo \"uid=$(id -u) home=$HOME\"\n"
            "echo '== home'; ls -a \"$HOME\" /home\n"
            "echo '== projects'; find \"$HOME/.claude/projects\" -type f\n"
            "echo '== workspace'; ls -a /workspace\n"
            "echo '== ps'; ps -eo pid,uid,comm\n"
            "echo '== host paths'\n"
            "for p in " +
            home_of(users[other]).string() + " " + workspace_of(users[other]).string() + " /home/" +
            users[other] +
            "; do test -e \"$p\" && echo \"VISIBLE $p\"; done\n"
            "echo '== grep'\n"
            "grep -rl -e " +
            claude_session[other] + " -e " + users[other] +
            "-only \"$HOME\" /workspace /tmp /home 2>/dev/null\n"
            "echo '== done'\n";
        const PipeRun look =
            run_pipe(client, dtest::spawn_body("e2e-claude-shell", users[me], {script}));
        const std::string& out = look.out;
        SCOPED_TRACE(users[me] + " looking for " + users[other] + ":\n" + out);
        EXPECT_THAT(out, HasSubstr("== done"));
        EXPECT_THAT(out, HasSubstr("uid=" + std::to_string(uid[me]) + " home=/home/user"));
        // Its own transcript and file are there; the other's are not.
        EXPECT_THAT(out, HasSubstr(claude_session[me] + ".jsonl"));
        EXPECT_THAT(out, Not(HasSubstr(claude_session[other])));
        EXPECT_THAT(out, HasSubstr(users[me] + "-only.txt"));
        EXPECT_THAT(out, Not(HasSubstr(users[other] + "-only")));
        EXPECT_THAT(out, Not(HasSubstr("VISIBLE")));
        // Its process list is its own pid namespace: no sleep of the other user, no other uid.
        EXPECT_THAT(out, Not(HasSubstr("sleep")));
        EXPECT_THAT(out, Not(HasSubstr(" " + std::to_string(uid[other]) + " ")));
        client.request({{"op", "kill"}, {"session", sleeper.session}, {"grace_ms", 0}}, 10s);
        EXPECT_TRUE(reader.until_exit(sleeper.channel, 30s));
    }
    // Each transcript is only in its owner's home on the host.
    for (int i = 0; i < 2; ++i) {
        const fs::path projects = home_of(users[i]) / ".claude/projects/-workspace";
        EXPECT_TRUE(fs::exists(projects / (claude_session[i] + ".jsonl")));
        EXPECT_FALSE(fs::exists(projects / (claude_session[1 - i] + ".jsonl")));
    }
}

}  // namespace
}  // namespace ccjail::e2e
