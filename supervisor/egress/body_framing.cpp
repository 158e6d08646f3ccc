#include "egress/body_framing.hpp"

#include <algorithm>
#include <optional>

#include "egress/ascii.hpp"

namespace ccjail::egress {

std::string_view to_string(FramingKind kind) {
    switch (kind) {
        case FramingKind::none:
            return "none";
        case FramingKind::content_length:
            return "content_length";
        case FramingKind::chunked:
            return "chunked";
        case FramingKind::until_close:
            return "until_close";
        case FramingKind::invalid:
            return "invalid";
    }
    return "invalid";
}

namespace {

// 18 decimal digits stay below 2^63: no overflow, and far above any body the proxy relays.
constexpr std::size_t max_length_digits = 18;

BodyFraming invalid(std::string reason) {
    return BodyFraming{FramingKind::invalid, 0, std::move(reason)};
}

std::optional<std::uint64_t> parse_length(std::string_view text) {
    if (text.empty() || text.size() > max_length_digits ||
        !std::all_of(text.begin(), text.end(), is_digit)) {
        return std::nullopt;
    }
    std::uint64_t value = 0;
    for (char c : text) {
        value = value * 10 + static_cast<std::uint64_t>(c - '0');
    }
    return value;
}

// The framing the headers alone declare; `without_headers` says what their absence means
// (no body for a request, a close-delimited body for a response).
BodyFraming declared_framing(const std::vector<Header>& headers, HttpVersion version,
                             FramingKind without_headers) {
    const auto encodings = header_values(headers, "Transfer-Encoding");
    const auto lengths = header_values(headers, "Content-Length");
    if (!encodings.empty() && !lengths.empty()) {
        return invalid("both Transfer-Encoding and Content-Length");
    }
    if (!encodings.empty()) {
        if (version == HttpVersion::http_1_0) {
            return invalid("Transfer-Encoding in an HTTP/1.0 message");
        }
        if (encodings.size() != 1 || !iequals(encodings.front(), "chunked")) {
            return invalid("Transfer-Encoding other than exactly \"chunked\"");
        }
        return BodyFraming{FramingKind::chunked, 0, {}};
    }
    if (lengths.empty()) {
        return BodyFraming{without_headers, 0, {}};
    }
    const auto length = parse_length(lengths.front());
    if (!length) {
        return invalid("Content-Length is not a decimal number");
    }
    for (auto other : lengths) {
        if (parse_length(other) != length) {
            return invalid("differing Content-Length headers");
        }
    }
    return BodyFraming{FramingKind::content_length, *length, {}};
}

bool response_has_no_body(const ResponseHead& head, std::string_view request_method) {
    return request_method == "HEAD" || (head.status >= 100 && head.status < 200) ||
           head.status == 204 || head.status == 304 ||
           (request_method == "CONNECT" && head.status >= 200 && head.status < 300);
}

}  // namespace

BodyFraming request_body_framing(const RequestHead& head) {
    return declared_framing(head.headers, head.version, FramingKind::none);
}

BodyFraming response_body_framing(const ResponseHead& head, std::string_view request_method) {
    if (response_has_no_body(head, request_method)) {
        return BodyFraming{FramingKind::none, 0, {}};
    }
    return declared_framing(head.headers, head.version, FramingKind::until_close);
}

}  // namespace ccjail::egress
