// Network modes proxy and gateway through a real daemon (docs/egress.md, DESIGN.md §7): a jail
// has only lo, its way out is the daemon's CONNECT proxy on 127.0.0.1:3128 (and the API gateway
// on :3129), and the daemon decides by the profile's allowlist and address classes, refuses
// every parsing trick without opening a tunnel, keeps the API key out of the jail and the log,
// counts and audits every decision, and releases everything when the session ends.
//
// The jail runs bash and curl from the host's /usr; bash's /dev/tcp sends exact bytes. The
// destinations are servers in threads of this test process, on the host's loopback.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstddef>
#include <fstream>
#include <random>
#include <stdexcept>
#include <thread>

#include "common/unique_fd.hpp"
#include "daemon_harness.hpp"
#include "http_probe_server.hpp"
#include "tls_upstream.hpp"

namespace ccjail::dtest {
namespace {

using Clock = std::chrono::steady_clock;
using ::testing::ContainsRegex;
using ::testing::HasSubstr;
using ::testing::MatchesRegex;
using ::testing::Not;

constexpr const char* kProbeBody = "hello from the host's loopback probe server\n";

// Shell functions every jail script starts with. raw BYTES [PORT] sends BYTES (printf %b form)
// on one connection to the proxy (or PORT) and prints everything that comes back before the
// daemon closes or 5 s pass; mark NAME starts a section of the output that section() finds.
constexpr const char* kPrelude = R"(
raw() { { printf '%b' "$1" >&3; timeout 5 cat <&3; } 3<>"/dev/tcp/127.0.0.1/${2:-3128}"; }
mark() { printf '\n@@%s@@\n' "$1"; }
)";

// curl through the proxy with NO_PROXY (which names localhost) overridden.
constexpr const char* kCurlProxy = "curl -sS --noproxy '' -x http://127.0.0.1:3128";

// The text after `@@name@@` up to the next mark, or "<no section name>" when it is missing.
std::string section(const std::string& out, const std::string& name) {
    const std::string start = "@@" + name + "@@\n";
    const auto begin = out.find(start);
    if (begin == std::string::npos) {
        return "<no section " + name + ">";
    }
    const auto from = begin + start.size();
    const auto end = out.find("\n@@", from);
    return out.substr(from, end == std::string::npos ? std::string::npos : end - from);
}

std::string trimmed(std::string text) {
    while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) {
        text.pop_back();
    }
    while (!text.empty() && std::isspace(static_cast<unsigned char>(text.front()))) {
        text.erase(0, 1);
    }
    return text;
}

std::string lowercase(std::string text) {
    for (char& c : text) {
        c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    }
    return text;
}

// The status code of the response that starts `response`, or -1.
int status_of(const std::string& response) {
    if (response.rfind("HTTP/1.", 0) != 0 || response.size() < 12) {
        return -1;
    }
    return std::atoi(response.substr(9, 3).c_str());
}

// Bytes as an argument for printf '%b': every byte that is not plain printable ASCII, and the
// backslash, as \xHH (always two digits, so the next character is never taken into it).
std::string as_printf_b(std::string_view bytes) {
    std::string out;
    char escape[8];
    for (const char c : bytes) {
        const auto byte = static_cast<unsigned char>(c);
        if (byte < 0x20 || byte > 0x7e || c == '\\') {
            std::snprintf(escape, sizeof escape, "\\x%02x", byte);
            out += escape;
        } else {
            out += c;
        }
    }
    return out;
}

// A port on 127.0.0.1 with nobody behind it (one the kernel just handed out and took back).
std::uint16_t unused_port(int type) {
    UniqueFd fd(::socket(AF_INET, type | SOCK_CLOEXEC, 0));
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t length = sizeof address;
    if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 ||
        ::getsockname(fd.get(), reinterpret_cast<sockaddr*>(&address), &length) != 0) {
        throw std::runtime_error("cannot find an unused port");
    }
    return ntohs(address.sin_port);
}

bool eventually(const std::function<bool()>& done, std::chrono::milliseconds timeout) {
    const auto deadline = Clock::now() + timeout;
    while (!done()) {
        if (Clock::now() >= deadline) {
            return false;
        }
        std::this_thread::sleep_for(50ms);
    }
    return true;
}

std::size_t open_fds(pid_t pid) {
    return files_in("/proc/" + std::to_string(pid) + "/fd").size();
}

std::string fd_listing(pid_t pid) {
    std::string text;
    for (const auto& fd : files_in("/proc/" + std::to_string(pid) + "/fd")) {
        std::error_code ec;
        text += fd.filename().string() + " -> " + fs::read_symlink(fd, ec).string() + "\n";
    }
    return text;
}

std::string dump(const std::vector<json>& lines) {
    std::string text;
    for (const auto& line : lines) {
        text += line.dump() + "\n";
    }
    return text;
}

std::uint64_t sum_of(const std::vector<json>& lines, const std::string& field) {
    std::uint64_t total = 0;
    for (const auto& line : lines) {
        total += line.value(field, std::uint64_t{0});
    }
    return total;
}

// What one jail run left: its output and the exit report.
struct JailRun {
    std::string session;
    std::string out;
    std::string err;
    json report;
    bool ended = false;
};

class EgressTest : public DaemonTest {
  protected:
    void SetUp() override {
        if (::geteuid() != 0) {
            GTEST_SKIP() << "ccjaild runs as root and builds jails";
        }
        server_ = std::make_unique<HttpProbeServer>(kProbeBody);
        // The profiles allow localhost:1024-65535: an ephemeral port is always inside.
        ASSERT_GE(server_->port(), 1024);
        // The daemon's resolver points at a UDP port nobody serves: the tests never ask real
        // DNS, "localhost" comes from /etc/hosts, and every other lookup fails at once.
        dns_port_ = unused_port(SOCK_DGRAM);
        DaemonTest::SetUp();
    }

    DaemonOptions options() const override {
        DaemonOptions o;
        o.config = {{"dns_servers", {"127.0.0.1:" + std::to_string(dns_port_)}}};
        return o;
    }

    std::string port() const { return std::to_string(server_->port()); }

