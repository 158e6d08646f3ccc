#include <gtest/gtest.h>

#include <string>

#include "egress/header_rewrite.hpp"

namespace ccjail::egress {
namespace {

RequestHead request(std::string_view text) {
    const auto parse = parse_request_head(text, 65536);
    EXPECT_EQ(parse.status, HeadStatus::complete) << parse.reason;
    return parse.head;
}

ResponseHead response(std::string_view text) {
    const auto parse = parse_response_head(text, 65536);
    EXPECT_EQ(parse.status, HeadStatus::complete) << parse.reason;
    return parse.head;
}

// The rewritten head must itself parse, and be exactly what the expectation spells out.
void expect_reparses(const std::string& bytes) {
    const auto again = parse_request_head(bytes, 65536);
    EXPECT_EQ(again.status, HeadStatus::complete) << again.reason << "\n" << bytes;
    EXPECT_EQ(again.head.head_length, bytes.size());
}

TEST(EgressHeaderRewrite, GatewayRequestSwapsCredentialsAndHost) {
    const auto head = request(
        "POST /v1/messages?beta=true HTTP/1.1\r\n"
        "Host: 127.0.0.1:3129\r\n"
        "X-Api-Key: sk-from-the-jail\r\n"
        "Authorization: Bearer jail\r\n"
        "anthropic-version: 2023-06-01\r\n"
        "Content-Type: application/json\r\n"
        "Connection: keep-alive, X-Secret-Hop\r\n"
        "X-Secret-Hop: 1\r\n"
        "Keep-Alive: timeout=5\r\n"
        "Proxy-Authorization: Basic eA==\r\n"
        "Proxy-Connection: keep-alive\r\n"
        "TE: trailers\r\n"
        "Trailer: X-T\r\n"
        "Upgrade: h2c\r\n"
        "Content-Length: 2\r\n"
        "\r\n");
    const auto rewritten = gateway_request_head(head, "api.anthropic.com", "x-api-key", "sk-real");
    ASSERT_TRUE(rewritten.ok) << rewritten.reason;
    EXPECT_EQ(rewritten.bytes,
              "POST /v1/messages?beta=true HTTP/1.1\r\n"
              "Host: api.anthropic.com\r\n"
              "anthropic-version: 2023-06-01\r\n"
              "Content-Type: application/json\r\n"
              "Content-Length: 2\r\n"
              "x-api-key: sk-real\r\n"
              "Connection: close\r\n"
              "\r\n");
    expect_reparses(rewritten.bytes);
}

TEST(EgressHeaderRewrite, GatewayDropsTheConfiguredKeyHeaderWhateverItsName) {
    const auto head = request(
        "GET /x HTTP/1.1\r\nHost: h\r\nX-Custom-Key: forged\r\nx-custom-key: forged2\r\n\r\n");
    const auto rewritten = gateway_request_head(head, "up.example", "X-Custom-Key", "real");
    ASSERT_TRUE(rewritten.ok);
    EXPECT_EQ(rewritten.bytes,
              "GET /x HTTP/1.1\r\nHost: up.example\r\nX-Custom-Key: real\r\n"
              "Connection: close\r\n\r\n");
    EXPECT_EQ(rewritten.bytes.find("forged"), std::string::npos);
}

TEST(EgressHeaderRewrite, ConnectionCannotStripFramingHeaders) {
    const auto head = request(
        "POST /x HTTP/1.1\r\nHost: h\r\nConnection: Content-Length, transfer-encoding\r\n"
        "Content-Length: 5\r\n\r\n");
    const auto rewritten = gateway_request_head(head, "up", "x-api-key", "k");
    ASSERT_TRUE(rewritten.ok);
    EXPECT_NE(rewritten.bytes.find("\r\nContent-Length: 5\r\n"), std::string::npos);
    const auto chunked = request(
        "POST http://a.com/x HTTP/1.1\r\nHost: h\r\nConnection: transfer-encoding\r\n"
        "Transfer-Encoding: chunked\r\n\r\n");
    const auto plain = plain_http_request_head(chunked);
    ASSERT_TRUE(plain.ok);
    EXPECT_NE(plain.bytes.find("\r\nTransfer-Encoding: chunked\r\n"), std::string::npos);
}

TEST(EgressHeaderRewrite, GatewayRefusesWhatItCannotForwardSafely) {
    const auto origin = request("GET /x HTTP/1.1\r\nHost: h\r\n\r\n");
    EXPECT_FALSE(gateway_request_head(origin, "up", "x-api-key", "key\n").ok);
    EXPECT_FALSE(gateway_request_head(origin, "up", "x-api-key", "key\r\nX-Evil: 1").ok);
    EXPECT_FALSE(gateway_request_head(origin, "up", "x-api-key", "").ok);
    EXPECT_FALSE(gateway_request_head(origin, "up", "x-api-key", " key").ok);
    EXPECT_FALSE(gateway_request_head(origin, "up", "x api key", "key").ok);
    EXPECT_FALSE(gateway_request_head(origin, "up\r\n", "x-api-key", "key").ok);
    EXPECT_FALSE(gateway_request_head(origin, "", "x-api-key", "key").ok);
    const auto refused = gateway_request_head(origin, "up", "x-api-key", "secret\n");
    EXPECT_EQ(refused.reason.find("secret"), std::string::npos);

    const auto absolute = request("GET http://a.com/x HTTP/1.1\r\nHost: h\r\n\r\n");
    const auto not_origin = gateway_request_head(absolute, "up", "x-api-key", "k");
    EXPECT_FALSE(not_origin.ok);
    EXPECT_NE(not_origin.reason.find("origin-form"), std::string::npos);
    EXPECT_FALSE(
        gateway_request_head(request("CONNECT a.com:443 HTTP/1.1\r\n\r\n"), "up", "x-api-key", "k")
            .ok);

    const auto smuggled = request(
        "POST /x HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n");
    EXPECT_FALSE(gateway_request_head(smuggled, "up", "x-api-key", "k").ok);
}

TEST(EgressHeaderRewrite, GatewayResponseOnlyTouchesConnectionHeaders) {
    const auto head = response(
        "HTTP/1.1 200 OK\r\n"
        "Content-Type: text/event-stream\r\n"
        "Connection: keep-alive\r\n"
        "Keep-Alive: timeout=5\r\n"
        "Cache-Control: no-cache\r\n"
        "Transfer-Encoding: chunked\r\n"
        "request-id: req_1\r\n"
        "\r\n");
    EXPECT_EQ(gateway_response_head(head),
              "HTTP/1.1 200 OK\r\n"
              "Content-Type: text/event-stream\r\n"
              "Cache-Control: no-cache\r\n"
              "Transfer-Encoding: chunked\r\n"
              "request-id: req_1\r\n"
              "Connection: close\r\n"
              "\r\n");
    const auto rebuilt = parse_response_head(gateway_response_head(head), 65536);
    EXPECT_EQ(rebuilt.status, HeadStatus::complete);
    EXPECT_EQ(gateway_response_head(response("HTTP/1.0 529 \r\n\r\n")),
              "HTTP/1.0 529 \r\nConnection: close\r\n\r\n");
}

TEST(EgressHeaderRewrite, PlainHttpGoesOriginFormWithHostFromTheUri) {
    const auto head = request(
        "GET http://Example.com:8080/a?b HTTP/1.0\r\n"
        "Host: forged.example\r\n"
        "Proxy-Authorization: Basic eA==\r\n"
        "Proxy-Connection: keep-alive\r\n"
        "Authorization: Bearer for-the-origin\r\n"
        "Accept: */*\r\n"
        "\r\n");
    const auto rewritten = plain_http_request_head(head);
    ASSERT_TRUE(rewritten.ok) << rewritten.reason;
    EXPECT_EQ(rewritten.bytes,
              "GET /a?b HTTP/1.1\r\n"
              "Host: example.com:8080\r\n"
              "Authorization: Bearer for-the-origin\r\n"
              "Accept: */*\r\n"
              "Connection: close\r\n"
              "\r\n");
    expect_reparses(rewritten.bytes);
}

TEST(EgressHeaderRewrite, PlainHttpHostOmitsPort80AndBracketsIpv6) {
    EXPECT_EQ(
        plain_http_request_head(request("GET http://a.com/ HTTP/1.1\r\nHost: x\r\n\r\n")).bytes,
        "GET / HTTP/1.1\r\nHost: a.com\r\nConnection: close\r\n\r\n");
    EXPECT_EQ(
        plain_http_request_head(request("GET http://[::1]:81/ HTTP/1.1\r\nHost: x\r\n\r\n")).bytes,
        "GET / HTTP/1.1\r\nHost: [::1]:81\r\nConnection: close\r\n\r\n");
    EXPECT_FALSE(plain_http_request_head(request("GET /x HTTP/1.1\r\nHost: x\r\n\r\n")).ok);
}

}  // namespace
}  // namespace ccjail::egress
