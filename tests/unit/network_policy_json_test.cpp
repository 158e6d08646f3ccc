#include <gtest/gtest.h>

#include "profile/network_environment.hpp"
#include "profile/network_policy_json.hpp"

namespace ccjail {
namespace {

TEST(NetworkPolicyJson, RoundTripsEveryField) {
    NetworkPolicy p;
    p.mode = NetworkMode::gateway;
    p.allow = {{"github.com", true, 443, 443}, {"localhost", false, 8000, 8100}};
    p.allow_addresses = {"127.0.0.1", "::1"};
    p.allow_ip_literals = true;
    p.allow_plain_http = true;
    p.proxy_port = 1;
    p.gateway_port = 2;
    p.max_connections = 3;
    p.connect_timeout_ms = 4;
    p.idle_timeout_ms = 5;
    const NetworkPolicy q = network_policy_from_json(to_json(p));
    EXPECT_EQ(to_json(q), to_json(p));
    EXPECT_EQ(q.allow[1].port_last, 8100);
    EXPECT_TRUE(q.allow[0].subdomains);
}

TEST(NetworkPolicyJson, RefusesAnUnknownMode) {
    auto j = to_json(NetworkPolicy{});
    j["mode"] = "wifi";
    EXPECT_THROW(network_policy_from_json(j), std::exception);
}

TEST(NetworkEnvironment, NamesEveryVariableItSets) {
    NetworkPolicy p;
    p.mode = NetworkMode::gateway;
    const auto env = network_environment(p);
    EXPECT_EQ(env.size(), 7u);
    for (const auto& [name, value] : env) {
        EXPECT_TRUE(is_network_variable(name)) << name;
        EXPECT_EQ(
            value.rfind("http://127.0.0.1:", 0) == 0 || name == "NO_PROXY" || name == "no_proxy",
            true)
            << name;
    }
    EXPECT_FALSE(is_network_variable("PATH"));
    p.mode = NetworkMode::host;
    EXPECT_TRUE(network_environment(p).empty());
}

}  // namespace
}  // namespace ccjail