    // Runs `script` (after kPrelude) under bash in a jail of `profile`, with `args` as $1...,
    // and waits for it to end.
    JailRun run(const std::string& profile, const std::string& script,
                std::vector<std::string> args = {}, std::chrono::milliseconds timeout = 90s) {
        auto client = daemon().connect("egress-tests");
        Reader reader(client);
        std::vector<std::string> argv = {"/bin/bash", "-c", std::string(kPrelude) + script, "jail"};
        argv.insert(argv.end(), args.begin(), args.end());
        const auto spawned = spawn(client, reader, spawn_body(profile, "egress", argv), 1 << 20);
        JailRun result;
        result.session = spawned.session;
        result.ended = reader.until_exit(spawned.channel, timeout);
        reader.drain_for(100ms);
        const auto& channel = reader.channel(spawned.channel);
        result.out = channel.out;
        result.err = channel.err;
        result.report = channel.exit_report;
        return result;
    }

    std::vector<json> egress_lines(const std::string& session) const {
        return daemon_->events("egress", session);
    }

    // Every line of `session` with the given decision.
    std::vector<json> lines_with(const std::string& event, const std::string& session,
                                 const std::string& decision) const {
        std::vector<json> found;
        for (auto& line : daemon_->events(event, session)) {
            if (line.value("decision", "") == decision) {
                found.push_back(std::move(line));
            }
        }
        return found;
    }

    std::unique_ptr<HttpProbeServer> server_;
    std::uint16_t dns_port_ = 9;
};

#define EXPECT_RAN(run)                                                                            \
    do {                                                                                           \
        ASSERT_TRUE((run).ended) << "the jail did not end"                                         \
                                 << (daemon().running() ? "" : " (ccjaild is gone)") << ": "       \
                                 << (run).out << (run).err << "\ndaemon log:\n"                    \
                                 << daemon().log_text();                                           \
        EXPECT_EQ((run).report.value("status", ""), "exited") << (run).report.dump() << (run).err; \
    } while (0)

// ---- the proxy's way out ------------------------------------------------------------------------

// Guarantee: in mode proxy the jail is told where the proxy is (HTTPS_PROXY and friends), local
// names bypass it (NO_PROXY), no gateway URL is set, and its network namespace holds only lo.
TEST_F(EgressTest, TheJailEnvironmentNamesTheProxyAndTheNamespaceHasOnlyLo) {
    const auto r = run("dt-proxy", R"(
mark env; env | grep -Ei '^(https?_proxy|no_proxy|anthropic_base_url)=' | sort
mark interfaces; tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d ' '
mark end
)");
    EXPECT_RAN(r);
    const std::string env = section(r.out, "env");
    for (const char* name : {"HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy"}) {
        EXPECT_THAT(env, HasSubstr(std::string(name) + "=http://127.0.0.1:3128\n"));
    }
    EXPECT_THAT(env, HasSubstr("NO_PROXY=localhost,127.0.0.1,::1\n"));
    EXPECT_THAT(env, HasSubstr("no_proxy=localhost,127.0.0.1,::1\n"));
    EXPECT_THAT(env, Not(HasSubstr("ANTHROPIC_BASE_URL")));
    EXPECT_EQ(trimmed(section(r.out, "interfaces")), "lo");
}

// Guarantee: an allowed name:port reaches the host's loopback service through the proxy
// (allow_addresses lets 127.0.0.1 through), the bytes arrive intact, and the decision is one
// "allowed" audit line with the address, the byte counts and the duration.
TEST_F(EgressTest, CurlThroughTheProxyReachesAnAllowedLoopbackServer) {
    const auto r = run("dt-proxy", std::string(R"(
mark body; )") + kCurlProxy + R"( -p "http://localhost:$1/through-the-proxy"; rc=$?
mark rc; echo $rc
mark end
)",
                       {port()});
    EXPECT_RAN(r);
    EXPECT_EQ(trimmed(section(r.out, "rc")), "0") << r.err;
    EXPECT_EQ(section(r.out, "body"), kProbeBody) << r.err;
    const auto requests = server_->requests();
    ASSERT_EQ(requests.size(), 1u);
    EXPECT_THAT(requests[0], HasSubstr("GET /through-the-proxy HTTP/1.1\r\n"));

    ASSERT_TRUE(eventually([&] { return !egress_lines(r.session).empty(); }, 5s));
    const auto lines = egress_lines(r.session);
    ASSERT_EQ(lines.size(), 1u) << dump(lines);
    const auto& line = lines[0];
    EXPECT_EQ(line.value("decision", ""), "allowed") << line.dump();
    EXPECT_EQ(line.value("host", ""), "localhost");
    EXPECT_EQ(line.value("port", 0), server_->port());
    EXPECT_EQ(line.value("method", ""), "CONNECT");
    EXPECT_EQ(line.value("status", 0), 200);
    EXPECT_EQ(line.value("address", ""), "127.0.0.1");
    EXPECT_GE(line.value("bytes_sent", std::uint64_t{0}), requests[0].size()) << line.dump();
    EXPECT_GE(line.value("bytes_received", std::uint64_t{0}), std::string(kProbeBody).size())
        << line.dump();
    EXPECT_TRUE(line.contains("duration_ms")) << line.dump();
}

// Guarantee: a name that no allow rule names is refused with 403 before any lookup or
// connection, the jail is told why, and the refusal is an audit line.
TEST_F(EgressTest, ANameNotOnTheListIsRefusedWith403AndAudited) {
    const auto r = run("dt-proxy", std::string(R"(
mark raw; raw 'CONNECT not-listed.example.com:443 HTTP/1.1\r\nHost: not-listed.example.com:443\r\n\r\n'
mark curl; )") + kCurlProxy + R"( -o /dev/null -w '%{http_connect}' https://not-listed.example.com/
mark end
)");
    EXPECT_RAN(r);
    const std::string raw = section(r.out, "raw");
    EXPECT_EQ(status_of(raw), 403) << raw;
    EXPECT_THAT(raw, HasSubstr("X-Ccjail-Deny-Reason: not-listed.example.com:443 is not in the "
                               "profile's network.allow"));
    EXPECT_THAT(section(r.out, "curl"), HasSubstr("403"));
    const auto denied = lines_with("egress", r.session, "denied");
    ASSERT_EQ(denied.size(), 2u) << daemon().log_text();
    for (const auto& line : denied) {
        EXPECT_EQ(line.value("host", ""), "not-listed.example.com") << line.dump();
        EXPECT_EQ(line.value("port", 0), 443) << line.dump();
        EXPECT_EQ(line.value("status", 0), 403) << line.dump();
        EXPECT_THAT(line.value("reason", ""), HasSubstr("is not in the profile's network.allow"));
    }
    EXPECT_TRUE(lines_with("egress", r.session, "allowed").empty());
}

// Guarantee: an allow rule's port range is part of the rule: localhost:1023 is refused while
// localhost:<port in 1024-65535> passes, in the same session.
TEST_F(EgressTest, TheSameHostOnAPortNotListedIsRefused) {
    const std::string p = port();
    const auto r = run("dt-proxy", R"(
mark outside; raw 'CONNECT localhost:1023 HTTP/1.1\r\n\r\n'
mark inside; raw "CONNECT localhost:$1 HTTP/1.1\r\n\r\nGET /inside HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
mark end
)",
                       {p});
    EXPECT_RAN(r);
    const std::string outside = section(r.out, "outside");
    EXPECT_EQ(status_of(outside), 403) << outside;
    EXPECT_THAT(outside, HasSubstr("localhost:1023 is not in the profile's network.allow"));
    const std::string inside = section(r.out, "inside");
    EXPECT_EQ(status_of(inside), 200) << inside;
    EXPECT_THAT(inside, HasSubstr(kProbeBody));
    const auto denied = lines_with("egress", r.session, "denied");
    ASSERT_EQ(denied.size(), 1u) << dump(egress_lines(r.session));
    EXPECT_EQ(denied[0].value("port", 0), 1023);
    EXPECT_EQ(denied[0].value("status", 0), 403);
}

