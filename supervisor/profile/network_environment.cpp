#include "profile/network_environment.hpp"

#include <algorithm>
#include <array>

namespace ccjail {
namespace {

constexpr std::array<std::string_view, 7> kNetworkVariables = {
    "HTTPS_PROXY", "https_proxy", "HTTP_PROXY",        "http_proxy",
    "NO_PROXY",    "no_proxy",    "ANTHROPIC_BASE_URL"};

std::string loopback_url(std::uint16_t port) {
    return "http://127.0.0.1:" + std::to_string(port);
}

}  // namespace

std::vector<std::pair<std::string, std::string>> network_environment(const NetworkPolicy& policy) {
    std::vector<std::pair<std::string, std::string>> env;
    if (policy.mode != NetworkMode::proxy && policy.mode != NetworkMode::gateway) {
        return env;
    }
    const std::string proxy = loopback_url(policy.proxy_port);
    for (const char* name : {"HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy"}) {
        env.emplace_back(name, proxy);
    }
    // The gateway listens on loopback too: sent through the proxy it would be refused there.
    for (const char* name : {"NO_PROXY", "no_proxy"}) {
        env.emplace_back(name, "localhost,127.0.0.1,::1");
    }
    if (policy.mode == NetworkMode::gateway) {
        env.emplace_back("ANTHROPIC_BASE_URL", loopback_url(policy.gateway_port));
    }
    return env;
}

bool is_network_variable(std::string_view name) {
    return std::find(kNetworkVariables.begin(), kNetworkVariables.end(), name) !=
           kNetworkVariables.end();
}

}  // namespace ccjail
