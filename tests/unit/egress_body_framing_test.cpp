#include <gtest/gtest.h>

#include <string>

#include "egress/body_framing.hpp"

namespace ccjail::egress {
namespace {

RequestHead request(std::string_view head_text) {
    const auto parse = parse_request_head(head_text, 65536);
    EXPECT_EQ(parse.status, HeadStatus::complete) << parse.reason;
    return parse.head;
}

BodyFraming request_framing(std::string_view headers) {
    return request_body_framing(
        request("POST /x HTTP/1.1\r\nHost: h\r\n" + std::string(headers) + "\r\n"));
}

void expect_invalid(std::string_view headers, std::string_view reason_part) {
    const auto framing = request_framing(headers);
    EXPECT_EQ(to_string(framing.kind), "invalid") << testing::PrintToString(std::string(headers));
    EXPECT_NE(framing.reason.find(reason_part), std::string::npos) << framing.reason;
}

TEST(EgressBodyFraming, NoFramingHeadersMeansNoRequestBody) {
    EXPECT_EQ(request_framing("").kind, FramingKind::none);
}

TEST(EgressBodyFraming, ContentLength) {
    const auto framing = request_framing("Content-Length: 42\r\n");
    EXPECT_EQ(framing.kind, FramingKind::content_length);
    EXPECT_EQ(framing.length, 42u);
    const auto zero = request_framing("Content-Length: 0\r\n");
    EXPECT_EQ(zero.kind, FramingKind::content_length);
    EXPECT_EQ(zero.length, 0u);
    const auto same_twice = request_framing("Content-Length: 7\r\ncontent-length: 7\r\n");
    EXPECT_EQ(same_twice.kind, FramingKind::content_length);
    EXPECT_EQ(same_twice.length, 7u);
    EXPECT_EQ(request_framing("Content-Length: 999999999999999999\r\n").length,
              999999999999999999u);
}

TEST(EgressBodyFraming, RefusesAmbiguousContentLength) {
    expect_invalid("Content-Length: 7\r\nContent-Length: 8\r\n", "differing");
    expect_invalid("Content-Length: 7, 7\r\n", "not a decimal");
    expect_invalid("Content-Length: -1\r\n", "not a decimal");
    expect_invalid("Content-Length: +1\r\n", "not a decimal");
    expect_invalid("Content-Length: 0x10\r\n", "not a decimal");
    expect_invalid("Content-Length: 1 2\r\n", "not a decimal");
    expect_invalid("Content-Length:\r\n", "not a decimal");
    expect_invalid("Content-Length: 9999999999999999999\r\n", "not a decimal");
}

TEST(EgressBodyFraming, ChunkedIsTheOnlyTransferEncoding) {
    EXPECT_EQ(request_framing("Transfer-Encoding: chunked\r\n").kind, FramingKind::chunked);
    EXPECT_EQ(request_framing("Transfer-Encoding: Chunked\r\n").kind, FramingKind::chunked);
    expect_invalid("Transfer-Encoding: gzip, chunked\r\n", "exactly");
    expect_invalid("Transfer-Encoding: chunked, chunked\r\n", "exactly");
    expect_invalid("Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n", "exactly");
    expect_invalid("Transfer-Encoding: xchunked\r\n", "exactly");
    expect_invalid("Transfer-Encoding: identity\r\n", "exactly");
    expect_invalid("Transfer-Encoding: chunked\r\nContent-Length: 5\r\n", "both");
    expect_invalid("Content-Length: 5\r\nTransfer-Encoding: chunked\r\n", "both");
    const auto http10 =
        request_body_framing(request("POST /x HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n"));
    EXPECT_EQ(http10.kind, FramingKind::invalid);
}

ResponseHead response(std::string_view text) {
    const auto parse = parse_response_head(text, 65536);
    EXPECT_EQ(parse.status, HeadStatus::complete) << parse.reason;
    return parse.head;
}

TEST(EgressBodyFraming, ResponseFraming) {
    EXPECT_EQ(response_body_framing(response("HTTP/1.1 200 OK\r\n\r\n"), "GET").kind,
              FramingKind::until_close);
    EXPECT_EQ(response_body_framing(
                  response("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"), "POST")
                  .kind,
              FramingKind::chunked);
    const auto length =
        response_body_framing(response("HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\n"), "GET");
    EXPECT_EQ(length.kind, FramingKind::content_length);
    EXPECT_EQ(length.length, 3u);
    EXPECT_EQ(
        response_body_framing(
            response("HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\n"), "GET")
            .kind,
        FramingKind::invalid);
}

TEST(EgressBodyFraming, ResponsesWithoutBodies) {
    const auto with_length = [](int status) {
        return response("HTTP/1.1 " + std::to_string(status) + " X\r\nContent-Length: 10\r\n\r\n");
    };
    EXPECT_EQ(response_body_framing(with_length(200), "HEAD").kind, FramingKind::none);
    EXPECT_EQ(response_body_framing(with_length(100), "GET").kind, FramingKind::none);
    EXPECT_EQ(response_body_framing(with_length(204), "GET").kind, FramingKind::none);
    EXPECT_EQ(response_body_framing(with_length(304), "GET").kind, FramingKind::none);
    EXPECT_EQ(response_body_framing(with_length(200), "CONNECT").kind, FramingKind::none);
    EXPECT_EQ(response_body_framing(with_length(407), "CONNECT").kind, FramingKind::content_length);
}

TEST(EgressBodyFraming, KindNamesAreStable) {
    EXPECT_EQ(to_string(FramingKind::none), "none");
    EXPECT_EQ(to_string(FramingKind::content_length), "content_length");
    EXPECT_EQ(to_string(FramingKind::chunked), "chunked");
    EXPECT_EQ(to_string(FramingKind::until_close), "until_close");
}

}  // namespace
}  // namespace ccjail::egress
