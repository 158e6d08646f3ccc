#include <gtest/gtest.h>

#include <string>

#include "egress/chunked_scanner.hpp"

namespace ccjail::egress {
namespace {

using Status = ChunkedScanner::Status;
using namespace std::string_literals;

struct Outcome {
    Status status;
    std::size_t used;
};

Outcome scan_whole(std::string_view bytes) {
    ChunkedScanner scanner;
    const auto used = scanner.feed(bytes);
    return {scanner.status(), used};
}

void expect_invalid(std::string_view body, std::string_view reason_part) {
    ChunkedScanner scanner;
    scanner.feed(body);
    EXPECT_EQ(scanner.status(), Status::invalid) << testing::PrintToString(std::string(body));
    EXPECT_NE(scanner.error().find(reason_part), std::string::npos)
        << testing::PrintToString(std::string(body)) << ": '" << scanner.error() << "'";
}

const std::string body =
    "5\r\nhello\r\n"
    "1A;name=value\r\n" +
    std::string(26, 'x') +
    "\r\n"
    "0\r\n"
    "Trailer-One: 1\r\n"
    "\r\n";

TEST(EgressChunkedScanner, FindsTheEndOfABodyFedWhole) {
    const auto outcome = scan_whole(body + "NEXT");
    EXPECT_EQ(outcome.status, Status::done);
    EXPECT_EQ(outcome.used, body.size());
}

TEST(EgressChunkedScanner, SameAnswerWhateverTheSplit) {
    for (std::size_t cut = 0; cut <= body.size(); ++cut) {
        ChunkedScanner scanner;
        const auto first = scanner.feed(std::string_view(body).substr(0, cut));
        EXPECT_EQ(first, cut);
        if (cut < body.size()) {
            ASSERT_EQ(scanner.status(), Status::in_body) << cut << ": " << scanner.error();
        }
        const auto second = scanner.feed(std::string_view(body).substr(cut));
        EXPECT_EQ(first + second, body.size()) << cut;
        EXPECT_EQ(scanner.status(), Status::done) << cut;
    }
    ChunkedScanner bytewise;
    std::size_t used = 0;
    for (char c : body) {
        ASSERT_EQ(bytewise.status(), Status::in_body);
        used += bytewise.feed(std::string_view(&c, 1));
    }
    EXPECT_EQ(bytewise.status(), Status::done);
    EXPECT_EQ(used, body.size());
    EXPECT_EQ(bytewise.feed("more"), 0u);
}

TEST(EgressChunkedScanner, MinimalAndLargeChunks) {
    EXPECT_EQ(scan_whole("0\r\n\r\n").status, Status::done);
    const std::string big = "10000\r\n" + std::string(0x10000, '\0') + "\r\n0\r\n\r\n";
    const auto outcome = scan_whole(big);
    EXPECT_EQ(outcome.status, Status::done);
    EXPECT_EQ(outcome.used, big.size());
    EXPECT_EQ(scan_whole("000000000000005\r\nhello\r\n0\r\n\r\n").status, Status::done);
    EXPECT_EQ(scan_whole("5 ;ext\r\nhello\r\n0\r\n\r\n").status, Status::done);
    EXPECT_EQ(scan_whole("0;last\r\n\r\n").status, Status::done);
}

TEST(EgressChunkedScanner, RefusesMalformedSizes) {
    expect_invalid("\r\nhello\r\n", "size missing");
    expect_invalid("g\r\n", "size missing");
    expect_invalid("5g\r\nhello\r\n", "malformed chunk size");
    expect_invalid("-5\r\n", "size missing");
    expect_invalid("+5\r\n", "size missing");
    expect_invalid("0x5\r\nhello\r\n", "malformed chunk size");
    expect_invalid("5 \r\nhello\r\n", "without an extension");
    expect_invalid(" 5\r\nhello\r\n", "size missing");
    expect_invalid("5\nhello\r\n", "bare LF");
    expect_invalid("5\rhello\r\n", "bare CR");
    expect_invalid("1000000000000000\r\n", "15 hex digits");
    expect_invalid("ffffffffffffffffff\r\n", "15 hex digits");
    expect_invalid("5;a\x01\r\nhello\r\n", "control character");
    expect_invalid("5;" + std::string(5000, 'e') + "\r\n", "longer than the limit");
}

TEST(EgressChunkedScanner, RefusesDataThatDisagreesWithItsSize) {
    expect_invalid("5\r\nhello!\r\n0\r\n\r\n", "longer than its size");
    expect_invalid("5\r\nhello\n0\r\n\r\n", "longer than its size");
    expect_invalid("5\r\nhello\r0\r\n\r\n", "bare CR");
}

TEST(EgressChunkedScanner, RefusesMalformedTrailers) {
    expect_invalid("0\r\n folded\r\n\r\n", "malformed trailer");
    expect_invalid("0\r\nNo-Colon\r\n\r\n", "malformed trailer field name");
    expect_invalid("0\r\nX y: 1\r\n\r\n", "malformed trailer field name");
    expect_invalid("0\r\nX: a\x7f\r\n\r\n", "control character");
    expect_invalid("0\r\nX: a\nb\r\n\r\n", "bare LF");
    expect_invalid("0\r\n\n", "bare LF");
    expect_invalid("0\r\n\r\r", "bare CR");
    expect_invalid("0\r\n"s + "X: \0\r\n\r\n"s, "control character");
    std::string many = "0\r\n";
    for (int i = 0; i < 101; ++i) {
        many += "T" + std::to_string(i) + ": v\r\n";
    }
    expect_invalid(many + "\r\n", "more trailer fields");
}

TEST(EgressChunkedScanner, ReportsTheOffsetOfTheOffendingByte) {
    ChunkedScanner scanner;
    EXPECT_EQ(scanner.feed("5\r\nhello!"), 8u);
    EXPECT_EQ(scanner.status(), Status::invalid);
    EXPECT_EQ(scanner.feed("0\r\n\r\n"), 0u);
    EXPECT_EQ(scanner.status(), Status::invalid);
}

}  // namespace
}  // namespace ccjail::egress
