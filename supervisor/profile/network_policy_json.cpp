#include "profile/network_policy_json.hpp"

#include <stdexcept>
#include <string>

namespace ccjail {
namespace {

using json = nlohmann::json;

NetworkMode mode_from_json(const json& value) {
    for (NetworkMode mode :
         {NetworkMode::none, NetworkMode::host, NetworkMode::proxy, NetworkMode::gateway}) {
        if (value.get<std::string>() == to_string(mode)) {
            return mode;
        }
    }
    throw std::invalid_argument("unknown network mode " + value.dump());
}

}  // namespace

json to_json(const NetworkPolicy& p) {
    json allow = json::array();
    for (const auto& rule : p.allow) {
        allow.push_back({{"host", rule.host},
                         {"subdomains", rule.subdomains},
                         {"ports", {rule.port_first, rule.port_last}}});
    }
    return {{"mode", to_string(p.mode)},
            {"allow", allow},
            {"allow_addresses", p.allow_addresses},
            {"allow_ip_literals", p.allow_ip_literals},
            {"allow_plain_http", p.allow_plain_http},
            {"proxy_port", p.proxy_port},
            {"gateway_port", p.gateway_port},
            {"max_connections", p.max_connections},
            {"connect_timeout_ms", p.connect_timeout_ms},
            {"idle_timeout_ms", p.idle_timeout_ms}};
}

NetworkPolicy network_policy_from_json(const json& j) {
    NetworkPolicy p;
    p.mode = mode_from_json(j.at("mode"));
    for (const json& rule : j.at("allow")) {
        AllowRule r;
        r.host = rule.at("host").get<std::string>();
        r.subdomains = rule.at("subdomains").get<bool>();
        r.port_first = rule.at("ports").at(0).get<std::uint16_t>();
        r.port_last = rule.at("ports").at(1).get<std::uint16_t>();
        p.allow.push_back(r);
    }
    p.allow_addresses = j.at("allow_addresses").get<std::vector<std::string>>();
    p.allow_ip_literals = j.at("allow_ip_literals").get<bool>();
    p.allow_plain_http = j.at("allow_plain_http").get<bool>();
    p.proxy_port = j.at("proxy_port").get<std::uint16_t>();
    p.gateway_port = j.at("gateway_port").get<std::uint16_t>();
    p.max_connections = j.at("max_connections").get<std::uint32_t>();
    p.connect_timeout_ms = j.at("connect_timeout_ms").get<std::uint64_t>();
    p.idle_timeout_ms = j.at("idle_timeout_ms").get<std::uint64_t>();
    return p;
}

}  // namespace ccjail
