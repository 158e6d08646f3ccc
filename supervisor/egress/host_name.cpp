#include "egress/host_name.hpp"

#include <boost/asio/ip/address_v4.hpp>
#include <boost/asio/ip/address_v6.hpp>
#include <cstdint>
#include <optional>
#include <vector>

#include "egress/ascii.hpp"

namespace ccjail::egress {

std::string_view to_string(HostKind kind) {
    switch (kind) {
        case HostKind::name:
            return "name";
        case HostKind::ipv4:
            return "ipv4";
        case HostKind::ipv6:
            return "ipv6";
    }
    return "name";
}

namespace {

// "[" + the longest IPv6 text (45 bytes, an IPv4-mapped form) + "]".
constexpr std::size_t max_bracketed_ipv6_bytes = 47;

CanonicalHost refused(std::string reason) {
    CanonicalHost result;
    result.reason = std::move(reason);
    return result;
}

CanonicalHost accepted(std::string host, HostKind kind) {
    CanonicalHost result;
    result.ok = true;
    result.host = std::move(host);
    result.kind = kind;
    return result;
}

// Bytes with a meaning elsewhere in a URL or a header: each one is a known way to make two
// parsers disagree about which host a request names, so each gets its own reason in the log.
std::optional<std::string> forbidden_byte(char c) {
    const auto byte = static_cast<unsigned char>(c);
    if (byte == 0) {
        return "NUL byte in host";
    }
    if (byte == ' ' || byte == '\t') {
        return "whitespace in host";
    }
    if (byte < 0x20 || byte == 0x7f) {
        return "control character in host";
    }
    if (byte >= 0x80) {
        return "non-ASCII byte in host (IDNA names must be given in xn-- form)";
    }
    switch (c) {
        case '@':
            return "userinfo ('@') in host";
        case '%':
            return "percent-encoding or zone id ('%') in host";
        case '/':
        case '\\':
        case '?':
        case '#':
            return std::string("URL delimiter '") + c + "' in host";
        default:
            return std::nullopt;
    }
}

std::optional<std::string> first_forbidden_byte(std::string_view raw) {
    for (char c : raw) {
        if (auto reason = forbidden_byte(c)) {
            return reason;
        }
    }
    return std::nullopt;
}

std::vector<std::string_view> split_labels(std::string_view name) {
    std::vector<std::string_view> labels;
    std::size_t start = 0;
    while (true) {
        const auto dot = name.find('.', start);
        labels.push_back(name.substr(start, dot - start));
        if (dot == std::string_view::npos) {
            return labels;
        }
        start = dot + 1;
    }
}

// Underscore is accepted: it is not valid in a host name (RFC 952) but is common in DNS labels
// of CDN and service records, and resolvers pass it; it has no meaning in URLs that could
// confuse another parser.
bool is_label_char(char c) {
    return is_alpha(c) || is_digit(c) || c == '-' || c == '_';
}

std::optional<std::string> label_problem(std::string_view label) {
    if (label.empty()) {
        return "empty label in host";
    }
    if (label.size() > max_label_bytes) {
        return "label longer than 63 bytes in host";
    }
    for (char c : label) {
        if (!is_label_char(c)) {
            return std::string("character '") + c + "' not allowed in a host name";
        }
    }
    if (label.front() == '-' || label.back() == '-') {
        return "label starts or ends with '-'";
    }
    return std::nullopt;
}

// WHATWG URL's "ends in a number": a last label of digits, or 0x and hex digits, makes the
// whole host an IPv4 literal, valid or not. inet_aton only ever accepts such strings, so this
// catches every form it reads as an address.
bool ends_in_number(std::string_view last_label) {
    if (!last_label.empty() && std::all_of(last_label.begin(), last_label.end(), is_digit)) {
        return true;
    }
    if (last_label.size() >= 2 && last_label[0] == '0' &&
        (last_label[1] == 'x' || last_label[1] == 'X')) {
        const auto digits = last_label.substr(2);
        return std::all_of(digits.begin(), digits.end(), is_hex_digit);
    }
    return false;
}

// One part of an inet_aton address: decimal, octal (leading 0) or hex (0x); at most max.
std::optional<std::uint64_t> numeric_part(std::string_view part, std::uint64_t max) {
    unsigned base = 10;
    if (part.size() >= 2 && part[0] == '0' && (part[1] == 'x' || part[1] == 'X')) {
        base = 16;
        part.remove_prefix(2);
    } else if (part.size() >= 2 && part[0] == '0') {
        base = 8;
        part.remove_prefix(1);
    }
    // "0x" alone is zero to inet_aton in a non-final part; refusing it costs nothing legitimate.
    if (part.empty()) {
        return std::nullopt;
    }
    std::uint64_t value = 0;
    for (char c : part) {
        unsigned digit = 0;
        if (is_digit(c)) {
            digit = static_cast<unsigned>(c - '0');
        } else if (is_hex_digit(c)) {
            digit = static_cast<unsigned>(ascii_lower(c) - 'a' + 10);
        } else {
            return std::nullopt;
        }
        if (digit >= base) {
            return std::nullopt;
        }
        value = value * base + digit;
        if (value > max) {
            return std::nullopt;
        }
    }
    return value;
}

// inet_aton's grammar: a.b.c.d, a.b.c (c is 16 bits), a.b (b is 24 bits), a (32 bits).
std::optional<std::uint32_t> inet_aton_value(const std::vector<std::string_view>& parts) {
    if (parts.size() > 4) {
        return std::nullopt;
    }
    std::uint64_t value = 0;
    for (std::size_t i = 0; i + 1 < parts.size(); ++i) {
        const auto byte = numeric_part(parts[i], 0xff);
        if (!byte) {
            return std::nullopt;
        }
        value |= *byte << (8 * (3 - i));
    }
    const auto rest_bits = 8 * (5 - parts.size());
    const auto last = numeric_part(parts.back(), (std::uint64_t{1} << rest_bits) - 1);
    if (!last) {
        return std::nullopt;
    }
    return static_cast<std::uint32_t>(value | *last);
}

CanonicalHost canonical_ipv4(const std::vector<std::string_view>& labels) {
    const auto value = inet_aton_value(labels);
    if (!value) {
        return refused("host ends in a number but is not a valid IPv4 address");
    }
    return accepted(boost::asio::ip::address_v4(*value).to_string(), HostKind::ipv4);
}

CanonicalHost canonical_ipv6(std::string_view bracketed) {
    if (bracketed.size() > max_bracketed_ipv6_bytes || bracketed.back() != ']') {
        return refused("malformed IPv6 literal");
    }
    const auto inner = bracketed.substr(1, bracketed.size() - 2);
    const bool ipv6_chars = std::all_of(
        inner.begin(), inner.end(), [](char c) { return is_hex_digit(c) || c == ':' || c == '.'; });
    if (inner.empty() || !ipv6_chars) {
        return refused("malformed IPv6 literal");
    }
    boost::system::error_code error;
    const auto address = boost::asio::ip::make_address_v6(std::string(inner), error);
    if (error) {
        return refused("malformed IPv6 literal");
    }
    return accepted(address.to_string(), HostKind::ipv6);
}

}  // namespace

CanonicalHost canonicalize_host(std::string_view raw) {
    if (raw.empty()) {
        return refused("empty host");
    }
    if (raw.size() > max_host_name_bytes + 1) {
        return refused("host longer than 253 bytes");
    }
    if (auto reason = first_forbidden_byte(raw)) {
        return refused(std::move(*reason));
    }
    if (raw.front() == '[') {
        return canonical_ipv6(raw);
    }
    if (raw.find(':') != std::string_view::npos) {
        return refused("':' in host (IPv6 literals go in brackets)");
    }
    std::string name = to_lower(raw);
    if (name.back() == '.') {
        name.pop_back();
    }
    if (name.empty()) {
        return refused("empty host");
    }
    if (name.size() > max_host_name_bytes) {
        return refused("host longer than 253 bytes");
    }
    const auto labels = split_labels(name);
    for (auto label : labels) {
        if (auto reason = label_problem(label)) {
            return refused(std::move(*reason));
        }
    }
    if (ends_in_number(labels.back())) {
        return canonical_ipv4(labels);
    }
    return accepted(std::move(name), HostKind::name);
}

}  // namespace ccjail::egress
