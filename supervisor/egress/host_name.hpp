#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace ccjail::egress {

enum class HostKind { name, ipv4, ipv6 };

// "name", "ipv4", "ipv6".
std::string_view to_string(HostKind kind);

// A host as the proxy compares, logs and resolves it (docs/egress.md, "Host names").
struct CanonicalHost {
    bool ok = false;
    std::string host;  // lowercase, no trailing dot; IPv6 without brackets, compressed
    HostKind kind = HostKind::name;
    std::string reason;  // why it was refused; empty when ok
};

// DNS limits (RFC 1035), counted without the trailing dot.
inline constexpr std::size_t max_host_name_bytes = 253;
inline constexpr std::size_t max_label_bytes = 63;

// The host part of an authority ("example.com", "127.0.0.1", "[::1]"), nothing else: no port,
// no userinfo, no percent-encoding, no IDNA. Anything inet_aton(3) would read as an IPv4
// address ("127.1", "0x7f.1", "2130706433", "0177.0.0.1") comes back as kind ipv4 in dotted-quad
// form, so that the IP-literal rule and the address checks see through the disguise.
CanonicalHost canonicalize_host(std::string_view raw);

}  // namespace ccjail::egress
