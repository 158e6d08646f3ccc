#include "net/dns_server_address.hpp"

#include <charconv>
#include <string>

namespace ccjail::net {
namespace {

std::optional<boost::asio::ip::address> parse_ip(std::string_view text) {
    boost::system::error_code ec;
    auto address = boost::asio::ip::make_address(std::string(text), ec);
    if (ec) {
        return std::nullopt;
    }
    return address;
}

std::optional<std::uint16_t> parse_port(std::string_view text) {
    std::uint16_t port = 0;
    const auto* end = text.data() + text.size();
    const auto [ptr, ec] = std::from_chars(text.data(), end, port);
    if (text.empty() || ec != std::errc() || ptr != end || port == 0) {
        return std::nullopt;
    }
    return port;
}

std::optional<DnsServerAddress> parse_bracketed(std::string_view text) {
    const auto close = text.find(']');
    if (close == std::string_view::npos) {
        return std::nullopt;
    }
    auto ip = parse_ip(text.substr(1, close - 1));
    if (!ip || !ip->is_v6()) {
        return std::nullopt;
    }
    const auto rest = text.substr(close + 1);
    if (rest.empty()) {
        return DnsServerAddress{*ip, 53};
    }
    if (rest.front() != ':') {
        return std::nullopt;
    }
    auto port = parse_port(rest.substr(1));
    if (!port) {
        return std::nullopt;
    }
    return DnsServerAddress{*ip, *port};
}

}  // namespace

std::optional<DnsServerAddress> parse_dns_server(std::string_view text) {
    if (text.empty()) {
        return std::nullopt;
    }
    if (text.front() == '[') {
        return parse_bracketed(text);
    }
    const auto first_colon = text.find(':');
    if (first_colon != std::string_view::npos &&
        text.find(':', first_colon + 1) == std::string_view::npos) {
        auto ip = parse_ip(text.substr(0, first_colon));
        auto port = parse_port(text.substr(first_colon + 1));
        if (!ip || !ip->is_v4() || !port) {
            return std::nullopt;
        }
        return DnsServerAddress{*ip, *port};
    }
    auto ip = parse_ip(text);
    if (!ip) {
        return std::nullopt;
    }
    return DnsServerAddress{*ip, 53};
}

}  // namespace ccjail::net
