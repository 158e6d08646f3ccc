#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "egress/host_name.hpp"

namespace ccjail::egress {

// "host:port" split where the port starts: after "]" for a bracketed IPv6 literal, at the only
// ':' otherwise. Says nothing yet about whether either half is valid.
struct HostPortText {
    std::string_view host;
    std::optional<std::string_view> port;  // the text after ':', possibly empty
};
std::optional<HostPortText> split_host_port(std::string_view text, std::string& error);

// A port in decimal, 1-65535, no sign, no leading zero, at most 5 digits.
std::optional<std::uint16_t> parse_port(std::string_view text);

// An authority "host[:port]" without userinfo: a CONNECT target or the authority of an
// http:// URI. The host is canonical (canonicalize_host).
struct Authority {
    bool ok = false;
    std::string host;
    HostKind kind = HostKind::name;
    std::optional<std::uint16_t> port;
    std::string reason;
};
Authority parse_authority(std::string_view text);

// The host as it appears in an authority or a Host header: IPv6 literals in brackets.
std::string authority_host(std::string_view canonical_host, HostKind kind);

}  // namespace ccjail::egress
