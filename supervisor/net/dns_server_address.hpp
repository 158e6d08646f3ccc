#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

#include <boost/asio/ip/address.hpp>

namespace ccjail::net {

// One name server the daemon's resolver asks instead of the system's /etc/resolv.conf.
struct DnsServerAddress {
    boost::asio::ip::address address;
    std::uint16_t port = 53;
};

// Parses "ip", "ip:port", "[ipv6]" and "[ipv6]:port". A bare IPv6 address carries no port (its
// colons would be ambiguous); nullopt for anything else, port 0 included.
std::optional<DnsServerAddress> parse_dns_server(std::string_view text);

}  // namespace ccjail::net
