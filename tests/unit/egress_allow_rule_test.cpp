#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "egress/allow_rule.hpp"

namespace ccjail::egress {
namespace {

using namespace std::string_literals;

AllowRule ok_rule(std::string_view text) {
    std::string error;
    const auto rule = parse_allow_rule(text, error);
    EXPECT_TRUE(rule.has_value()) << "'" << text << "': " << error;
    return rule.value_or(AllowRule{});
}

void expect_refused(std::string_view text, std::string_view reason_part) {
    std::string error;
    const auto rule = parse_allow_rule(text, error);
    EXPECT_FALSE(rule.has_value()) << "'" << text << "' parsed as " << format_allow_rule(*rule);
    EXPECT_NE(error.find(reason_part), std::string::npos)
        << "'" << text << "': error '" << error << "' lacks '" << reason_part << "'";
}

TEST(EgressAllowRule, ParsesHostPortWildcardAndRange) {
    const auto exact = ok_rule("Registry.NPMJS.org.:443");
    EXPECT_EQ(exact.host, "registry.npmjs.org");
    EXPECT_FALSE(exact.subdomains);
    EXPECT_EQ(exact.port_first, 443);
    EXPECT_EQ(exact.port_last, 443);

    const auto wildcard = ok_rule("*.github.com:443");
    EXPECT_EQ(wildcard.host, "github.com");
    EXPECT_TRUE(wildcard.subdomains);

    const auto range = ok_rule("localhost:8000-8100");
    EXPECT_EQ(range.host, "localhost");
    EXPECT_EQ(range.port_first, 8000);
    EXPECT_EQ(range.port_last, 8100);

    EXPECT_EQ(ok_rule("a.com:1-65535").port_last, 65535);
}

TEST(EgressAllowRule, IpLiteralsAreCanonical) {
    EXPECT_EQ(ok_rule("127.0.0.1:8080").host, "127.0.0.1");
    EXPECT_EQ(ok_rule("0x7f.1:8080").host, "127.0.0.1");
    EXPECT_EQ(ok_rule("[::1]:8080").host, "::1");
    EXPECT_EQ(ok_rule("[0:0::1]:8080").host, "::1");
}

TEST(EgressAllowRule, RefusesMalformedRules) {
    expect_refused("example.com", "port is required");
    expect_refused("example.com:", "port must be");
    expect_refused("example.com:0", "port must be");
    expect_refused("example.com:65536", "port must be");
    expect_refused("example.com:0443", "port must be");
    expect_refused("example.com:+443", "port must be");
    expect_refused("example.com:443-", "port must be");
    expect_refused("example.com:-443", "port must be");
    expect_refused("example.com:9000-8000", "backwards");
    expect_refused("example.com:443 ", "port must be");
    expect_refused("*:443", "'*'");
    expect_refused("*example.com:443", "'*'");
    expect_refused("a.*.example.com:443", "'*'");
    expect_refused("*.*.example.com:443", "'*'");
    expect_refused("*.com:443", "two labels");
    expect_refused("*.127.0.0.1:443", "not to IP");
    expect_refused("*.[::1]:443", "more than one ':'");
    expect_refused("::1:443", "brackets");
    expect_refused("user@example.com:443", "userinfo");
    expect_refused("example.com/x:443", "'/'");
    expect_refused("exa\0mple.com:443"s, "NUL");
    expect_refused(":443", "empty host");
}

TEST(EgressAllowRule, FormatsRulesAsWritten) {
    for (const char* text : {"registry.npmjs.org:443", "*.github.com:443", "localhost:8000-8100",
                             "127.0.0.1:8080", "[::1]:8080"}) {
        EXPECT_EQ(format_allow_rule(ok_rule(text)), text);
    }
}

TEST(EgressAllowRule, ExactRuleMatchesOnlyThatHostAndPorts) {
    const std::vector<AllowRule> rules = {ok_rule("registry.npmjs.org:443"),
                                          ok_rule("localhost:8000-8100")};
    EXPECT_TRUE(host_allowed(rules, "registry.npmjs.org", 443));
    EXPECT_FALSE(host_allowed(rules, "registry.npmjs.org", 80));
    EXPECT_FALSE(host_allowed(rules, "evil.registry.npmjs.org", 443));
    EXPECT_FALSE(host_allowed(rules, "registry.npmjs.org.evil.com", 443));
    EXPECT_FALSE(host_allowed(rules, "xregistry.npmjs.org", 443));
    EXPECT_TRUE(host_allowed(rules, "localhost", 8000));
    EXPECT_TRUE(host_allowed(rules, "localhost", 8100));
    EXPECT_FALSE(host_allowed(rules, "localhost", 7999));
    EXPECT_FALSE(host_allowed(rules, "localhost", 8101));
    EXPECT_FALSE(host_allowed({}, "registry.npmjs.org", 443));
}

TEST(EgressAllowRule, WildcardMatchesSubdomainsOnly) {
    const std::vector<AllowRule> rules = {ok_rule("*.github.com:443")};
    EXPECT_TRUE(host_allowed(rules, "api.github.com", 443));
    EXPECT_TRUE(host_allowed(rules, "a.b.github.com", 443));
    EXPECT_FALSE(host_allowed(rules, "github.com", 443));
    EXPECT_FALSE(host_allowed(rules, "evilgithub.com", 443));
    EXPECT_FALSE(host_allowed(rules, ".github.com", 443));
    EXPECT_FALSE(host_allowed(rules, "github.com.evil.com", 443));
    EXPECT_FALSE(host_allowed(rules, "api.github.com", 80));
}

TEST(EgressAllowRule, IpRuleMatchesTheCanonicalAddress) {
    const std::vector<AllowRule> rules = {ok_rule("[::1]:8080"), ok_rule("127.0.0.1:8080")};
    EXPECT_TRUE(host_allowed(rules, "::1", 8080));
    EXPECT_TRUE(host_allowed(rules, "127.0.0.1", 8080));
    EXPECT_FALSE(host_allowed(rules, "127.0.0.2", 8080));
    EXPECT_FALSE(host_allowed(rules, "::ffff:127.0.0.1", 8080));
}

}  // namespace
}  // namespace ccjail::egress