// Guarantee: allowing a name does not allow the address it resolves to: localhost resolves to
// 127.0.0.1, loopback, refused without allow_addresses — and nothing is connected to.
TEST_F(EgressTest, AnAllowedNameResolvingToLoopbackIsRefusedWithoutAllowAddresses) {
    const auto r = run("dt-proxy-noaddr", R"(
mark raw; raw "CONNECT localhost:$1 HTTP/1.1\r\n\r\n"
mark end
)",
                       {port()});
    EXPECT_RAN(r);
    const std::string raw = section(r.out, "raw");
    EXPECT_EQ(status_of(raw), 403) << raw;
    // Which loopback address is named first depends on the host's /etc/hosts: Debian's default
    // file (the full-system VM's) lists ::1 for localhost as well.
    EXPECT_THAT(raw, ContainsRegex("address (127\\.0\\.0\\.1|::1) is loopback"));
    EXPECT_EQ(server_->accepted(), 0u);
    const auto denied = lines_with("egress", r.session, "denied");
    ASSERT_EQ(denied.size(), 1u) << daemon().log_text();
    EXPECT_THAT(denied[0].value("reason", ""),
                MatchesRegex("address (127\\.0\\.0\\.1|::1) is loopback"));
    EXPECT_EQ(denied[0].value("status", 0), 403);
}

// Guarantee: an IP literal is not a name: without allow_ip_literals it is refused even when
// the address would pass allow_addresses.
TEST_F(EgressTest, AnIpLiteralIsRefusedWithoutAllowIpLiterals) {
    const auto r = run("dt-proxy", R"(
mark raw; raw "CONNECT 127.0.0.1:$1 HTTP/1.1\r\n\r\n"
mark end
)",
                       {port()});
    EXPECT_RAN(r);
    const std::string raw = section(r.out, "raw");
    EXPECT_EQ(status_of(raw), 403) << raw;
    EXPECT_THAT(raw, HasSubstr("IP literal"));
    EXPECT_EQ(server_->accepted(), 0u);
    const auto denied = lines_with("egress", r.session, "denied");
    ASSERT_EQ(denied.size(), 1u) << daemon().log_text();
    EXPECT_EQ(denied[0].value("status", 0), 403);
}

// Guarantee: with IP literals allowed, an allowed exact address passes, the cloud metadata
// endpoint and a private address are refused by class even though a rule names them, and an
// IPv4-mapped IPv6 spelling does not match a rule for the IPv4 address.
TEST_F(EgressTest, WithIpLiteralsAddressClassesAndExactRulesStillHold) {
    const auto r = run("dt-proxy-literals", R"(
mark loopback; raw "CONNECT 127.0.0.1:$1 HTTP/1.1\r\n\r\nGET /literal HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
mark metadata; raw 'CONNECT 169.254.169.254:80 HTTP/1.1\r\n\r\n'
mark private; raw 'CONNECT 10.0.0.1:443 HTTP/1.1\r\n\r\n'
mark mapped; raw "CONNECT [::ffff:127.0.0.1]:$1 HTTP/1.1\r\n\r\n"
mark end
)",
                       {port()});
    EXPECT_RAN(r);
    const std::string loopback = section(r.out, "loopback");
    EXPECT_EQ(status_of(loopback), 200) << loopback;
    EXPECT_THAT(loopback, HasSubstr(kProbeBody));
    const std::string metadata = section(r.out, "metadata");
    EXPECT_EQ(status_of(metadata), 403) << metadata;
    EXPECT_THAT(metadata, HasSubstr("address 169.254.169.254 is metadata"));
    const std::string private_ = section(r.out, "private");
    EXPECT_EQ(status_of(private_), 403) << private_;
    EXPECT_THAT(private_, HasSubstr("address 10.0.0.1 is private"));
    const std::string mapped = section(r.out, "mapped");
    EXPECT_EQ(status_of(mapped), 403) << mapped;
    EXPECT_EQ(server_->requests().size(), 1u);
    EXPECT_EQ(lines_with("egress", r.session, "denied").size(), 3u) << daemon().log_text();
    EXPECT_EQ(lines_with("egress", r.session, "allowed").size(), 1u) << daemon().log_text();
}

// Guarantee: an allowed name that cannot be resolved is a 502 (not a hang, not a tunnel); the
// daemon resolves names itself, and here its resolver answers nothing.
TEST_F(EgressTest, AnAllowedNameThatDoesNotResolveIs502) {
    const auto r = run("dt-proxy", R"(
mark raw; raw 'CONNECT unresolvable.invalid:443 HTTP/1.1\r\n\r\n'
mark end
)");
    EXPECT_RAN(r);
    const std::string raw = section(r.out, "raw");
    EXPECT_EQ(status_of(raw), 502) << raw;
    EXPECT_THAT(raw, HasSubstr("cannot resolve unresolvable.invalid"));
    const auto denied = lines_with("egress", r.session, "denied");
    ASSERT_EQ(denied.size(), 1u) << daemon().log_text();
    EXPECT_EQ(denied[0].value("status", 0), 502);
}

