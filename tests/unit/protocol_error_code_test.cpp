// The protocol's closed error-code set: names round trip, the set is exactly the documented
// one, and ProtocolError carries its code.
#include <gtest/gtest.h>

#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "protocol/error_code.hpp"

namespace ccjail::protocol {
namespace {

const std::vector<std::string> kDocumented = {
    "bad_frame", "bad_request", "unsupported_version", "unknown_op",   "unknown_profile",
    "forbidden", "not_found",   "too_many_sessions",   "rate_limited", "spawn_failed",
    "internal",
};

TEST(ErrorCode, NamesRoundTrip) {
    for (const ErrorCode code : all_error_codes()) {
        const auto name = to_string(code);
        const auto back = error_code_from_string(name);
        ASSERT_TRUE(back.has_value()) << name;
        EXPECT_EQ(*back, code) << name;
    }
}

TEST(ErrorCode, SetIsExactlyTheDocumentedOne) {
    std::vector<std::string> names;
    for (const ErrorCode code : all_error_codes()) {
        names.emplace_back(to_string(code));
    }
    EXPECT_EQ(names, kDocumented);
    EXPECT_EQ(std::set<std::string>(names.begin(), names.end()).size(), names.size());
}

TEST(ErrorCode, UnknownNamesAreRefused) {
    EXPECT_FALSE(error_code_from_string("").has_value());
    EXPECT_FALSE(error_code_from_string("BAD_FRAME").has_value());
    EXPECT_FALSE(error_code_from_string("bad_frame ").has_value());
    EXPECT_FALSE(error_code_from_string("timeout").has_value());
}

TEST(ErrorCode, ProtocolMdTableListsEveryCode) {
    std::ifstream in(std::string(CCJAIL_SOURCE_DIR) + "/docs/protocol.md");
    ASSERT_TRUE(in) << "docs/protocol.md is missing";
    std::stringstream text;
    text << in.rdbuf();
    for (const auto& name : kDocumented) {
        EXPECT_NE(text.str().find("| `" + name + "` |"), std::string::npos)
            << name << " has no row in the error-code table of docs/protocol.md";
    }
}

TEST(ProtocolErrorTest, CarriesCodeAndMessage) {
    try {
        throw ProtocolError(ErrorCode::not_found, "no session abc");
    } catch (const std::runtime_error& e) {
        const auto* protocol = dynamic_cast<const ProtocolError*>(&e);
        ASSERT_NE(protocol, nullptr);
        EXPECT_EQ(protocol->code(), ErrorCode::not_found);
        EXPECT_STREQ(e.what(), "no session abc");
    }
}

}  // namespace
}  // namespace ccjail::protocol
