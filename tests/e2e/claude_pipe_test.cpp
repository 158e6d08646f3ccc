// The real Claude Code CLI in pipe mode (stream-json), as a Node server's Agent SDK would run
// it: one agentic turn against the fake API, the Bash tool running inside the jail.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <fstream>
#include <sstream>

#include "e2e_harness.hpp"

namespace ccjail::e2e {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

std::string slurp(const fs::path& path) {
    std::ifstream in(path, std::ios::binary);
    std::ostringstream text;
    text << in.rdbuf();
    return text.str();
}

// The stream-json events of one `claude -p` run, and what they say.
struct StreamJson {
    std::vector<json> events;
    std::string session_id;
    std::string tool_result;
    std::string result_text;
    bool tool_use_bash = false;
    bool result_success = false;
};

std::string flatten_tool_result(const json& content) {
    if (content.is_string()) {
        return content.get<std::string>();
    }
    std::string text;
    if (content.is_array()) {
        for (const auto& part : content) {
            text += part.value("text", "");
        }
    }
    return text;
}

StreamJson parse_stream(const std::string& out) {
    StreamJson s;
    s.events = json_lines(out);
    for (const auto& e : s.events) {
        const std::string type = e.value("type", "");
        if (type == "system" && e.value("subtype", "") == "init") {
            s.session_id = e.value("session_id", "");
        }
        if ((type == "assistant" || type == "user") && e.contains("message") &&
            e["message"].contains("content") && e["message"]["content"].is_array()) {
            for (const auto& block : e["message"]["content"]) {
                if (block.value("type", "") == "tool_use" && block.value("name", "") == "Bash") {
                    s.tool_use_bash = true;
                }
                if (block.value("type", "") == "tool_result") {
                    s.tool_result += flatten_tool_result(block.value("content", json()));
                }
            }
        }
        if (type == "result") {
            s.result_success = e.value("subtype", "") == "success" && !e.value("is_error", true);
            s.result_text = e.value("result", "");
        }
    }
    return s;
}

// The uid the tool printed ("tool-uid=N"), or -1.
long tool_uid(const std::string& tool_result) {
    const auto at = tool_result.find(kToolUidPrefix);
    if (at == std::string::npos) {
        return -1;
    }
    return std::strtol(tool_result.c_str() + at + std::strlen(kToolUidPrefix), nullptr, 10);
}

class ClaudePipeTest : public ClaudeE2ETest {
  protected:
    // One `claude -p` run through `profile` as `user`, checked from the client's side (the
    // stream-json events) and the host's (workspace, home). Returns the parsed stream.
    StreamJson run_agent_turn(const std::string& profile, const std::string& user) {
        auto client = daemon().connect("e2e");
        const PipeRun run = run_pipe(client, claude_print_body(profile, user, "write the marker"));
        EXPECT_TRUE(run.finished) << "no exit within the timeout; stderr: " << run.err;
        EXPECT_EQ(run.report.value("status", ""), "exited") << run.report.dump();
        EXPECT_EQ(run.report.value("exit_code", -1), 0) << run.report.dump() << "\n" << run.err;

        // The client received the CLI's stream-json events.
        const StreamJson s = parse_stream(run.out);
        EXPECT_FALSE(s.session_id.empty()) << run.out << run.err;
        EXPECT_TRUE(s.tool_use_bash) << run.out;
        EXPECT_TRUE(s.result_success) << run.out;
        EXPECT_EQ(s.result_text, kFinalText);

        // The tool ran in the jail as the session's uid, and its file is in the host workspace
        // owned by that uid.
        const fs::path marker = workspace_of(user) / kMarkerFile;
        EXPECT_THAT(slurp(marker), HasSubstr(kMarkerText)) << marker;
        struct stat st {};
        EXPECT_EQ(::stat(marker.c_str(), &st), 0) << marker;
        const long uid = tool_uid(s.tool_result);
        EXPECT_GE(uid, 200000) << s.tool_result;
        EXPECT_EQ(static_cast<long>(st.st_uid), uid);
        struct stat home {};
        EXPECT_EQ(::stat(home_of(user).c_str(), &home), 0);
        EXPECT_EQ(static_cast<long>(home.st_uid), uid);

        // The transcript is in the user's persistent home, under the workspace's jail path.
        const fs::path transcript =
            home_of(user) / ".claude/projects/-workspace" / (s.session_id + ".jsonl");
        EXPECT_TRUE(fs::exists(transcript)) << transcript;
        EXPECT_THAT(slurp(transcript), HasSubstr("E2E-FAKE-ANSWER")) << transcript;
        return s;
    }
};

TEST_F(ClaudePipeTest, VersionRunsInTheJail) {
    auto client = daemon().connect("e2e");
    const PipeRun run = run_pipe(client, dtest::spawn_body("e2e-claude", "alice", {"--version"}));
    EXPECT_EQ(run.report.value("status", ""), "exited") << run.report.dump() << run.err;
    EXPECT_EQ(run.report.value("exit_code", -1), 0) << run.err;
    EXPECT_THAT(run.out, HasSubstr(std::string(kClaudeVersion) + " (Claude Code)"));
}

// Without the gateway: the CLI in the claude-code jail, the network shared with the host.
TEST_F(ClaudePipeTest, HostNetworkAgentTurnRunsTheToolInTheJail) {
    const StreamJson s = run_agent_turn("e2e-claude-host", "alice");
    EXPECT_GE(plain_api().message_requests().size(), 2u);
}

// Through the daemon's gateway: the jail has a placeholder, the upstream gets the real key.
TEST_F(ClaudePipeTest, GatewayAgentTurnReachesTheApiWithTheKeyAddedOutside) {
    if (!gateway_supported()) {
        GTEST_SKIP() << "network mode gateway is not supported by this build yet";
    }
    const StreamJson s = run_agent_turn("e2e-claude", "alice");
    const auto requests = api().message_requests();
    ASSERT_GE(requests.size(), 2u) << "the fake API saw " << api().requests().size() << " requests";
    for (const auto& request : requests) {
        const json& headers = request.at("headers");
        EXPECT_EQ(headers.value("x-api-key", ""), api_key()) << headers.dump();
        // The CLI's own credential is a placeholder: it must not travel on beside the key.
        EXPECT_THAT(headers.value("authorization", ""), Not(HasSubstr("placeholder")))
            << headers.dump();
    }
    EXPECT_EQ(requests.front().at("body").value("stream", false), true);
}

// A later session of the same user finds the conversation: same home, same workspace path.
TEST_F(ClaudePipeTest, ResumeAndContinueFindTheConversationInTheNextSession) {
    auto client = daemon().connect("e2e");
    const std::string profile = claude_profile();
    const PipeRun first = run_pipe(client, claude_print_body(profile, "dana", "write the marker"));
    ASSERT_EQ(first.report.value("exit_code", -1), 0) << first.err;
    const std::string id = parse_stream(first.out).session_id;
    ASSERT_FALSE(id.empty()) << first.out;
    FakeApi& seen = gateway_supported() ? api() : plain_api();
    const auto history = [&] {
        return seen.message_requests().back().at("body").at("messages").size();
    };
    const std::size_t after_first = history();

    for (const std::vector<std::string>& how :
         {std::vector<std::string>{"--resume", id}, std::vector<std::string>{"--continue"}}) {
        json body = claude_print_body(profile, "dana", "and now?");
        for (const auto& arg : how) {
            body["argv"].push_back(arg);
        }
        const std::size_t before = history();
        const PipeRun next = run_pipe(client, body);
        ASSERT_EQ(next.report.value("exit_code", -1), 0) << how[0] << ": " << next.err;
        EXPECT_EQ(parse_stream(next.out).session_id, id) << how[0];
        // The model was sent the earlier turns as well as the new prompt.
        EXPECT_GT(history(), before) << how[0];
    }
    EXPECT_GT(history(), after_first);
}

// Nothing inside a gateway jail holds the key: not the environment of any process (a running
// CLI included), not a file in HOME, /tmp or /etc. The jail prints all of that; the host looks
// for the key in it, so the key itself never enters the jail.
TEST_F(ClaudePipeTest, GatewayNoKeyIsVisibleInsideTheJail) {
    if (!gateway_supported()) {
        GTEST_SKIP() << "network mode gateway is not supported by this build yet";
    }
    auto client = daemon().connect("e2e");
    // A first turn, so that HOME holds a transcript and settings written after API traffic.
    const PipeRun first = run_pipe(client, claude_print_body("e2e-claude", "bob", "hello"));
    ASSERT_EQ(first.report.value("exit_code", -1), 0) << first.err;
    ASSERT_FALSE(api().message_requests().empty());

    // The environments and command lines are read while the second CLI runs (it lives for
    // about a second against the fake API), then the files once it has written its own.
    const std::string script =
        "cli=/opt/ccjail/claude-code/node_modules/@anthropic-ai/claude-code/bin/claude.exe\n"
        "cd /workspace\n"
        "$cli -p again --output-format stream-json --verbose --dangerously-skip-permissions "
        "</dev/null >/tmp/cli.out 2>&1 &\n"
        "cli_pid=$!\n"
        "for i in $(seq 200); do\n"
        "  case $(readlink /proc/$cli_pid/exe) in *claude.exe) break ;; esac; sleep 0.01\n"
        "done\n"
        "sleep 0.3\n"
        "echo '== env'; env\n"
        "echo '== environ'\n"
        "for f in /proc/[0-9]*/environ; do echo \"-- $f\"; tr '\\0' '\\n' <\"$f\"; done\n"
        "echo '== cmdline'\n"
        "for f in /proc/[0-9]*/cmdline; do tr '\\0' ' ' <\"$f\"; echo; done\n"
        "wait\n"
        "echo '== files'\n"
        "find \"$HOME\" /tmp /etc /workspace -xdev -type f -size -4M -readable 2>/dev/null |\n"
        "  while read -r f; do echo \"-- $f\"; cat \"$f\"; done\n"
        "echo '== done'\n";
    const PipeRun look = run_pipe(client, dtest::spawn_body("e2e-claude-shell", "bob", {script}));
    ASSERT_EQ(look.report.value("exit_code", -1), 0) << look.err;
    // The dump is large: say what is missing, not all of it.
    const auto has = [&](const std::string& text) {
        return look.out.find(text) != std::string::npos;
    };
    EXPECT_TRUE(has("== done")) << look.out.substr(0, 2000);
    EXPECT_TRUE(has("ANTHROPIC_BASE_URL=http://127.0.0.1:")) << look.out.substr(0, 2000);
    EXPECT_TRUE(has("-- /tmp/cli.out"));
    EXPECT_TRUE(has("/home/user/.claude/projects/-workspace/"));
    // A command line of its own (the script's line starts with bash).
    EXPECT_TRUE(
        has("\n/opt/ccjail/claude-code/node_modules/@anthropic-ai/claude-code/bin/"
            "claude.exe -p again"))
        << "the CLI was not running when /proc was read";
    // The second CLI reached the API too (so its environment was looked at while it talked).
    EXPECT_GE(api().message_requests().size(), 2u);
    EXPECT_FALSE(has(api_key())) << "the key is visible in the jail";
    EXPECT_EQ(look.err.find(api_key()), std::string::npos) << "the key is visible in the jail";
    // Nor is a part of it long enough to matter.
    EXPECT_FALSE(has(api_key().substr(api_key().size() - 16)));
    // And the daemon's log never carries it.
    EXPECT_EQ(daemon().log_text().find(api_key()), std::string::npos);
}

}  // namespace
}  // namespace ccjail::e2e
