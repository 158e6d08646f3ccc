// The e2e tier's harness: the real Claude Code CLI (installed by scripts/install-claude-code.sh)
// run inside jails by a real ccjaild (the daemon tier's harness), against a fake Anthropic
// Messages API (fake_anthropic_api.mjs, a Node child of the test) that answers the first turn
// with a Bash tool_use and the next with text, and logs every request it got.
//
// Profiles (tests/e2e/profiles/, copied next to the shipped base.json and claude-code.json):
//   e2e-claude        the shipped claude-code profile with the CLI from the test cache;
//   e2e-claude-shell  the same jail running `bash -c SCRIPT`, for looking around inside;
//   e2e-claude-host   e2e-claude on the host network with ANTHROPIC_BASE_URL at the fake API's
//                     plain-HTTP port: runs the CLI without the gateway.
// Tests whose name starts with Gateway need network mode gateway; where the daemon does not
// support it yet they skip with a message saying so.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "../daemon/daemon_harness.hpp"

namespace ccjail::e2e {

namespace fs = std::filesystem;
using dtest::json;
using namespace std::chrono_literals;

// What the fake API's tool writes and says (keep in step with fake_anthropic_api.mjs).
inline constexpr const char* kMarkerFile = "made-by-tool.txt";
inline constexpr const char* kMarkerText = "e2e-made-by-tool";
inline constexpr const char* kToolUidPrefix = "tool-uid=";
inline constexpr const char* kFinalText = "E2E-FAKE-ANSWER: the marker file is written.";
inline constexpr const char* kClaudeVersion = "2.1.332";

// The fake Anthropic API as a child process: HTTPS with the test CA's leaf certificate, or
// plain HTTP.
class FakeApi {
  public:
    FakeApi(const fs::path& dir, bool tls);
    ~FakeApi();
    FakeApi(const FakeApi&) = delete;
    FakeApi& operator=(const FakeApi&) = delete;

    std::uint16_t port() const { return port_; }
    std::string url() const;
    // Every request so far, oldest first: {method, path, headers, body}.
    std::vector<json> requests() const;
    // POST /v1/messages requests only.
    std::vector<json> message_requests() const;

  private:
    fs::path log_;
    pid_t pid_ = -1;
    std::uint16_t port_ = 0;
    bool tls_ = false;
};

// Where the e2e tier finds its inputs: the CLI tree and the TLS material (made on demand).
fs::path claude_dir();
fs::path tls_dir();

// A finished pipe-mode session.
struct PipeRun {
    std::string session;
    std::string out;
    std::string err;
    json report;
    bool finished = false;
};

// One line of stream-json output per element (lines that do not parse are skipped).
std::vector<json> json_lines(const std::string& text);
// Terminal output with escape sequences and all whitespace removed: Claude Code's TUI moves
// the cursor instead of writing spaces, so words are compared without them.
std::string screen_text(const std::string& bytes);
// The longest run of U+2500 (box drawing horizontal) in `bytes`: the TUI's rules span the
// terminal's width.
std::size_t longest_rule(const std::string& bytes);

class ClaudeE2ETest : public dtest::DaemonTest {
  protected:
    void SetUp() override;
    void TearDown() override;
    dtest::DaemonOptions options() const override;

    FakeApi& api() { return *api_; }
    FakeApi& plain_api() { return *plain_api_; }
    const std::string& api_key() const { return api_key_; }

    // The profile the tests that do not need the gateway run on: e2e-claude once the gateway
    // works, else e2e-claude-host.
    std::string claude_profile();
    bool gateway_supported();

    // Spawns `body` in pipe mode, closes its stdin and reads until the exit event.
    PipeRun run_pipe(client::Client& client, const json& body,
                     std::chrono::milliseconds timeout = 180s);
    // The request body of `claude -p PROMPT --output-format stream-json --verbose
    // --dangerously-skip-permissions` for `user` on `profile`.
    json claude_print_body(const std::string& profile, const std::string& user,
                           const std::string& prompt);

    fs::path home_of(const std::string& user) const;
    fs::path workspace_of(const std::string& user) const;
    // Every live descendant of the test but the daemon and the fake APIs.
    std::vector<std::string> leftover_processes();

  private:
    void install_profiles();

    std::unique_ptr<FakeApi> api_;
    std::unique_ptr<FakeApi> plain_api_;
    std::string api_key_;
    fs::path scratch_;
    std::optional<bool> gateway_supported_;
};

}  // namespace ccjail::e2e
