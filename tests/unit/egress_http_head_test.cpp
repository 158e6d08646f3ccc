#include <gtest/gtest.h>

#include <string>

#include "egress/http_head.hpp"

namespace ccjail::egress {
namespace {

using namespace std::string_literals;

constexpr std::size_t max_head = 16384;

RequestParse parse(std::string_view buffer) {
    return parse_request_head(buffer, max_head);
}

RequestHead complete(std::string_view buffer) {
    auto result = parse(buffer);
    EXPECT_EQ(to_string(result.status), "complete") << result.reason;
    return result.head;
}

void expect_invalid(std::string_view buffer, std::string_view reason_part) {
    const auto result = parse(buffer);
    EXPECT_EQ(to_string(result.status), "invalid") << testing::PrintToString(std::string(buffer));
    EXPECT_NE(result.reason.find(reason_part), std::string::npos)
        << testing::PrintToString(std::string(buffer)) << ": reason '" << result.reason
        << "' lacks '" << reason_part << "'";
}

TEST(EgressHttpHead, ParsesConnectInAuthorityForm) {
    const std::string text =
        "CONNECT Registry.npmjs.org:443 HTTP/1.1\r\nHost: registry.npmjs.org:443\r\n"
        "User-Agent: node\r\n\r\n";
    const auto head = complete(text + "\x16\x03\x01");
    EXPECT_EQ(head.method, "CONNECT");
    EXPECT_EQ(head.form, TargetForm::authority);
    EXPECT_EQ(head.target, "Registry.npmjs.org:443");
    EXPECT_EQ(head.host, "registry.npmjs.org");
    EXPECT_EQ(head.host_kind, HostKind::name);
    EXPECT_EQ(head.port, 443);
    EXPECT_EQ(head.version, HttpVersion::http_1_1);
    EXPECT_EQ(head.head_length, text.size());
    ASSERT_EQ(head.headers.size(), 2u);
    EXPECT_EQ(head.headers[1].name, "User-Agent");
    EXPECT_EQ(head.headers[1].value, "node");
}

TEST(EgressHttpHead, ConnectNeedsNoHostHeaderAndTakesIpLiterals) {
    const auto v6 = complete("CONNECT [::1]:8080 HTTP/1.1\r\n\r\n");
    EXPECT_EQ(v6.host, "::1");
    EXPECT_EQ(v6.host_kind, HostKind::ipv6);
    EXPECT_EQ(v6.port, 8080);
    const auto disguised = complete("CONNECT 0177.0.0.1:443 HTTP/1.0\r\n\r\n");
    EXPECT_EQ(disguised.host, "127.0.0.1");
    EXPECT_EQ(disguised.host_kind, HostKind::ipv4);
    EXPECT_EQ(disguised.version, HttpVersion::http_1_0);
    const auto mapped = complete("CONNECT [::ffff:127.0.0.1]:443 HTTP/1.1\r\n\r\n");
    EXPECT_EQ(mapped.host, "::ffff:127.0.0.1");
    EXPECT_EQ(mapped.host_kind, HostKind::ipv6);
}

TEST(EgressHttpHead, RefusesHostileConnectTargets) {
    expect_invalid("CONNECT a.com@b.com:443 HTTP/1.1\r\n\r\n", "userinfo");
    expect_invalid("CONNECT user:pw@host:443 HTTP/1.1\r\n\r\n", "userinfo");
    expect_invalid("CONNECT http://host:443/ HTTP/1.1\r\n\r\n", "not a URI");
    expect_invalid("CONNECT host HTTP/1.1\r\n\r\n", "without a port");
    expect_invalid("CONNECT host: HTTP/1.1\r\n\r\n", "invalid port");
    expect_invalid("CONNECT host:0 HTTP/1.1\r\n\r\n", "invalid port");
    expect_invalid("CONNECT host:99999 HTTP/1.1\r\n\r\n", "invalid port");
    expect_invalid("CONNECT ::1:443 HTTP/1.1\r\n\r\n", "more than one ':'");
    expect_invalid("CONNECT evil.com%00.good.com:443 HTTP/1.1\r\n\r\n", "percent");
    expect_invalid("CONNECT 999.0.0.1:443 HTTP/1.1\r\n\r\n", "IPv4");
    expect_invalid("CONNECT /path HTTP/1.1\r\n\r\n", "not a URI");
    // The CRLF ends the request line early: what follows is a header line, and the line
    // "Host: x" cannot turn into part of the target.
    const auto injected = parse("CONNECT evil.com:443\r\nHost: x HTTP/1.1\r\n\r\n");
    EXPECT_EQ(injected.status, HeadStatus::invalid);
    const auto split = parse("CONNECT evil.com:443\r\nHost: x\r\n\r\n");
    EXPECT_EQ(split.status, HeadStatus::invalid);
    EXPECT_EQ(split.reason, "request line is not METHOD SP target SP version");
}

TEST(EgressHttpHead, ParsesAbsoluteFormWithDefaultPort) {
    const auto head = complete("GET http://Example.COM/a/b?c=d HTTP/1.1\r\nHost: x\r\n\r\n");
    EXPECT_EQ(head.form, TargetForm::absolute);
    EXPECT_EQ(head.host, "example.com");
    EXPECT_EQ(head.port, 80);
    EXPECT_EQ(head.path, "/a/b?c=d");
    const auto bare = complete("GET HTTP://example.com:8080 HTTP/1.1\r\nHost: x\r\n\r\n");
    EXPECT_EQ(bare.port, 8080);
    EXPECT_EQ(bare.path, "/");
    const auto query = complete("GET http://example.com?q HTTP/1.1\r\nHost: x\r\n\r\n");
    EXPECT_EQ(query.path, "/?q");
    const auto v6 = complete("GET http://[::1]:81/x HTTP/1.1\r\nHost: x\r\n\r\n");
    EXPECT_EQ(v6.host, "::1");
    EXPECT_EQ(v6.port, 81);
}

TEST(EgressHttpHead, RefusesOtherTargets) {
    expect_invalid("GET https://example.com/ HTTP/1.1\r\nHost: x\r\n\r\n", "use CONNECT");
    expect_invalid("GET ftp://example.com/ HTTP/1.1\r\nHost: x\r\n\r\n", "neither");
    expect_invalid("OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n", "neither");
    expect_invalid("GET http://u:p@example.com/ HTTP/1.1\r\nHost: x\r\n\r\n", "userinfo");
    expect_invalid("GET http:///x HTTP/1.1\r\nHost: x\r\n\r\n", "empty host");
    expect_invalid("GET http://example.com:/x HTTP/1.1\r\nHost: x\r\n\r\n", "invalid port");
    expect_invalid("GET /a#frag HTTP/1.1\r\nHost: x\r\n\r\n", "fragment");
    expect_invalid("GET /a\x80 HTTP/1.1\r\nHost: x\r\n\r\n", "visible ASCII");
}

TEST(EgressHttpHead, ParsesOriginForm) {
    const auto head = complete("POST /v1/messages?beta=true HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
    EXPECT_EQ(head.form, TargetForm::origin);
    EXPECT_EQ(head.path, "/v1/messages?beta=true");
    EXPECT_TRUE(head.host.empty());
}

TEST(EgressHttpHead, RequestLineIsExactlyThreePartsWithOneSpace) {
    const char* why = "request line is not METHOD SP target SP version";
    expect_invalid("GET  / HTTP/1.1\r\nHost: x\r\n\r\n", why);
    expect_invalid("GET / HTTP/1.1 \r\nHost: x\r\n\r\n", why);
    expect_invalid(" GET / HTTP/1.1\r\nHost: x\r\n\r\n", why);
    expect_invalid(" / HTTP/1.1\r\nHost: x\r\n\r\n", "method");
    expect_invalid("GET\t/ HTTP/1.1\r\nHost: x\r\n\r\n", why);
    expect_invalid("GET /\r\nHost: x\r\n\r\n", why);
    expect_invalid("GET / HTTP/2.0\r\nHost: x\r\n\r\n", "version");
    expect_invalid("GET / http/1.1\r\nHost: x\r\n\r\n", "version");
    expect_invalid("GET / HTTP/1.1x\r\nHost: x\r\n\r\n", "version");
    expect_invalid("G(T / HTTP/1.1\r\nHost: x\r\n\r\n", "method");
    expect_invalid("\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n", "empty start line");
}

TEST(EgressHttpHead, RefusesLooseLineEndingsAndNul) {
    expect_invalid("GET / HTTP/1.1\nHost: x\r\n\r\n", "bare LF");
    expect_invalid("GET / HTTP/1.1\r\nHost: x\n\r\n", "bare LF");
    expect_invalid("GET / HTTP/1.1\r\nHost: x\r\n\n", "bare LF");
    expect_invalid("GET / HTTP/1.1\rHost: x\r\n\r\n", "bare CR");
    expect_invalid("GET / HTTP/1.1\r\nX: a\rb\r\nHost: x\r\n\r\n", "bare CR");
    expect_invalid("GET / HTTP/1.1\r\nX: a\0b\r\nHost: x\r\n\r\n"s, "NUL");
    // Refused as soon as seen, before the head is complete.
    expect_invalid("GET / HTTP/1.1\r\nX: a\nb", "bare LF");
    expect_invalid("GET /\0"s, "NUL");
}

TEST(EgressHttpHead, RefusesMalformedHeaderLines) {
    expect_invalid("GET / HTTP/1.1\r\nHost: x\r\n folded\r\n\r\n", "obs-fold");
    expect_invalid("GET / HTTP/1.1\r\nHost: x\r\n\tfolded\r\n\r\n", "obs-fold");
    expect_invalid("GET / HTTP/1.1\r\nHost : x\r\n\r\n", "whitespace before ':'");
    expect_invalid("GET / HTTP/1.1\r\nHost\t: x\r\n\r\n", "whitespace before ':'");
    expect_invalid("GET / HTTP/1.1\r\nHost x\r\n\r\n", "without ':'");
    expect_invalid("GET / HTTP/1.1\r\n: x\r\nHost: x\r\n\r\n", "not a token");
    expect_invalid("GET / HTTP/1.1\r\nX(y): x\r\nHost: x\r\n\r\n", "not a token");
    expect_invalid("GET / HTTP/1.1\r\nX: a\x1b[2Jb\r\nHost: x\r\n\r\n", "control character");
    expect_invalid("GET / HTTP/1.1\r\nX: a\x7f\r\nHost: x\r\n\r\n", "control character");
}

TEST(EgressHttpHead, HeaderValuesAreTrimmedAndKeepTabsAndDuplicates) {
    const auto head = complete(
        "GET / HTTP/1.1\r\nHost: x\r\nAccept:  a\tb \t\r\nX-Dup: 1\r\nx-dup: 2\r\nEmpty:\r\n\r\n");
    ASSERT_EQ(head.headers.size(), 5u);
    EXPECT_EQ(head.headers[1].value, "a\tb");
    EXPECT_EQ(head.headers[4].value, "");
    const auto dups = header_values(head.headers, "X-DUP");
    ASSERT_EQ(dups.size(), 2u);
    EXPECT_EQ(dups[0], "1");
    EXPECT_EQ(dups[1], "2");
}

TEST(EgressHttpHead, HostHeaderRules) {
    expect_invalid("GET / HTTP/1.1\r\nHost: a\r\nhost: b\r\n\r\n", "more than one Host");
    expect_invalid("GET / HTTP/1.1\r\n\r\n", "without a Host");
    expect_invalid("CONNECT a.com:443 HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", "more than one");
    EXPECT_EQ(parse("GET / HTTP/1.0\r\n\r\n").status, HeadStatus::complete);
}

TEST(EgressHttpHead, SplittingAtEveryOffsetIsIncompleteUntilTheEnd) {
    const std::string text =
        "POST /v1/messages HTTP/1.1\r\nHost: api\r\nContent-Type: application/json\r\n"
        "Content-Length: 2\r\n\r\n";
    for (std::size_t cut = 0; cut < text.size(); ++cut) {
        const auto result = parse(std::string_view(text).substr(0, cut));
        ASSERT_EQ(result.status, HeadStatus::incomplete)
            << "cut at " << cut << ": " << result.reason;
    }
    const auto head = complete(text + "{}");
    EXPECT_EQ(head.head_length, text.size());
}

TEST(EgressHttpHead, HeadLimitIsEnforcedWhetherOrNotTheHeadEnds) {
    const std::string start = "GET / HTTP/1.1\r\nHost: x\r\n";
    std::string big = start;
    while (big.size() < 200) {
        big += "X-Fill: 0123456789\r\n";
    }
    EXPECT_EQ(parse_request_head(big, 100).status, HeadStatus::too_large);
    EXPECT_EQ(parse_request_head(big + "\r\n", 100).status, HeadStatus::too_large);
    EXPECT_EQ(parse_request_head(big + "\r\n", big.size() + 2).status, HeadStatus::complete);
    EXPECT_EQ(parse_request_head(big + "\r\n", big.size() + 1).status, HeadStatus::too_large);
    // A never-ending line with no CRLF at all.
    EXPECT_EQ(parse_request_head(std::string(1 << 20, 'A'), max_head).status,
              HeadStatus::too_large);
}

TEST(EgressHttpHead, LineAndHeaderCountLimits) {
    HeadLimits limits;
    limits.max_line_bytes = 64;
    const std::string long_value(62, 'v');
    EXPECT_EQ(parse_request_head("GET / HTTP/1.1\r\nHost: x\r\nX: " + long_value + "\r\n\r\n",
                                 max_head, limits)
                  .status,
              HeadStatus::too_large);
    EXPECT_EQ(parse_request_head(
                  "GET / HTTP/1.1\r\nHost: x\r\nX: " + long_value.substr(0, 61) + "\r\n\r\n",
                  max_head, limits)
                  .status,
              HeadStatus::complete);

    std::string hundred = "GET / HTTP/1.1\r\nHost: x\r\n";
    for (int i = 1; i < 100; ++i) {
        hundred += "X-" + std::to_string(i) + ": v\r\n";
    }
    const auto at_limit = parse_request_head(hundred + "\r\n", 1 << 20);
    EXPECT_EQ(at_limit.status, HeadStatus::complete);
    EXPECT_EQ(at_limit.head.headers.size(), 100u);
    const auto over = parse_request_head(hundred + "X-100: v\r\n\r\n", 1 << 20);
    EXPECT_EQ(over.status, HeadStatus::too_large);
    EXPECT_EQ(over.reason, "more headers than the limit");
}

TEST(EgressHttpHead, ParsesResponseHeads) {
    const std::string text =
        "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nConnection: keep-alive\r\n\r\n";
    const auto result = parse_response_head(text + "event: x\n", max_head);
    ASSERT_EQ(result.status, HeadStatus::complete) << result.reason;
    EXPECT_EQ(result.head.status, 200);
    EXPECT_EQ(result.head.reason, "OK");
    EXPECT_EQ(result.head.version, HttpVersion::http_1_1);
    EXPECT_EQ(result.head.head_length, text.size());
    ASSERT_EQ(result.head.headers.size(), 2u);

    const auto empty_reason = parse_response_head("HTTP/1.0 204 \r\n\r\n", max_head);
    ASSERT_EQ(empty_reason.status, HeadStatus::complete);
    EXPECT_EQ(empty_reason.head.status, 204);
    EXPECT_EQ(empty_reason.head.reason, "");
    EXPECT_EQ(parse_response_head("HTTP/1.1 529\r\n\r\n", max_head).head.status, 529);

    for (std::size_t cut = 0; cut < text.size(); ++cut) {
        ASSERT_EQ(parse_response_head(text.substr(0, cut), max_head).status, HeadStatus::incomplete)
            << cut;
    }
}

TEST(EgressHttpHead, RefusesMalformedResponseHeads) {
    for (const char* bad :
         {"HTTP/1.1 20 OK\r\n\r\n", "HTTP/1.1 2000 OK\r\n\r\n", "HTTP/1.1 600 X\r\n\r\n",
          "HTTP/1.1 099 X\r\n\r\n", "HTTP/2 200 OK\r\n\r\n", "HTTP/1.1  200 OK\r\n\r\n",
          "HTTP/1.1 200 O\x01K\r\n\r\n", "HTTP/1.1 200 OK\nX: y\r\n\r\n",
          "HTTP/1.1 200 OK\r\nX : y\r\n\r\n", "ICY 200 OK\r\n\r\n"}) {
        EXPECT_EQ(parse_response_head(bad, max_head).status, HeadStatus::invalid)
            << testing::PrintToString(std::string(bad));
    }
}

TEST(EgressHttpHead, StatusNamesAreStable) {
    EXPECT_EQ(to_string(HeadStatus::incomplete), "incomplete");
    EXPECT_EQ(to_string(HeadStatus::too_large), "too_large");
    EXPECT_EQ(to_string(HttpVersion::http_1_0), "HTTP/1.0");
}

// Any byte at any position of a valid head: no crash, and an accepted head never holds a
// header value with a CR, LF or NUL (what would let a rewritten head grow extra lines).
TEST(EgressHttpHead, AnyInsertedByteIsAcceptedSafelyOrRefused) {
    const std::string text = "CONNECT a.com:443 HTTP/1.1\r\nHost: a.com:443\r\nX: y\r\n\r\n";
    for (std::size_t at = 0; at <= text.size(); ++at) {
        for (int byte = 0; byte < 256; ++byte) {
            std::string mutated = text;
            mutated.insert(at, 1, static_cast<char>(byte));
            const auto result = parse(mutated);
            // One byte more never makes a complete head wait for more input.
            ASSERT_NE(result.status, HeadStatus::incomplete) << "byte " << byte << " at " << at;
            if (result.status != HeadStatus::complete) {
                EXPECT_FALSE(result.reason.empty());
                continue;
            }
            for (const auto& header : result.head.headers) {
                ASSERT_EQ(header.value.find_first_of(std::string("\r\n\0", 3)), std::string::npos);
                ASSERT_EQ(header.name.find_first_of(std::string("\r\n\0 :", 5)), std::string::npos);
            }
            ASSERT_LE(result.head.head_length, mutated.size());
        }
    }
}

}  // namespace
}  // namespace ccjail::egress