// Guarantee: an allowed destination that refuses the connection is a 502 with the reason, the
// jail is not left hanging, and the proxy keeps serving.
TEST_F(EgressTest, AnAllowedDestinationThatRefusesTheConnectionIs502) {
    const std::string closed = std::to_string(unused_port(SOCK_STREAM));
    const auto r = run("dt-proxy", R"(
mark refused; raw "CONNECT localhost:$1 HTTP/1.1\r\n\r\n"
mark after; raw "CONNECT localhost:$2 HTTP/1.1\r\n\r\nGET /after HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
mark end
)",
                       {closed, port()});
    EXPECT_RAN(r);
    const std::string refused = section(r.out, "refused");
    EXPECT_EQ(status_of(refused), 502) << refused;
    EXPECT_THAT(refused, HasSubstr("cannot connect to localhost"));
    EXPECT_EQ(status_of(section(r.out, "after")), 200) << section(r.out, "after");
    const auto denied = lines_with("egress", r.session, "denied");
    ASSERT_EQ(denied.size(), 1u) << daemon().log_text();
    EXPECT_EQ(denied[0].value("status", 0), 502);
    EXPECT_EQ(denied[0].value("port", 0), std::stoi(closed));
}

// Guarantee: the jail has its own network namespace: the host's loopback service is not
// reachable without the proxy, and neither the daemon's socket (not in the jail's filesystem)
// nor an abstract Unix socket of the host (abstract names belong to the network namespace).
TEST_F(EgressTest, WithoutTheProxyTheJailReachesNothingOfTheHost) {
    const std::string abstract_name = "ccjail-egress-test-" + std::to_string(::getpid());
    UniqueFd listener(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    abstract_name.copy(address.sun_path + 1, sizeof address.sun_path - 2);
    const auto length =
        static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + 1 + abstract_name.size());
    ASSERT_EQ(::bind(listener.get(), reinterpret_cast<sockaddr*>(&address), length), 0);
    ASSERT_EQ(::listen(listener.get(), 8), 0);

    // The controls: from the host, both the probe server and the abstract socket answer.
    const auto host_direct = run_command(
        {"/usr/bin/curl", "-sS", "--max-time", "5", "http://127.0.0.1:" + port() + "/control"},
        20s);
    ASSERT_EQ(host_direct.exit_code, 0) << host_direct.err;
    ASSERT_EQ(host_direct.out, kProbeBody);
    const auto host_abstract = run_command({"/usr/bin/curl", "-sS", "--max-time", "2",
                                            "--abstract-unix-socket", abstract_name, "http://x/"},
                                           20s);
    ASSERT_NE(host_abstract.exit_code, 7)
        << "the host itself cannot connect: " << host_abstract.err;
    const std::size_t accepted_before = server_->accepted();

    const auto r = run("dt-proxy", R"(
mark direct; curl -sS --noproxy '*' --max-time 5 "http://127.0.0.1:$1/direct" >/dev/null 2>&1; echo $?
mark devtcp; (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && echo connected || echo refused
mark daemon_path; test -e "$2" && echo visible || echo absent
mark daemon_socket; curl -sS --max-time 3 --unix-socket "$2" http://x/ >/dev/null 2>&1; echo $?
mark abstract; curl -sS --max-time 3 --abstract-unix-socket "$3" http://x/ >/dev/null 2>&1; echo $?
mark end
)",
                       {port(), daemon().socket().string(), abstract_name});
    EXPECT_RAN(r);
    EXPECT_EQ(trimmed(section(r.out, "direct")), "7") << "curl: couldn't connect expected";
    EXPECT_EQ(trimmed(section(r.out, "devtcp")), "refused");
    EXPECT_EQ(trimmed(section(r.out, "daemon_path")), "absent");
    EXPECT_EQ(trimmed(section(r.out, "daemon_socket")), "7");
    EXPECT_EQ(trimmed(section(r.out, "abstract")), "7");
    EXPECT_EQ(server_->accepted(), accepted_before);
    EXPECT_TRUE(egress_lines(r.session).empty()) << dump(egress_lines(r.session));
}

// One way of making two HTTP parsers disagree about a CONNECT, and the status the proxy must
// answer it with.
struct ConnectTrick {
    const char* name;
    std::string (*bytes)(const std::string& port);
    int status;
};

// A head of exactly 16 KiB (the daemon's limit) without its blank line: the daemon has read
// every byte when it decides, so its close cannot turn into a reset that swallows the answer.
std::string overlong_head(const std::string& port) {
    std::string head = "CONNECT localhost:" + port + " HTTP/1.1\r\n";
    for (int i = 0; head.size() < 16384; ++i) {
        head += "X-Pad-" + std::to_string(i) + ": " + std::string(4000, 'a') + "\r\n";
    }
    head.resize(16384 - 2);
    return head + "\r\n";
}

const ConnectTrick kConnectTricks[] = {
    {"nul_in_host",
     [](const std::string& p) {
         return std::string("CONNECT local\0host:", 19) + p + " HTTP/1.1\r\n\r\n";
     },
     400},
    {"crlf_injected_host_header",
     [](const std::string& p) {
         return "CONNECT evil.com:443\r\nHost: localhost:" + p + " HTTP/1.1\r\n\r\n";
     },
     400},
    {"crlf_in_host",
     [](const std::string& p) { return "CONNECT localhost\r\n:" + p + " HTTP/1.1\r\n\r\n"; }, 400},
    {"userinfo",
     [](const std::string& p) { return "CONNECT a@localhost:" + p + " HTTP/1.1\r\n\r\n"; }, 400},
    {"userinfo_of_names",
     [](const std::string& p) { return "CONNECT a.com@localhost:" + p + " HTTP/1.1\r\n\r\n"; },
     400},
    {"bare_lf",
     [](const std::string& p) {
         return "CONNECT localhost:" + p + " HTTP/1.1\nHost: localhost\n\n";
     },
     400},
    {"space_in_host",
     [](const std::string& p) { return "CONNECT local host:" + p + " HTTP/1.1\r\n\r\n"; }, 400},
    {"tab_in_host",
     [](const std::string& p) { return "CONNECT localhost\t:" + p + " HTTP/1.1\r\n\r\n"; }, 400},
    {"percent_encoded_host",
     [](const std::string& p) { return "CONNECT local%68ost:" + p + " HTTP/1.1\r\n\r\n"; }, 400},
    {"two_host_headers",
     [](const std::string& p) {
         return "CONNECT localhost:" + p + " HTTP/1.1\r\nHost: localhost:" + p +
                "\r\nHost: evil.com\r\n\r\n";
     },
     400},
    {"ipv4_mapped_ipv6_loopback",
     [](const std::string& p) { return "CONNECT [::ffff:127.0.0.1]:" + p + " HTTP/1.1\r\n\r\n"; },
     403},
    {"hex_loopback",
     [](const std::string& p) { return "CONNECT 0x7f.1:" + p + " HTTP/1.1\r\n\r\n"; }, 403},
    {"decimal_loopback",
     [](const std::string& p) { return "CONNECT 2130706433:" + p + " HTTP/1.1\r\n\r\n"; }, 403},
    {"overlong_head", overlong_head, 431},
};

