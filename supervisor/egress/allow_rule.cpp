#include "egress/allow_rule.hpp"

#include <algorithm>

#include "egress/authority.hpp"
#include "egress/host_name.hpp"

namespace ccjail::egress {

namespace {

constexpr std::string_view wildcard_prefix = "*.";

struct PortRange {
    std::uint16_t first;
    std::uint16_t last;
};

std::optional<PortRange> parse_port_range(std::string_view text, std::string& error) {
    const auto dash = text.find('-');
    const auto first = parse_port(text.substr(0, dash));
    const auto last = dash == std::string_view::npos ? first : parse_port(text.substr(dash + 1));
    if (!first || !last) {
        error = "port must be 1-65535 or a range first-last";
        return std::nullopt;
    }
    if (*first > *last) {
        error = "port range runs backwards";
        return std::nullopt;
    }
    return PortRange{*first, *last};
}

bool has_more_than_one_label(std::string_view name) {
    return name.find('.') != std::string_view::npos;
}

}  // namespace

std::optional<AllowRule> parse_allow_rule(std::string_view text, std::string& error) {
    const auto split = split_host_port(text, error);
    if (!split) {
        return std::nullopt;
    }
    if (!split->port) {
        error = "a port is required (host:port or host:first-last)";
        return std::nullopt;
    }
    AllowRule rule;
    auto host_text = split->host;
    if (host_text.starts_with(wildcard_prefix)) {
        rule.subdomains = true;
        host_text.remove_prefix(wildcard_prefix.size());
    }
    if (host_text.find('*') != std::string_view::npos) {
        error = "'*' is only allowed as a whole leading label (*.example.com)";
        return std::nullopt;
    }
    auto host = canonicalize_host(host_text);
    if (!host.ok) {
        error = std::move(host.reason);
        return std::nullopt;
    }
    if (rule.subdomains && host.kind != HostKind::name) {
        error = "a wildcard applies to names, not to IP addresses";
        return std::nullopt;
    }
    // "*.com" would open a whole top-level domain; a suffix of two labels or more is the
    // narrowest wildcard that still means one organisation's names.
    if (rule.subdomains && !has_more_than_one_label(host.host)) {
        error = "a wildcard needs a suffix of at least two labels (*.example.com)";
        return std::nullopt;
    }
    const auto ports = parse_port_range(*split->port, error);
    if (!ports) {
        return std::nullopt;
    }
    rule.host = std::move(host.host);
    rule.port_first = ports->first;
    rule.port_last = ports->last;
    return rule;
}

std::string format_allow_rule(const AllowRule& rule) {
    const auto kind = rule.host.find(':') != std::string::npos ? HostKind::ipv6 : HostKind::name;
    std::string text = rule.subdomains ? std::string(wildcard_prefix) : std::string();
    text += authority_host(rule.host, kind);
    text += ':' + std::to_string(rule.port_first);
    if (rule.port_last != rule.port_first) {
        text += '-' + std::to_string(rule.port_last);
    }
    return text;
}

namespace {

bool host_matches(const AllowRule& rule, std::string_view host) {
    if (!rule.subdomains) {
        return host == rule.host;
    }
    return host.size() > rule.host.size() + 1 && host.ends_with(rule.host) &&
           host[host.size() - rule.host.size() - 1] == '.';
}

}  // namespace

bool host_allowed(const std::vector<AllowRule>& rules, std::string_view canonical_host,
                  std::uint16_t port) {
    return std::any_of(rules.begin(), rules.end(), [&](const AllowRule& rule) {
        return port >= rule.port_first && port <= rule.port_last &&
               host_matches(rule, canonical_host);
    });
}

}  // namespace ccjail::egress
