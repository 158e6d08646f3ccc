#include "e2e_harness.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <random>
#include <sstream>
#include <thread>

#include "profile/profile_loader.hpp"

namespace ccjail::e2e {
namespace {

using Clock = std::chrono::steady_clock;

using dtest::read_file;
using dtest::replace_all;
using dtest::write_file;

std::string env_or(const char* name, const std::string& fallback) {
    const char* value = std::getenv(name);
    return value != nullptr && *value != '\0' ? value : fallback;
}

std::string random_hex(std::size_t bytes) {
    std::random_device device;
    std::string out;
    static constexpr char kDigits[] = "0123456789abcdef";
    for (std::size_t i = 0; i < bytes; ++i) {
        const unsigned value = device() & 0xff;
        out += kDigits[value >> 4];
        out += kDigits[value & 0xf];
    }
    return out;
}

fs::path cli_binary() {
    return claude_dir() / "node_modules/@anthropic-ai/claude-code/bin/claude.exe";
}

}  // namespace

fs::path claude_dir() {
    return env_or("CCJAIL_E2E_CLAUDE_DIR",
                  std::string("/var/cache/ccjail-test/claude-code/") + kClaudeVersion);
}

fs::path tls_dir() {
    const fs::path dir = env_or("CCJAIL_E2E_TLS_DIR", "/tmp/ccjail-e2e-tls");
    if (!fs::exists(dir / "server.pem") || !fs::exists(dir / "ca.pem")) {
        const auto made = dtest::run_command(
            {"/bin/bash", CCJAIL_E2E_SOURCE_DIR "/make_test_ca.sh", dir.string()}, 60s);
        if (made.exit_code != 0) {
            throw std::runtime_error("make_test_ca.sh failed: " + made.err);
        }
    }
    return dir;
}

// ---- FakeApi ------------------------------------------------------------------------------------

FakeApi::FakeApi(const fs::path& dir, bool tls) : tls_(tls) {
    const std::string name = tls ? "https" : "http";
    log_ = dir / ("fake-api-" + name + ".log");
    const fs::path port_file = dir / ("fake-api-" + name + ".port");
    std::vector<std::string> args = {env_or("CCJAIL_E2E_NODE", "/usr/bin/node"),
                                     CCJAIL_E2E_SOURCE_DIR "/fake_anthropic_api.mjs",
                                     "--log",
                                     log_.string(),
                                     "--port-file",
                                     port_file.string()};
    if (tls) {
        const fs::path certs = tls_dir();
        args.insert(args.end(), {"--cert", (certs / "server.pem").string(), "--key",
                                 (certs / "server.key").string()});
    }
    const fs::path output = dir / ("fake-api-" + name + ".out");
    pid_ = ::fork();
    if (pid_ < 0) {
        throw std::runtime_error(std::string("fork: ") + std::strerror(errno));
    }
    if (pid_ == 0) {
        const int out = ::open(output.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
        const int null = ::open("/dev/null", O_RDONLY);
        ::dup2(null, 0);
        ::dup2(out, 1);
        ::dup2(out, 2);
        ::close_range(3, ~0U, 0);
        std::vector<char*> argv;
        for (auto& arg : args) {
            argv.push_back(arg.data());
        }
        argv.push_back(nullptr);
        ::execv(argv[0], argv.data());
        ::_exit(127);
    }
    const auto deadline = Clock::now() + 20s;
    while (Clock::now() < deadline) {
        const std::string text = read_file(port_file);
        if (!text.empty()) {
            port_ = static_cast<std::uint16_t>(std::stoul(text));
            return;
        }
        int status = 0;
        if (::waitpid(pid_, &status, WNOHANG) == pid_) {
            pid_ = -1;
            throw std::runtime_error("the fake API exited: " + read_file(output));
        }
        std::this_thread::sleep_for(20ms);
    }
    throw std::runtime_error("the fake API did not listen within 20 s: " + read_file(output));
}

FakeApi::~FakeApi() {
    if (pid_ > 0) {
        ::kill(pid_, SIGTERM);
        const auto deadline = Clock::now() + 5s;
        while (::waitpid(pid_, nullptr, WNOHANG) == 0 && Clock::now() < deadline) {
            std::this_thread::sleep_for(10ms);
        }
        ::kill(pid_, SIGKILL);
        ::waitpid(pid_, nullptr, WNOHANG);
    }
}

std::string FakeApi::url() const {
    return std::string(tls_ ? "https" : "http") + "://127.0.0.1:" + std::to_string(port_);
}

std::vector<json> FakeApi::requests() const {
    return json_lines(read_file(log_));
}

std::vector<json> FakeApi::message_requests() const {
    std::vector<json> found;
    for (auto& request : requests()) {
        const std::string path = request.value("path", "");
        if (request.value("method", "") == "POST" && path.rfind("/v1/messages", 0) == 0 &&
            path.rfind("/v1/messages/", 0) != 0) {
            found.push_back(std::move(request));
        }
    }
    return found;
}

// ---- text ---------------------------------------------------------------------------------------

std::vector<json> json_lines(const std::string& text) {
    std::vector<json> lines;
    std::istringstream in(text);
    std::string line;
    while (std::getline(in, line)) {
        auto parsed = json::parse(line, nullptr, false);
        if (parsed.is_object()) {
            lines.push_back(std::move(parsed));
        }
    }
    return lines;
}

std::string screen_text(const std::string& bytes) {
    std::string out;
    for (std::size_t i = 0; i < bytes.size(); ++i) {
        const char c = bytes[i];
        if (c != '\x1b') {
            if (!std::isspace(static_cast<unsigned char>(c)) &&
                static_cast<unsigned char>(c) >= 0x20) {
                out += c;
            }
            continue;
        }
        if (i + 1 >= bytes.size()) {
            break;
        }
        const char kind = bytes[i + 1];
        if (kind == '[') {
            // CSI: parameters and intermediates, then one final byte in @..~.
            std::size_t j = i + 2;
            while (j < bytes.size() && (static_cast<unsigned char>(bytes[j]) < 0x40 ||
                                        static_cast<unsigned char>(bytes[j]) > 0x7e)) {
                ++j;
            }
            i = j;
        } else if (kind == ']' || kind == 'P' || kind == '_') {
            // OSC/DCS/APC: up to BEL or ST.
            std::size_t j = i + 2;
            while (j < bytes.size() && bytes[j] != '\x07' &&
                   !(bytes[j] == '\x1b' && j + 1 < bytes.size() && bytes[j + 1] == '\\')) {
                ++j;
            }
            i = (j < bytes.size() && bytes[j] == '\x1b') ? j + 1 : j;
        } else if (kind == '(' || kind == ')') {
            i += 2;
        } else {
            i += 1;
        }
    }
    return out;
}

std::size_t longest_rule(const std::string& bytes) {
    static const std::string kRule = "\xe2\x94\x80";
    std::size_t best = 0;
    std::size_t run = 0;
    for (std::size_t i = 0; i < bytes.size();) {
        if (bytes.compare(i, kRule.size(), kRule) == 0) {
            ++run;
            best = std::max(best, run);
            i += kRule.size();
        } else {
            run = 0;
            ++i;
        }
    }
    return best;
}

// ---- fixture ------------------------------------------------------------------------------------

void ClaudeE2ETest::SetUp() {
    if (::geteuid() != 0) {
        GTEST_SKIP() << "ccjaild runs as root and builds jails";
    }
    if (!fs::exists(cli_binary())) {
        GTEST_SKIP() << "the Claude Code CLI is not installed at " << claude_dir()
                     << ": run scripts/install-claude-code.sh (or set CCJAIL_E2E_CLAUDE_DIR)";
    }
    char pattern[] = "/tmp/ccjail-e2e-XXXXXX";
    ASSERT_NE(::mkdtemp(pattern), nullptr) << std::strerror(errno);
    scratch_ = pattern;
    api_key_ = "sk-ant-e2e-" + random_hex(24);
    // The gateway reads the key as root; nothing in a jail may.
    write_file(scratch_ / "anthropic-api-key", api_key_ + "\n", 0600);
    api_ = std::make_unique<FakeApi>(scratch_, true);
    plain_api_ = std::make_unique<FakeApi>(scratch_, false);
    ASSERT_NO_FATAL_FAILURE(DaemonTest::SetUp());
    install_profiles();
    // The daemon loaded its profiles at start, with the placeholders still in them.
    ASSERT_FALSE(daemon().reload().is_null()) << daemon().log_text();
}

void ClaudeE2ETest::TearDown() {
    if (HasFailure() && daemon_) {
        std::cerr << "---- ccjaild log (last 6000 bytes) ----\n";
        const std::string log = daemon().log_text();
        std::cerr << log.substr(log.size() > 6000 ? log.size() - 6000 : 0) << "\n";
    }
    api_.reset();
    plain_api_.reset();
    std::error_code ignored;
    if (!scratch_.empty() && !::getenv("CCJAIL_DTEST_KEEP")) {
        fs::remove_all(scratch_, ignored);
    }
}

dtest::DaemonOptions ClaudeE2ETest::options() const {
    dtest::DaemonOptions o;
    o.config = {{"gateway_upstream", api_->url()},
                {"gateway_key_file", (scratch_ / "anthropic-api-key").string()},
                {"gateway_key_header", "x-api-key"},
                {"gateway_ca_file", (tls_dir() / "ca.pem").string()}};
    return o;
}

void ClaudeE2ETest::install_profiles() {
    const fs::path dir = daemon().profiles_dir();
    write_file(dir / "claude-code.json",
               read_file(fs::path(CCJAIL_SHIPPED_PROFILES_DIR) / "claude-code.json"), 0644);
    for (const auto& entry : fs::directory_iterator(dir)) {
        if (entry.path().filename().string().rfind("e2e-", 0) != 0) {
            continue;
        }
        std::string text = read_file(entry.path());
        replace_all(text, "@CLAUDE_DIR@", claude_dir().string());
        replace_all(text, "@FAKE_API_HTTP_URL@", plain_api_->url());
        write_file(entry.path(), text, 0644);
    }
}

bool ClaudeE2ETest::gateway_supported() {
    if (!gateway_supported_) {
        try {
            const Profile p = load_profile("e2e-claude", daemon().profiles_dir());
            gateway_supported_ = p.network.mode == NetworkMode::gateway;
        } catch (const std::exception&) {
            gateway_supported_ = false;
        }
    }
    return *gateway_supported_;
}

std::string ClaudeE2ETest::claude_profile() {
    return gateway_supported() ? "e2e-claude" : "e2e-claude-host";
}

PipeRun ClaudeE2ETest::run_pipe(client::Client& client, const json& body,
                                std::chrono::milliseconds timeout) {
    PipeRun run;
    dtest::Reader reader(client);
    dtest::Spawned spawned;
    try {
        spawned = dtest::spawn(client, reader, body, 1u << 20);
    } catch (const client::ClientError& error) {
        ADD_FAILURE() << "spawn " << body.dump() << " failed: " << error.code_name() << ": "
                      << error.what() << " " << error.report().dump();
        return run;
    }
    run.session = spawned.session;
    client.send_eof(spawned.channel);
    run.finished = reader.until_exit(spawned.channel, timeout);
    reader.drain_for(100ms);
    const auto& state = reader.channel(spawned.channel);
    run.out = state.out;
    run.err = state.err;
    run.report = state.exit_report;
    if (!run.finished) {
        client.request({{"op", "kill"}, {"session", run.session}, {"grace_ms", 0}}, 10s);
        reader.until_exit(spawned.channel, 20s);
    }
    return run;
}

json ClaudeE2ETest::claude_print_body(const std::string& profile, const std::string& user,
                                      const std::string& prompt) {
    return dtest::spawn_body(profile, user,
                             {"-p", prompt, "--output-format", "stream-json", "--verbose",
                              "--dangerously-skip-permissions"},
                             "pipe");
}

fs::path ClaudeE2ETest::home_of(const std::string& user) const {
    return daemon_->state_dir() / "homes" / user;
}

fs::path ClaudeE2ETest::workspace_of(const std::string& user) const {
    return daemon_->workspace_root() / user;
}

std::vector<std::string> ClaudeE2ETest::leftover_processes() {
    std::vector<std::string> left;
    for (const auto& line : dtest::descendant_processes(daemon().pid())) {
        const std::string comm = line.substr(line.find(' ') + 1);
        // The fake APIs are the test's own children, not the session's.
        if (comm.rfind("node ", 0) == 0 &&
            line.find("fake_anthropic_api.mjs") != std::string::npos) {
            continue;
        }
        left.push_back(line);
    }
    return left;
}

}  // namespace ccjail::e2e