// gtest prints parameters in failure messages: the name, not the struct's bytes.
void PrintTo(const ConnectTrick& trick, std::ostream* os) {
    *os << trick.name;
}

class EgressConnectTrickTest : public EgressTest,
                               public ::testing::WithParamInterface<ConnectTrick> {};

// Guarantee: a CONNECT crafted to make two parsers disagree (NUL or CRLF in the target,
// userinfo, bare LF line endings, whitespace or percent-encoding in the host, two Host headers,
// loopback spelled as IPv6 or hex or one number, a head over the limit) gets its 400, 403 or
// 431 with one denied audit line, never becomes a tunnel, reaches nothing on the host, and
// leaves the proxy serving: a well-formed CONNECT right after it works.
TEST_P(EgressConnectTrickTest, IsRefusedAndNeverTunnels) {
    const ConnectTrick& trick = GetParam();
    const std::string bytes = trick.bytes(port());
    const auto r = run("dt-proxy", R"(
mark trick; raw "$1"
mark after; raw "CONNECT localhost:$2 HTTP/1.1\r\n\r\nGET /after HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
mark end
)",
                       {as_printf_b(bytes), port()});
    const std::string sent = json(as_printf_b(bytes)).dump().substr(0, 300);
    EXPECT_RAN(r);
    const std::string response = section(r.out, "trick");
    EXPECT_EQ(status_of(response), trick.status) << "sent " << sent << "\ngot: " << response;
    EXPECT_THAT(response, Not(HasSubstr("Connection established")));
    const auto denied = lines_with("egress", r.session, "denied");
    ASSERT_EQ(denied.size(), 1u) << dump(egress_lines(r.session));
    EXPECT_EQ(denied[0].value("status", 0), trick.status) << denied[0].dump();

    const std::string after = section(r.out, "after");
    EXPECT_EQ(status_of(after), 200) << "the proxy stopped serving after " << sent << ": " << after;
    const auto requests = server_->requests();
    ASSERT_EQ(requests.size(), 1u) << "only the well-formed request may reach the host";
    EXPECT_EQ(requests[0].rfind("GET /after HTTP/1.1\r\n", 0), 0u) << requests[0];
    EXPECT_EQ(server_->accepted(), 1u);
}

INSTANTIATE_TEST_SUITE_P(Egress, EgressConnectTrickTest, ::testing::ValuesIn(kConnectTricks),
                         [](const auto& info) { return std::string(info.param.name); });

// Guarantee: a refusal decided before the jail has sent its whole request (a bare LF is refused
// at the first line) still reaches the client, and the client's later writes neither fail nor
// kill it: the daemon answers, half-closes and reads the rest before it closes, instead of
// resetting the connection. The pauses make the order certain: the second and third writes
// come after the daemon has answered.
TEST_F(EgressTest, ARefusalBeforeTheRequestEndsReachesTheClientAndItsLaterWritesSucceed) {
    const auto r = run("dt-proxy", R"(
mark split
{
  printf 'CONNECT localhost:%s HTTP/1.1\n' "$1" >&3
  sleep 0.3
  printf 'Host: localhost\n' >&3 && echo second-write-ok
  sleep 0.3
  printf '\n' >&3 && echo third-write-ok
  timeout 5 cat <&3
} 3<>/dev/tcp/127.0.0.1/3128
mark end
)",
                       {port()});
    EXPECT_RAN(r);
    const std::string split = section(r.out, "split");
    EXPECT_THAT(split, HasSubstr("second-write-ok"));
    EXPECT_THAT(split, HasSubstr("third-write-ok"));
    const auto answer = split.find("HTTP/1.");
    ASSERT_NE(answer, std::string::npos) << "no answer reached the client: " << split;
    EXPECT_EQ(status_of(split.substr(answer)), 400) << split;
    EXPECT_EQ(lines_with("egress", r.session, "denied").size(), 1u)
        << dump(egress_lines(r.session));
    EXPECT_EQ(server_->accepted(), 0u);
}

// Guarantee: plain-HTTP proxying (absolute-URI requests) is refused with 405 unless the
// profile sets allow_plain_http.
TEST_F(EgressTest, PlainHttpThroughTheProxyIs405ByDefault) {
    const auto r = run("dt-proxy", std::string(R"(
mark code; )") + kCurlProxy + R"( -o /dev/null -w '%{http_code}' "http://localhost:$1/plain"
mark end
)",
                       {port()});
    EXPECT_RAN(r);
    EXPECT_EQ(trimmed(section(r.out, "code")), "405") << r.err;
    EXPECT_EQ(server_->accepted(), 0u);
    const auto denied = lines_with("egress", r.session, "denied");
    ASSERT_EQ(denied.size(), 1u) << daemon().log_text();
    EXPECT_EQ(denied[0].value("status", 0), 405);
    EXPECT_EQ(denied[0].value("method", ""), "GET");
}

// Guarantee: with allow_plain_http the request is carried, rebuilt: origin form, Host from the
// URI, Connection: close, and no Proxy-* header reaches the server.
TEST_F(EgressTest, PlainHttpPassesWithAllowPlainHttp) {
    const auto r = run("dt-proxy-plain",
                       std::string(R"(
mark body; )") + kCurlProxy +
                           R"( -H 'Proxy-Authorization: Basic c2VjcmV0' "http://localhost:$1/plain"
mark end
)",
                       {port()});
    EXPECT_RAN(r);
    EXPECT_EQ(section(r.out, "body"), kProbeBody) << r.err;
    const auto requests = server_->requests();
    ASSERT_EQ(requests.size(), 1u);
    const std::string head = requests[0];
    EXPECT_EQ(head.rfind("GET /plain HTTP/1.1\r\n", 0), 0u) << head;
    EXPECT_THAT(head, HasSubstr("\r\nHost: localhost:" + port() + "\r\n"));
    EXPECT_THAT(lowercase(head), HasSubstr("\r\nconnection: close\r\n"));
    EXPECT_THAT(lowercase(head), Not(HasSubstr("proxy-"))) << head;
    const auto allowed = lines_with("egress", r.session, "allowed");
    ASSERT_EQ(allowed.size(), 1u) << daemon().log_text();
    EXPECT_EQ(allowed[0].value("method", ""), "GET");
    EXPECT_EQ(allowed[0].value("address", ""), "127.0.0.1");
}

