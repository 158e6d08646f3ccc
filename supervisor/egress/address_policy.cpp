#include "egress/address_policy.hpp"

#include <algorithm>
#include <array>
#include <cstdint>

#include "egress/ascii.hpp"

namespace ccjail::egress {

namespace ip = boost::asio::ip;

std::string_view to_string(AddressClass value) {
    switch (value) {
        case AddressClass::public_:
            return "public";
        case AddressClass::loopback:
            return "loopback";
        case AddressClass::private_:
            return "private";
        case AddressClass::link_local:
            return "link_local";
        case AddressClass::cgnat:
            return "cgnat";
        case AddressClass::metadata:
            return "metadata";
        case AddressClass::unspecified:
            return "unspecified";
        case AddressClass::multicast:
            return "multicast";
        case AddressClass::broadcast:
            return "broadcast";
        case AddressClass::reserved:
            return "reserved";
        case AddressClass::documentation:
            return "documentation";
        case AddressClass::unique_local:
            return "unique_local";
    }
    return "reserved";
}

namespace {

struct V4Range {
    std::uint32_t base;
    unsigned prefix;
    AddressClass cls;
};

constexpr std::uint32_t v4(unsigned a, unsigned b, unsigned c, unsigned d) {
    return (a << 24) | (b << 16) | (c << 8) | d;
}

// Metadata endpoints come first: they sit inside ranges refused anyway (link-local, CGNAT),
// except Azure's WireServer, which is a public address reachable only from inside Azure, and
// would otherwise pass as public. The class is named so that the audit log says what was tried.
constexpr std::array v4_metadata = {
    v4(169, 254, 169, 254),  // AWS, GCP, Azure, OpenStack, DigitalOcean, Oracle: IMDS
    v4(169, 254, 170, 2),    // AWS ECS task metadata and credentials
    v4(169, 254, 170, 23),   // AWS EKS Pod Identity agent
    v4(100, 100, 100, 200),  // Alibaba Cloud metadata
    v4(168, 63, 129, 16),    // Azure WireServer (platform agent, DNS, DHCP)
};

// First match wins, so narrower ranges come before the ones that contain them.
constexpr std::array v4_ranges = {
    V4Range{v4(0, 0, 0, 0), 32, AddressClass::unspecified},
    V4Range{v4(255, 255, 255, 255), 32, AddressClass::broadcast},
    V4Range{v4(0, 0, 0, 0), 8, AddressClass::reserved},  // "this network"
    V4Range{v4(10, 0, 0, 0), 8, AddressClass::private_},
    V4Range{v4(100, 64, 0, 0), 10, AddressClass::cgnat},
    V4Range{v4(127, 0, 0, 0), 8, AddressClass::loopback},
    V4Range{v4(169, 254, 0, 0), 16, AddressClass::link_local},
    V4Range{v4(172, 16, 0, 0), 12, AddressClass::private_},
    V4Range{v4(192, 0, 0, 0), 24, AddressClass::reserved},  // IETF protocol assignments
    V4Range{v4(192, 0, 2, 0), 24, AddressClass::documentation},
    V4Range{v4(192, 88, 99, 0), 24, AddressClass::reserved},  // 6to4 relay anycast (retired)
    V4Range{v4(192, 168, 0, 0), 16, AddressClass::private_},
    V4Range{v4(198, 18, 0, 0), 15, AddressClass::reserved},  // benchmarking
    V4Range{v4(198, 51, 100, 0), 24, AddressClass::documentation},
    V4Range{v4(203, 0, 113, 0), 24, AddressClass::documentation},
    V4Range{v4(224, 0, 0, 0), 4, AddressClass::multicast},
    V4Range{v4(240, 0, 0, 0), 4, AddressClass::reserved},
};

constexpr bool in_v4_range(std::uint32_t address, std::uint32_t base, unsigned prefix) {
    const std::uint32_t mask = prefix == 0 ? 0 : ~std::uint32_t{0} << (32 - prefix);
    return (address & mask) == (base & mask);
}

AddressClass classify_v4(std::uint32_t address) {
    if (std::find(v4_metadata.begin(), v4_metadata.end(), address) != v4_metadata.end()) {
        return AddressClass::metadata;
    }
    for (const auto& range : v4_ranges) {
        if (in_v4_range(address, range.base, range.prefix)) {
            return range.cls;
        }
    }
    return AddressClass::public_;
}

using V6Bytes = ip::address_v6::bytes_type;

struct V6Range {
    std::array<std::uint8_t, 16> base;
    unsigned prefix;
    AddressClass cls;
};

bool in_v6_range(const V6Bytes& address, const std::array<std::uint8_t, 16>& base,
                 unsigned prefix) {
    for (unsigned i = 0; i < 16 && prefix > 0; ++i) {
        const unsigned bits = std::min(prefix, 8u);
        const auto mask = static_cast<std::uint8_t>(0xff00u >> bits);
        if ((address[i] & mask) != (base[i] & mask)) {
            return false;
        }
        prefix -= bits;
    }
    return true;
}

constexpr std::array<std::uint8_t, 16> v6(std::initializer_list<std::uint16_t> groups) {
    std::array<std::uint8_t, 16> bytes{};
    unsigned i = 0;
    for (auto group : groups) {
        bytes[i++] = static_cast<std::uint8_t>(group >> 8);
        bytes[i++] = static_cast<std::uint8_t>(group & 0xff);
    }
    return bytes;
}

const std::array v6_metadata = {
    v6({0xfd00, 0x0ec2, 0, 0, 0, 0, 0, 0x0254}),  // AWS IMDS over IPv6
    v6({0xfd00, 0x0ec2, 0, 0, 0, 0, 0, 0x0023}),  // AWS EKS Pod Identity agent
};

// Ranges checked after the IPv4-embedding forms; first match wins.
const std::array v6_ranges = {
    V6Range{v6({0x0064, 0xff9b, 0x0001}), 48, AddressClass::reserved},  // local-use NAT64
    V6Range{v6({0x0100}), 64, AddressClass::reserved},                  // discard-only
    V6Range{v6({0x2001, 0x0db8}), 32, AddressClass::documentation},
    V6Range{v6({0x2001}), 23, AddressClass::reserved},  // IETF protocol assignments, Teredo
    V6Range{v6({0x3fff}), 20, AddressClass::documentation},
    V6Range{v6({0xfc00}), 7, AddressClass::unique_local},
    V6Range{v6({0xfe80}), 10, AddressClass::link_local},
    V6Range{v6({0xfec0}), 10, AddressClass::private_},  // site-local (deprecated)
    V6Range{v6({0xff00}), 8, AddressClass::multicast},
};

std::uint32_t v4_at(const V6Bytes& bytes, std::size_t offset) {
    return (std::uint32_t{bytes[offset]} << 24) | (std::uint32_t{bytes[offset + 1]} << 16) |
           (std::uint32_t{bytes[offset + 2]} << 8) | std::uint32_t{bytes[offset + 3]};
}

// The IPv4 address a connection to this IPv6 address reaches, for the forms that carry one.
std::optional<std::uint32_t> embedded_v4(const V6Bytes& bytes) {
    const auto zero_until = [&](std::size_t end) {
        return std::all_of(bytes.begin(), bytes.begin() + end, [](auto b) { return b == 0; });
    };
    if (zero_until(10) && bytes[10] == 0xff && bytes[11] == 0xff) {
        return v4_at(bytes, 12);  // ::ffff:a.b.c.d, IPv4-mapped
    }
    if (zero_until(12)) {
        return v4_at(bytes, 12);  // ::a.b.c.d, IPv4-compatible (deprecated, still routed)
    }
    if (in_v6_range(bytes, v6({0x0064, 0xff9b}), 96)) {
        return v4_at(bytes, 12);  // NAT64 well-known prefix
    }
    if (bytes[0] == 0x20 && bytes[1] == 0x02) {
        return v4_at(bytes, 2);  // 6to4
    }
    return std::nullopt;
}

AddressClass classify_v6(const ip::address_v6& address) {
    const auto bytes = address.to_bytes();
    if (address.is_unspecified()) {
        return AddressClass::unspecified;
    }
    if (address.is_loopback()) {
        return AddressClass::loopback;
    }
    for (const auto& metadata : v6_metadata) {
        if (in_v6_range(bytes, metadata, 128)) {
            return AddressClass::metadata;
        }
    }
    if (const auto v4_address = embedded_v4(bytes)) {
        return classify_v4(*v4_address);
    }
    for (const auto& range : v6_ranges) {
        if (in_v6_range(bytes, range.base, range.prefix)) {
            return range.cls;
        }
    }
    // Global unicast is 2000::/3; everything else is unassigned.
    if ((bytes[0] & 0xe0) == 0x20) {
        return AddressClass::public_;
    }
    return AddressClass::reserved;
}

}  // namespace

AddressClass classify_address(const ip::address& address) {
    if (address.is_v4()) {
        return classify_v4(address.to_v4().to_uint());
    }
    return classify_v6(address.to_v6());
}

std::string canonical_address_text(const ip::address& address) {
    if (address.is_v6()) {
        // The scope id would print as "%<n>" and never match a profile entry.
        auto v6_address = address.to_v6();
        v6_address.scope_id(0);
        return v6_address.to_string();
    }
    return address.to_string();
}

AddressVerdict address_permitted(const NetworkPolicy& policy, const ip::address& address) {
    const auto cls = classify_address(address);
    if (cls == AddressClass::public_) {
        return {true, {}};
    }
    const auto text = canonical_address_text(address);
    const auto& allowed = policy.allow_addresses;
    if (std::find(allowed.begin(), allowed.end(), text) != allowed.end()) {
        return {true, {}};
    }
    return {false, "address " + text + " is " + std::string(to_string(cls))};
}

std::optional<std::string> canonicalize_address_entry(std::string_view text, std::string& error) {
    if (text.size() >= 2 && text.front() == '[' && text.back() == ']') {
        text = text.substr(1, text.size() - 2);
    }
    // inet_pton alone would do, but the characters are checked first so that no zone id
    // ("%eth0"), prefix length or stray byte reaches it.
    const bool address_chars = std::all_of(
        text.begin(), text.end(), [](char c) { return is_hex_digit(c) || c == ':' || c == '.'; });
    if (text.empty() || text.size() > 45 || !address_chars) {
        error = "not an IP address (one address; no prefix length, zone id or port)";
        return std::nullopt;
    }
    boost::system::error_code ec;
    const auto address = ip::make_address(std::string(text), ec);
    if (ec) {
        error = "not an IP address (IPv4 as a.b.c.d in decimal, or IPv6)";
        return std::nullopt;
    }
    return canonical_address_text(address);
}

}  // namespace ccjail::egress
