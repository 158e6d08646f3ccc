#include "egress/authority.hpp"

#include <algorithm>

#include "egress/ascii.hpp"

namespace ccjail::egress {

std::optional<HostPortText> split_host_port(std::string_view text, std::string& error) {
    if (text.find('@') != std::string_view::npos) {
        error = "userinfo ('@') in authority";
        return std::nullopt;
    }
    std::size_t host_end = 0;
    if (!text.empty() && text.front() == '[') {
        const auto close = text.find(']');
        if (close == std::string_view::npos) {
            error = "unterminated '[' in authority";
            return std::nullopt;
        }
        host_end = close + 1;
        if (host_end < text.size() && text[host_end] != ':') {
            error = "bytes after ']' in authority";
            return std::nullopt;
        }
    } else {
        const auto colon = text.find(':');
        if (colon != std::string_view::npos &&
            text.find(':', colon + 1) != std::string_view::npos) {
            error = "more than one ':' in authority (IPv6 literals go in brackets)";
            return std::nullopt;
        }
        host_end = std::min(colon, text.size());
    }
    HostPortText split{text.substr(0, host_end), std::nullopt};
    if (host_end < text.size()) {
        split.port = text.substr(host_end + 1);
    }
    return split;
}

std::optional<std::uint16_t> parse_port(std::string_view text) {
    if (text.empty() || text.size() > 5 || text.front() == '0' ||
        !std::all_of(text.begin(), text.end(), is_digit)) {
        return std::nullopt;
    }
    unsigned value = 0;
    for (char c : text) {
        value = value * 10 + static_cast<unsigned>(c - '0');
    }
    if (value > 65535) {
        return std::nullopt;
    }
    return static_cast<std::uint16_t>(value);
}

Authority parse_authority(std::string_view text) {
    Authority result;
    const auto split = split_host_port(text, result.reason);
    if (!split) {
        return result;
    }
    auto host = canonicalize_host(split->host);
    if (!host.ok) {
        result.reason = std::move(host.reason);
        return result;
    }
    if (split->port) {
        result.port = parse_port(*split->port);
        if (!result.port) {
            result.reason = "invalid port (1-65535, decimal)";
            return result;
        }
    }
    result.ok = true;
    result.host = std::move(host.host);
    result.kind = host.kind;
    return result;
}

std::string authority_host(std::string_view canonical_host, HostKind kind) {
    if (kind == HostKind::ipv6) {
        // Appended rather than "[" + host: g++ 12 at -O3 reports a false -Wrestrict on the
        // operator+ form (GCC bug 105651), which -Werror turns into a Release build failure.
        std::string bracketed = "[";
        bracketed.append(canonical_host);
        bracketed.push_back(']');
        return bracketed;
    }
    return std::string(canonical_host);
}

}  // namespace ccjail::egress