// Guarantee: max_connections bounds the open connections of a session: with 2 tunnels held
// open a third connection gets a 503 and is closed before anything is read (and audited), and once
// a tunnel closes a new one works again.
TEST_F(EgressTest, MaxConnectionsRefusesTheThirdAndFreesASlotOnClose) {
    const auto r = run("dt-proxy-max2", R"(
port=$1
tunnel() {
  printf 'CONNECT localhost:%s HTTP/1.1\r\n\r\n' "$port" >&"$1"
  local line; IFS= read -r -t 5 line <&"$1"; printf '%s\n' "${line%$'\r'}"
  while IFS= read -r -t 5 line <&"$1" && [ -n "${line%$'\r'}" ]; do :; done
}
exec 3<>/dev/tcp/127.0.0.1/3128; mark first; tunnel 3
exec 4<>/dev/tcp/127.0.0.1/3128; mark second; tunnel 4
mark third
if exec 5<>/dev/tcp/127.0.0.1/3128; then IFS= read -r -t 5 line <&5; echo "read=$? [$line]"; exec 5<&-; else echo "connect failed"; fi
exec 3<&-
mark fourth
for i in $(seq 50); do
  answer=$(raw "CONNECT localhost:$port HTTP/1.1\r\n\r\nGET /after-close HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n" 2>/dev/null)
  case "$answer" in *"Connection established"*) break;; esac
  sleep 0.1
done
printf '%s\n' "$answer"
exec 4<&-
mark end
)",
                       {port()});
    EXPECT_RAN(r);
    EXPECT_EQ(trimmed(section(r.out, "first")), "HTTP/1.1 200 Connection established");
    EXPECT_EQ(trimmed(section(r.out, "second")), "HTTP/1.1 200 Connection established");
    EXPECT_EQ(trimmed(section(r.out, "third")), "read=0 [HTTP/1.1 503 Service Unavailable\r]")
        << "the third connection gets a 503 before anything is read from it";
    const std::string fourth = section(r.out, "fourth");
    EXPECT_EQ(status_of(fourth), 200) << fourth;
    EXPECT_THAT(fourth, HasSubstr(kProbeBody));
    bool refused = false;
    for (const auto& line : lines_with("egress", r.session, "denied")) {
        refused =
            refused || (line.value("status", 0) == 503 &&
                        line.value("reason", "").find("max_connections 2") != std::string::npos);
    }
    EXPECT_TRUE(refused) << dump(egress_lines(r.session));
    const auto& requests = server_->requests();
    ASSERT_FALSE(requests.empty());
    EXPECT_THAT(requests.back(), HasSubstr("GET /after-close HTTP/1.1"));
}

// ---- totals and teardown ------------------------------------------------------------------------

// Guarantee: a session's egress totals (connections, denied, bytes each way, open) are in
// `inspect` while it runs and in its `exit` audit line, and match the per-decision lines.
TEST_F(EgressTest, EgressTotalsAppearInInspectAndInTheExitAuditLine) {
    auto client = daemon().connect("egress-totals");
    Reader reader(client);
    const std::string script = std::string(kPrelude) + kCurlProxy +
                               R"( -p -o /dev/null "http://localhost:$1/totals"
raw 'CONNECT not-listed.example.com:443 HTTP/1.1\r\n\r\n' >/dev/null
mark ready
read -r _
exit 0
)";
    const auto s = spawn(
        client, reader,
        spawn_body("dt-proxy", "egress", {"/bin/bash", "-c", script, "jail", port()}), 1 << 20);
    ASSERT_TRUE(reader.until_out_contains(s.channel, "@@ready@@", 60s))
        << reader.channel(s.channel).out << reader.channel(s.channel).err;
    json totals;
    ASSERT_TRUE(eventually(
        [&] {
            totals =
                client.request({{"op", "inspect"}, {"session", s.session}}).value("egress", json());
            return totals.is_object() && totals.value("connections", 0) == 2 &&
                   totals.value("open", 1) == 0;
        },
        10s))
        << totals.dump();
    EXPECT_EQ(totals.value("denied", 0), 1) << totals.dump();
    const auto lines = egress_lines(s.session);
    ASSERT_EQ(lines.size(), 2u) << dump(lines);
    EXPECT_GT(totals.value("bytes_sent", std::uint64_t{0}), 0u);
    EXPECT_GT(totals.value("bytes_received", std::uint64_t{0}), std::string(kProbeBody).size());
    EXPECT_EQ(totals.value("bytes_sent", std::uint64_t{0}), sum_of(lines, "bytes_sent"));
    EXPECT_EQ(totals.value("bytes_received", std::uint64_t{0}), sum_of(lines, "bytes_received"));

    client.send_eof(s.channel);
    ASSERT_TRUE(reader.until_exit(s.channel, 30s));
    EXPECT_EQ(reader.channel(s.channel).exit_report.value("exit_code", -1), 0);
    ASSERT_TRUE(eventually([&] { return !daemon().events("exit", s.session).empty(); }, 5s));
    const auto exit_line = daemon().events("exit", s.session).front();
    ASSERT_TRUE(exit_line.contains("egress")) << exit_line.dump();
    EXPECT_EQ(exit_line["egress"], totals) << exit_line.dump();
}

class EgressTeardownTest : public EgressTest {
  protected:
    DaemonOptions options() const override {
        DaemonOptions o = EgressTest::options();
        // An ended session is forgotten at once, so that its output ring does not count as a
        // leftover descriptor.
        o.config["ended_retention_ms"] = 0;
        return o;
    }
};

