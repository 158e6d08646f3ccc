#include <gtest/gtest.h>

#include <string>

#include "egress/error_response.hpp"
#include "egress/http_head.hpp"

namespace ccjail::egress {
namespace {

using namespace std::string_literals;

ResponseHead parsed(const std::string& bytes, std::string& body) {
    const auto parse = parse_response_head(bytes, 65536);
    EXPECT_EQ(parse.status, HeadStatus::complete) << parse.reason;
    body = bytes.substr(parse.head.head_length);
    return parse.head;
}

std::string only_value(const ResponseHead& head, std::string_view name) {
    const auto values = header_values(head.headers, name);
    EXPECT_EQ(values.size(), 1u) << name;
    return values.empty() ? std::string() : std::string(values.front());
}

TEST(EgressErrorResponse, DenialCarriesItsReasonHeaderAndAnExactLength) {
    std::string body;
    const auto head = parsed(error_response(403, "host evil.com is not allowed"), body);
    EXPECT_EQ(head.status, 403);
    EXPECT_EQ(head.reason, "Forbidden");
    EXPECT_EQ(only_value(head, "X-Ccjail-Deny-Reason"), "host evil.com is not allowed");
    EXPECT_EQ(only_value(head, "Connection"), "close");
    EXPECT_EQ(only_value(head, "Content-Type"), "text/plain; charset=us-ascii");
    EXPECT_EQ(only_value(head, "Content-Length"), std::to_string(body.size()));
    EXPECT_EQ(body, "ccjail: 403 Forbidden: host evil.com is not allowed\n");
}

TEST(EgressErrorResponse, StatusTextsAndNoDenyHeaderOutside403) {
    const std::pair<int, const char*> cases[] = {
        {400, "Bad Request"},
        {405, "Method Not Allowed"},
        {431, "Request Header Fields Too Large"},
        {502, "Bad Gateway"},
        {503, "Service Unavailable"},
        {504, "Gateway Timeout"},
    };
    for (const auto& [status, text] : cases) {
        std::string body;
        const auto head = parsed(error_response(status, "why"), body);
        EXPECT_EQ(head.status, status);
        EXPECT_EQ(head.reason, text);
        EXPECT_TRUE(header_values(head.headers, "X-Ccjail-Deny-Reason").empty()) << status;
    }
    std::string body;
    EXPECT_EQ(parsed(error_response(200, "x"), body).status, 500);
}

TEST(EgressErrorResponse, RequestBytesCannotForgeHeadersOrEscapes) {
    const auto reason = "evil.com:443\r\nSet-Cookie: a=b\x1b[2J\0\xff"s + std::string(500, 'z');
    const auto bytes = error_response(403, reason);
    std::string body;
    const auto head = parsed(bytes, body);
    EXPECT_TRUE(header_values(head.headers, "Set-Cookie").empty());
    const auto deny = only_value(head, "X-Ccjail-Deny-Reason");
    EXPECT_EQ(deny.substr(0, 33), "evil.com:443??Set-Cookie: a=b?[2J");
    EXPECT_EQ(deny.size(), 200u);
    for (char c : bytes.substr(0, head.head_length) + body) {
        const bool allowed = (c >= 0x20 && c < 0x7f) || c == '\r' || c == '\n';
        ASSERT_TRUE(allowed) << static_cast<int>(static_cast<unsigned char>(c));
    }
    EXPECT_EQ(only_value(head, "Content-Length"), std::to_string(body.size()));
}

TEST(EgressErrorResponse, ConnectEstablished) {
    std::string body;
    const auto head = parsed(connect_established_response(), body);
    EXPECT_EQ(head.status, 200);
    EXPECT_TRUE(body.empty());
}

}  // namespace
}  // namespace ccjail::egress
