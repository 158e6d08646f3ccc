#include <gtest/gtest.h>

#include <string>

#include "egress/host_name.hpp"

namespace ccjail::egress {
namespace {

using namespace std::string_literals;

CanonicalHost ok_host(std::string_view raw) {
    auto result = canonicalize_host(raw);
    EXPECT_TRUE(result.ok) << "'" << raw << "': " << result.reason;
    EXPECT_TRUE(result.reason.empty());
    return result;
}

void expect_refused(std::string_view raw, std::string_view reason_part) {
    const auto result = canonicalize_host(raw);
    EXPECT_FALSE(result.ok) << "'" << raw << "' came back as '" << result.host << "'";
    EXPECT_NE(result.reason.find(reason_part), std::string::npos)
        << "'" << raw << "': reason '" << result.reason << "' lacks '" << reason_part << "'";
}

TEST(EgressHostName, LowercasesNamesAndDropsOneTrailingDot) {
    const auto host = ok_host("Registry.NPMJS.org.");
    EXPECT_EQ(host.host, "registry.npmjs.org");
    EXPECT_EQ(host.kind, HostKind::name);
    EXPECT_EQ(ok_host("localhost").host, "localhost");
    expect_refused("example.com..", "empty label");
    expect_refused(".", "empty host");
}

TEST(EgressHostName, AcceptsPunycodeUnderscoreAndDigitsInNames) {
    EXPECT_EQ(ok_host("xn--bcher-kva.example").host, "xn--bcher-kva.example");
    EXPECT_EQ(ok_host("_acme.cdn-1.example.com").host, "_acme.cdn-1.example.com");
    EXPECT_EQ(ok_host("1password.com").kind, HostKind::name);
    EXPECT_EQ(ok_host("10.0.0.1.example.com").kind, HostKind::name);
}

TEST(EgressHostName, RefusesBytesThatMeanSomethingElseInAUrl) {
    expect_refused("", "empty host");
    expect_refused("a.com\0.b.com"s, "NUL");
    expect_refused("a.com\r\nHost: x", "control character");
    expect_refused("a.com\x1b[31m", "control character");
    expect_refused("a.com\x7f", "control character");
    expect_refused("a .com", "whitespace");
    expect_refused("a.com\t", "whitespace");
    expect_refused("a.com@b.com", "userinfo");
    expect_refused("a%2ecom", "percent");
    expect_refused("a.com/x", "URL delimiter '/'");
    expect_refused("a.com\\x", "URL delimiter '\\'");
    expect_refused("a.com?x", "URL delimiter '?'");
    expect_refused("a.com#x", "URL delimiter '#'");
    expect_refused(
        "b\xc3\xbc"
        "cher.example",
        "non-ASCII");
    expect_refused("a*.com", "not allowed");
    expect_refused("a!.com", "not allowed");
}

TEST(EgressHostName, EnforcesDnsLengthAndHyphenRules) {
    const std::string label63(63, 'a');
    EXPECT_TRUE(canonicalize_host(label63 + ".com").ok);
    expect_refused(std::string(64, 'a') + ".com", "longer than 63");
    std::string name253;
    while (name253.size() + 64 <= 253) {
        name253 += label63 + ".";
    }
    name253 += std::string(253 - name253.size(), 'b');
    ASSERT_EQ(name253.size(), 253u);
    EXPECT_TRUE(canonicalize_host(name253).ok);
    EXPECT_TRUE(canonicalize_host(name253 + ".").ok);
    expect_refused(name253 + "b", "longer than 253");
    expect_refused(std::string(100000, 'a'), "longer than 253");
    expect_refused("-a.com", "'-'");
    expect_refused("a-.com", "'-'");
    EXPECT_TRUE(canonicalize_host("a-b.com").ok);
}

TEST(EgressHostName, EveryInetAtonFormBecomesADottedQuad) {
    struct Case {
        const char* raw;
        const char* canonical;
    };
    const Case cases[] = {
        {"127.0.0.1", "127.0.0.1"},
        {"127.1", "127.0.0.1"},
        {"0x7f.1", "127.0.0.1"},
        {"0X7F.0.0.1", "127.0.0.1"},
        {"2130706433", "127.0.0.1"},
        {"0177.0.0.1", "127.0.0.1"},
        {"017700000001", "127.0.0.1"},
        {"0x7f000001", "127.0.0.1"},
        {"127.0.1", "127.0.0.1"},
        {"169.254.43518", "169.254.169.254"},
        {"0", "0.0.0.0"},
        {"127.0.0.1.", "127.0.0.1"},
        {"10.0.0.0x1", "10.0.0.1"},
        {"255.255.255.255", "255.255.255.255"},
        {"4294967295", "255.255.255.255"},
    };
    for (const auto& c : cases) {
        const auto host = ok_host(c.raw);
        EXPECT_EQ(host.kind, HostKind::ipv4) << c.raw;
        EXPECT_EQ(host.host, c.canonical) << c.raw;
    }
}

TEST(EgressHostName, NumbersThatAreNotAddressesAreRefusedNotResolved) {
    expect_refused("256.0.0.1", "not a valid IPv4");
    expect_refused("4294967296", "not a valid IPv4");
    expect_refused("1.2.3.4.5", "not a valid IPv4");
    expect_refused("08.0.0.1", "not a valid IPv4");
    expect_refused("1.2.65536", "not a valid IPv4");
    expect_refused("example.123", "not a valid IPv4");
    expect_refused("0x.1", "not a valid IPv4");
    expect_refused("1.0x", "not a valid IPv4");
    expect_refused("99999999999999999999999999999999", "not a valid IPv4");
}

TEST(EgressHostName, Ipv6OnlyInBracketsAndReturnedCompressedWithout) {
    auto host = ok_host("[::1]");
    EXPECT_EQ(host.host, "::1");
    EXPECT_EQ(host.kind, HostKind::ipv6);
    EXPECT_EQ(ok_host("[0:0:0:0:0:0:0:1]").host, "::1");
    EXPECT_EQ(ok_host("[2001:DB8::A]").host, "2001:db8::a");
    EXPECT_EQ(ok_host("[::ffff:127.0.0.1]").host, "::ffff:127.0.0.1");
    expect_refused("::1", "brackets");
    expect_refused("[::1", "malformed IPv6");
    expect_refused("[::1]x", "malformed IPv6");
    expect_refused("[]", "malformed IPv6");
    expect_refused("[127.0.0.1]", "malformed IPv6");
    expect_refused("[fe80::1%eth0]", "zone id");
    expect_refused("[fe80::1%25eth0]", "zone id");
    expect_refused("[::g]", "malformed IPv6");
    expect_refused("[1:2:3:4:5:6:7:8:9]", "malformed IPv6");
}

TEST(EgressHostName, KindNamesAreStable) {
    EXPECT_EQ(to_string(HostKind::name), "name");
    EXPECT_EQ(to_string(HostKind::ipv4), "ipv4");
    EXPECT_EQ(to_string(HostKind::ipv6), "ipv6");
}

// Every byte value in every position: nothing crashes, and whatever is accepted is made of the
// bytes a canonical host may hold.
TEST(EgressHostName, AnySingleByteEditYieldsCanonicalOrRefused) {
    const std::string seeds[] = {"a.example.com", "[::1]", "127.0.0.1"};
    for (const auto& seed : seeds) {
        for (std::size_t at = 0; at <= seed.size(); ++at) {
            for (int byte = 0; byte < 256; ++byte) {
                std::string raw = seed;
                raw.insert(at, 1, static_cast<char>(byte));
                const auto result = canonicalize_host(raw);
                if (!result.ok) {
                    EXPECT_FALSE(result.reason.empty());
                    continue;
                }
                for (char c : result.host) {
                    const bool allowed = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                                         c == '.' || c == '-' || c == '_' || c == ':';
                    ASSERT_TRUE(allowed) << "byte " << byte << " at " << at << " in " << seed;
                }
                EXPECT_EQ(canonicalize_host(result.kind == HostKind::ipv6 ? "[" + result.host + "]"
                                                                          : result.host)
                              .host,
                          result.host);
            }
        }
    }
}

}  // namespace
}  // namespace ccjail::egress