// Guarantee: when a session ends its listeners and connections are gone from the daemon (its
// descriptor count returns to what it was), no upstream connection stays open, and a new
// session's proxy works.
TEST_F(EgressTeardownTest, ListenersAndConnectionsAreReleasedWhenTheSessionEnds) {
    const std::string fetch = std::string(kCurlProxy) + R"( -p "http://localhost:$1/n"; echo)";
    // A first session warms up what the daemon opens once (resolver, logs) and never again.
    const auto warmup = run("dt-proxy", fetch, {port()});
    EXPECT_RAN(warmup);
    const pid_t pid = daemon().pid();
    std::size_t baseline = 0;
    ASSERT_TRUE(eventually(
        [&] {
            const std::size_t now = open_fds(pid);
            std::this_thread::sleep_for(300ms);
            baseline = open_fds(pid);
            return now == baseline;
        },
        10s));
    const std::string before = fd_listing(pid);

    const auto busy = run("dt-proxy", fetch + "\n" + fetch + "\n" + fetch + R"(
raw 'CONNECT not-listed.example.com:443 HTTP/1.1\r\n\r\n' >/dev/null
exec 7<>/dev/tcp/127.0.0.1/3128; printf 'CONNECT localhost:%s HTTP/1.1\r\n\r\n' "$1" >&7
IFS= read -r -t 5 line <&7; echo "held: $line"
)",
                          {port()});
    EXPECT_RAN(busy);
    EXPECT_THAT(busy.out, HasSubstr("held: HTTP/1.1 200 Connection established"));
    EXPECT_TRUE(
        eventually([&] { return lines_with("egress", busy.session, "allowed").size() == 4u; }, 10s))
        << dump(egress_lines(busy.session));
    EXPECT_TRUE(eventually([&] { return open_fds(pid) == baseline; }, 10s)) << "before:\n"
                                                                            << before << "after:\n"
                                                                            << fd_listing(pid);
    EXPECT_TRUE(eventually([&] { return server_->open_connections() == 0; }, 10s))
        << server_->open_connections() << " upstream connections left open";

    const auto after = run("dt-proxy", fetch, {port()});
    EXPECT_RAN(after);
    EXPECT_THAT(after.out, HasSubstr(kProbeBody));
}

// ---- the gateway --------------------------------------------------------------------------------

class EgressGatewayTest : public EgressTest {
  protected:
    void SetUp() override {
        if (::geteuid() != 0) {
            GTEST_SKIP() << "ccjaild runs as root and builds jails";
        }
        char pattern[] = "/tmp/ccjail-egress-XXXXXX";
        ASSERT_NE(::mkdtemp(pattern), nullptr);
        secrets_ = pattern;
        ASSERT_NO_THROW(certs_ = make_test_certificates(secrets_));
        upstream_ = std::make_unique<TlsUpstream>(certs_);
        std::random_device device;
        char hex[9];
        key_ = "sk-ant-egress-test-";
        for (int i = 0; i < 4; ++i) {
            std::snprintf(hex, sizeof hex, "%08x", device());
            key_ += hex;
        }
        key_file_ = secrets_ / "api-key";
        std::ofstream(key_file_) << key_ << "\n";
        ASSERT_EQ(::chmod(key_file_.c_str(), 0600), 0);
        EgressTest::SetUp();
    }
    void TearDown() override {
        upstream_.reset();
        std::error_code ec;
        if (!secrets_.empty()) {
            fs::remove_all(secrets_, ec);
        }
        EgressTest::TearDown();
    }

    // What the daemon's config says about the upstream; the variants below change it.
    virtual std::string upstream_host() const { return "localhost"; }
    virtual bool trust_test_ca() const { return true; }

    DaemonOptions options() const override {
        DaemonOptions o = EgressTest::options();
        o.config["gateway_upstream"] =
            "https://" + upstream_host() + ":" + std::to_string(upstream_->port());
        o.config["gateway_key_file"] = key_file_.string();
        if (trust_test_ca()) {
            o.config["gateway_ca_file"] = certs_.ca.string();
        }
        return o;
    }

    // One API request from the jail as Claude Code would send it, with a key of its own.
    static constexpr const char* kApiRequest =
        R"(curl -sS -i -N -H 'x-api-key: fake-key-from-the-jail' -H 'Authorization: Bearer fake-bearer-from-the-jail' -H 'content-type: application/json' -d '{"model":"m","messages":[]}' "$ANTHROPIC_BASE_URL/v1/messages")";

    void expect_key_nowhere(const JailRun& r) {
        EXPECT_THAT(r.out, Not(HasSubstr(key_))) << "the key reached the jail";
        EXPECT_THAT(r.err, Not(HasSubstr(key_))) << "the key reached the jail";
        EXPECT_THAT(daemon().log_text(), Not(HasSubstr(key_))) << "the key is in the log";
    }

    fs::path secrets_;
    TestCertificates certs_;
    std::unique_ptr<TlsUpstream> upstream_;
    std::string key_;
    fs::path key_file_;
};

