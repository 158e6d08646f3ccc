// The real Claude Code TUI in pty mode, as a web terminal (xterm.js over Socket.IO) drives it:
// the prompt appears, a typed prompt gets the fake answer rendered, a resize reaches it, and a
// kill ends the session leaving nothing behind.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <thread>

#include "e2e_harness.hpp"

namespace ccjail::e2e {
namespace {

using ::testing::HasSubstr;

class ClaudeTuiTest : public ClaudeE2ETest {};

TEST_F(ClaudeTuiTest, PromptAnswerResizeAndKill) {
    auto client = daemon().connect("e2e-tui");
    dtest::Reader reader(client);
    json body =
        dtest::spawn_body(claude_profile(), "carol", {"--dangerously-skip-permissions"}, "pty");
    body["cols"] = 120;
    body["rows"] = 40;
    body["env"] = {{"TERM", "xterm-256color"}, {"COLORTERM", "truecolor"}};
    const dtest::Spawned s = dtest::spawn(client, reader, body, 1u << 20);
    auto& channel = reader.channel(s.channel);
    const auto screen_has = [&](const std::string& words) {
        return [&, words] { return screen_text(channel.out).find(words) != std::string::npos; };
    };

    // The input box, in bypass-permissions mode: no onboarding, trust or API key dialog came
    // first (the seeded ~/.claude.json and the managed settings' apiKeyHelper).
    ASSERT_TRUE(reader.until(screen_has("bypasspermissionson"), 60s))
        << "no prompt; the screen says: " << screen_text(channel.out);
    EXPECT_EQ(screen_text(channel.out).find("trustthisfolder"), std::string::npos);
    EXPECT_EQ(longest_rule(channel.out), 120u);

    // Typed like a person: the text, then Enter on its own.
    client.send_input(s.channel, "write the marker");
    reader.drain_for(500ms);
    client.send_input(s.channel, "\r");
    ASSERT_TRUE(reader.until(screen_has("E2E-FAKE-ANSWER"), 90s))
        << "no answer rendered; the screen says: " << screen_text(channel.out);
    EXPECT_TRUE(fs::exists(workspace_of("carol") / kMarkerFile));

    // A resize reaches the TUI: it redraws its rules at the new width.
    const std::size_t before = channel.out.size();
    client.request({{"op", "resize"}, {"session", s.session}, {"cols", 90}, {"rows", 30}}, 10s);
    EXPECT_TRUE(reader.until([&] { return longest_rule(channel.out.substr(before)) == 90; }, 20s))
        << "longest rule after the resize: " << longest_rule(channel.out.substr(before));
    EXPECT_LT(longest_rule(channel.out.substr(before)), 120u);

    // Kill ends it cleanly: the exit event, then no process and no cgroup of it.
    client.request({{"op", "kill"}, {"session", s.session}, {"grace_ms", 2000}}, 10s);
    ASSERT_TRUE(reader.until_exit(s.channel, 30s));
    EXPECT_EQ(channel.exit_report.value("status", ""), "killed") << channel.exit_report.dump();
    std::vector<std::string> left;
    for (int i = 0; i < 100; ++i) {
        left = leftover_processes();
        if (left.empty()) {
            break;
        }
        std::this_thread::sleep_for(50ms);
    }
    EXPECT_TRUE(left.empty()) << ::testing::PrintToString(left);
    EXPECT_TRUE(dtest::session_cgroups({s.session}).empty());
}

}  // namespace
}  // namespace ccjail::e2e
