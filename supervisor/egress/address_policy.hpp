#pragma once

#include <boost/asio/ip/address.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "profile/profile.hpp"

namespace ccjail::egress {

// Where an address leads (docs/egress.md, "Address classes"). Only public_ is reachable without
// an allow_addresses entry. IPv6 forms that embed an IPv4 address (IPv4-mapped, IPv4-compatible,
// NAT64 64:ff9b::/96, 6to4 2002::/16) get the class of the IPv4 address they carry, since that
// is where a connection to them ends up.
enum class AddressClass {
    public_,
    loopback,
    private_,       // RFC 1918, IPv6 site-local
    link_local,     // 169.254/16, fe80::/10
    cgnat,          // 100.64/10, shared address space
    metadata,       // cloud instance metadata and platform endpoints
    unspecified,    // 0.0.0.0, ::
    multicast,      // 224/4, ff00::/8
    broadcast,      // 255.255.255.255
    reserved,       // not globally routable by assignment (0/8, 240/4, benchmarking, ...)
    documentation,  // TEST-NET-1/2/3, 2001:db8::/32, 3fff::/20
    unique_local,   // fc00::/7
};

// "public", "loopback", "private", "link_local", "cgnat", "metadata", "unspecified",
// "multicast", "broadcast", "reserved", "documentation", "unique_local".
std::string_view to_string(AddressClass value);

AddressClass classify_address(const boost::asio::ip::address& address);

// The text allow_addresses entries are compared with: dotted quad, or RFC 5952 IPv6.
std::string canonical_address_text(const boost::asio::ip::address& address);

struct AddressVerdict {
    bool ok = false;
    std::string reason;  // for a refusal: the class, e.g. "address 10.0.0.1 is private"
};

// Public addresses pass; any other only if its canonical text is listed in allow_addresses.
AddressVerdict address_permitted(const NetworkPolicy& policy,
                                 const boost::asio::ip::address& address);

// An allow_addresses entry as the profile validator checks it: an IPv4 dotted quad or an IPv6
// address (brackets optional), one address (no prefix length, no zone id). Returns its
// canonical text, or nullopt and the reason in error.
std::optional<std::string> canonicalize_address_entry(std::string_view text, std::string& error);

}  // namespace ccjail::egress