// Guarantee: the gateway carries the jail's API request to the upstream over verified TLS with
// the configured key in place of whatever key the jail sent, streams the event stream back with
// Connection: close, and the key is nowhere in the jail (environment, /proc/*/environ, files
// under /etc, /tmp, the workspace and HOME) nor in the daemon's log. Other hosts still go
// through the proxy rules.
TEST_F(EgressGatewayTest, TheGatewayAddsTheKeyAndStreamsTheAnswer) {
    const auto r = run("dt-gateway", std::string(R"(
mark env; env | sort
mark answer; )") + kApiRequest + R"(; rc=$?
mark rc; echo $rc
mark proxy; )" + kCurlProxy + R"( -p "http://localhost:$1/via-proxy"
mark environ; for f in /proc/[0-9]*/environ; do tr '\0' '\n' < "$f"; done 2>/dev/null
mark files
dirs=(/etc /tmp /workspace); [ -n "$HOME" ] && [ "$HOME" != / ] && dirs+=("$HOME")
find "${dirs[@]}" -xdev -type f -readable -exec cat {} + 2>/dev/null
mark key_file; test -e "$2" && echo visible || echo absent
mark end
)",
                       {port(), key_file_.string()});
    EXPECT_RAN(r);
    EXPECT_EQ(trimmed(section(r.out, "rc")), "0") << r.err;
    EXPECT_THAT(section(r.out, "env"), HasSubstr("ANTHROPIC_BASE_URL=http://127.0.0.1:3129\n"));

    const std::string answer = section(r.out, "answer");
    EXPECT_EQ(status_of(answer), 200) << answer;
    EXPECT_THAT(lowercase(answer), HasSubstr("\r\nconnection: close\r\n")) << answer;
    EXPECT_THAT(lowercase(answer), Not(HasSubstr("keep-alive"))) << answer;
    EXPECT_THAT(lowercase(answer), HasSubstr("content-type: text/event-stream"));
    std::size_t at = 0;
    for (const char* event : TlsUpstream::kEvents) {
        const auto found = answer.find(event, at);
        ASSERT_NE(found, std::string::npos) << "missing or out of order: " << event << answer;
        at = found + 1;
    }

    const auto requests = upstream_->requests();
    ASSERT_EQ(requests.size(), 1u);
    const std::string head = requests[0].head;
    EXPECT_EQ(head.rfind("POST /v1/messages HTTP/1.1\r\n", 0), 0u) << head;
    EXPECT_THAT(head, HasSubstr("\r\nx-api-key: " + key_ + "\r\n")) << head;
    EXPECT_THAT(lowercase(head),
                HasSubstr("\r\nhost: localhost:" + std::to_string(upstream_->port()) + "\r\n"));
    EXPECT_THAT(lowercase(head), HasSubstr("\r\nconnection: close\r\n")) << head;
    EXPECT_THAT(head, Not(HasSubstr("fake-key-from-the-jail"))) << head;
    EXPECT_THAT(head, Not(HasSubstr("fake-bearer-from-the-jail"))) << head;
    EXPECT_THAT(lowercase(head), Not(HasSubstr("authorization"))) << head;
    EXPECT_EQ(requests[0].body, R"({"model":"m","messages":[]})");

    EXPECT_EQ(section(r.out, "proxy"), kProbeBody) << "gateway mode keeps the proxy";
    EXPECT_EQ(trimmed(section(r.out, "key_file")), "absent");
    EXPECT_THAT(section(r.out, "environ"), HasSubstr("ANTHROPIC_BASE_URL="))
        << "the environ dump read nothing, so it proves nothing";
    EXPECT_THAT(section(r.out, "files"), HasSubstr("root:"))
        << "the file dump read nothing (not even /etc/passwd), so it proves nothing";
    expect_key_nowhere(r);

    const auto gateway = lines_with("gateway", r.session, "allowed");
    ASSERT_EQ(gateway.size(), 1u) << daemon().log_text();
    EXPECT_EQ(gateway[0].value("method", ""), "POST");
    EXPECT_EQ(gateway[0].value("path", ""), "/v1/messages");
    EXPECT_EQ(gateway[0].value("status", 0), 200);
    EXPECT_GT(gateway[0].value("bytes_received", std::uint64_t{0}), 0u) << gateway[0].dump();
    EXPECT_GT(gateway[0].value("bytes_sent", std::uint64_t{0}), 0u) << gateway[0].dump();
}

// Guarantee: a key file that others can read is not used: the request gets 502, nothing is
// sent upstream, and neither the jail nor the log line sees the key.
TEST_F(EgressGatewayTest, AKeyFileReadableByOthersIsRefusedWith502) {
    ASSERT_EQ(::chmod(key_file_.c_str(), 0644), 0);
    const auto r = run("dt-gateway", std::string(R"(
mark answer; )") + kApiRequest + R"(
mark end
)");
    EXPECT_RAN(r);
    const std::string answer = section(r.out, "answer");
    EXPECT_EQ(status_of(answer), 502) << answer;
    EXPECT_EQ(upstream_->accepted(), 0u) << "nothing may go upstream without a usable key";
    const auto denied = lines_with("gateway", r.session, "denied");
    ASSERT_EQ(denied.size(), 1u) << daemon().log_text();
    EXPECT_EQ(denied[0].value("status", 0), 502);
    EXPECT_THAT(denied[0].value("reason", ""), HasSubstr("0600")) << denied[0].dump();
    expect_key_nowhere(r);
}

class EgressGatewayUntrustedTest : public EgressGatewayTest {
  protected:
    bool trust_test_ca() const override { return false; }
};

// Guarantee: a request body whose chunked framing is broken is refused at once with 400, not
// left half-sent upstream until the idle timeout.
TEST_F(EgressGatewayTest, AMalformedChunkedBodyIs400AtOnce) {
    const auto r = run("dt-gateway", R"(
mark answer
exec 5<>/dev/tcp/127.0.0.1/3129
printf 'POST /v1/messages HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n' >&5
IFS= read -r -t 10 line <&5; echo "read=$? [$line]"
mark end
)");
    EXPECT_RAN(r);
    EXPECT_EQ(trimmed(section(r.out, "answer")), "read=0 [HTTP/1.1 400 Bad Request\r]");
    const auto denied = lines_with("gateway", r.session, "denied");
    ASSERT_EQ(denied.size(), 1u) << daemon().log_text();
    EXPECT_THAT(denied[0].value("reason", ""), HasSubstr("chunked")) << denied[0].dump();
    expect_key_nowhere(r);
}

// Guarantee: the upstream's certificate is verified: signed by a CA the daemon was not told
// to trust (gateway_ca_file unset, so the system store), the request gets 502 and no request
// (so no key) is sent.
TEST_F(EgressGatewayUntrustedTest, AnUpstreamWithAnUntrustedCertificateIs502) {
    const auto r = run("dt-gateway", std::string(R"(
mark answer; )") + kApiRequest + R"(
mark end
)");
    EXPECT_RAN(r);
    const std::string answer = section(r.out, "answer");
    EXPECT_EQ(status_of(answer), 502) << answer;
    EXPECT_THAT(answer, HasSubstr("TLS"));
    EXPECT_TRUE(upstream_->requests().empty());
    const auto denied = lines_with("gateway", r.session, "denied");
    ASSERT_EQ(denied.size(), 1u) << daemon().log_text();
    EXPECT_EQ(denied[0].value("status", 0), 502);
    expect_key_nowhere(r);
}

class EgressGatewayWrongNameTest : public EgressGatewayTest {
  protected:
    std::string upstream_host() const override { return "127.0.0.1"; }
};

// Guarantee: the certificate must name the upstream the daemon dialled: a trusted certificate
// for "localhost" does not do for 127.0.0.1, and no request is sent.
TEST_F(EgressGatewayWrongNameTest, ACertificateForAnotherNameIs502) {
    const auto r = run("dt-gateway", std::string(R"(
mark answer; )") + kApiRequest + R"(
mark end
)");
    EXPECT_RAN(r);
    const std::string answer = section(r.out, "answer");
    EXPECT_EQ(status_of(answer), 502) << answer;
    EXPECT_TRUE(upstream_->requests().empty());
    const auto denied = lines_with("gateway", r.session, "denied");
    ASSERT_EQ(denied.size(), 1u) << daemon().log_text();
    EXPECT_EQ(denied[0].value("status", 0), 502);
    expect_key_nowhere(r);
}

}  // namespace
}  // namespace ccjail::dtest
