#include "egress/header_rewrite.hpp"

#include <algorithm>
#include <array>
#include <vector>

#include "egress/ascii.hpp"
#include "egress/authority.hpp"
#include "egress/body_framing.hpp"

namespace ccjail::egress {

namespace {

constexpr std::uint16_t http_default_port = 80;

// RFC 9110 7.6.1 hop-by-hop fields, plus the non-standard Proxy-Connection and the Proxy-*
// family, which are meant for this proxy and never for the next hop.
constexpr std::array<std::string_view, 5> hop_by_hop = {"connection", "keep-alive", "te", "trailer",
                                                        "upgrade"};

// Headers that delimit the body. "Connection: content-length" would otherwise make the proxy
// drop the length of a body it still relays: the next hop would then read the body as the next
// request.
constexpr std::array<std::string_view, 2> framing = {"content-length", "transfer-encoding"};

bool listed_in(std::string_view name, auto&& names) {
    return std::any_of(names.begin(), names.end(),
                       [&](std::string_view other) { return iequals(name, other); });
}

// The options of every Connection header: comma-separated field names.
std::vector<std::string> connection_options(const std::vector<Header>& headers) {
    std::vector<std::string> options;
    for (auto value : header_values(headers, "Connection")) {
        while (!value.empty()) {
            const auto comma = std::min(value.find(','), value.size());
            const auto option = trim_ows(value.substr(0, comma));
            if (!option.empty() && !listed_in(option, framing)) {
                options.push_back(to_lower(option));
            }
            value.remove_prefix(std::min(comma + 1, value.size()));
        }
    }
    return options;
}

bool is_hop_by_hop(std::string_view name, const std::vector<std::string>& options) {
    return listed_in(name, hop_by_hop) || istarts_with(name, "proxy-") || listed_in(name, options);
}

void append_line(std::string& out, std::string_view name, std::string_view value) {
    out.append(name).append(": ").append(value).append("\r\n");
}

void append_request_line(std::string& out, const RequestHead& head) {
    out.append(head.method).append(" ").append(head.path).append(" HTTP/1.1\r\n");
}

// Copies the headers that survive `drop`, in their order.
template <typename Drop>
void append_kept_headers(std::string& out, const std::vector<Header>& headers, Drop drop) {
    for (const auto& header : headers) {
        if (!drop(header.name)) {
            append_line(out, header.name, header.value);
        }
    }
}

RewrittenHead refused(std::string reason) {
    RewrittenHead result;
    result.reason = std::move(reason);
    return result;
}

bool is_header_value(std::string_view value) {
    return !value.empty() && value.front() != ' ' && value.back() != ' ' &&
           std::all_of(value.begin(), value.end(), [](char c) { return c == ' ' || is_vchar(c); });
}

// The gateway's own inputs come from the profile and a secret file; a key read with its
// trailing newline, or a stray CR, would otherwise write a header line of its own.
std::optional<std::string> gateway_inputs_problem(std::string_view upstream_host_header,
                                                  std::string_view key_header_name,
                                                  std::string_view key) {
    if (upstream_host_header.empty() ||
        !std::all_of(upstream_host_header.begin(), upstream_host_header.end(), is_vchar)) {
        return "upstream Host value is empty or not visible ASCII";
    }
    if (!is_token(key_header_name)) {
        return "key header name is not a token";
    }
    if (!is_header_value(key)) {
        return "API key is empty or holds a control character or surrounding space";
    }
    return std::nullopt;
}

}  // namespace

RewrittenHead gateway_request_head(const RequestHead& head, std::string_view upstream_host_header,
                                   std::string_view key_header_name, std::string_view key) {
    if (auto problem = gateway_inputs_problem(upstream_host_header, key_header_name, key)) {
        return refused(std::move(*problem));
    }
    if (head.form != TargetForm::origin) {
        return refused("the gateway takes origin-form requests only (GET /path)");
    }
    if (request_body_framing(head).kind == FramingKind::invalid) {
        return refused("ambiguous request body framing");
    }
    const auto options = connection_options(head.headers);
    const std::array<std::string_view, 3> credentials = {"authorization", "x-api-key",
                                                         key_header_name};
    RewrittenHead result;
    append_request_line(result.bytes, head);
    append_line(result.bytes, "Host", upstream_host_header);
    append_kept_headers(result.bytes, head.headers, [&](std::string_view name) {
        return iequals(name, "host") || is_hop_by_hop(name, options) ||
               listed_in(name, credentials);
    });
    append_line(result.bytes, key_header_name, key);
    append_line(result.bytes, "Connection", "close");
    result.bytes.append("\r\n");
    result.ok = true;
    return result;
}

std::string gateway_response_head(const ResponseHead& head) {
    std::string out;
    out.append(to_string(head.version))
        .append(" ")
        .append(std::to_string(head.status))
        .append(" ")
        .append(head.reason)
        .append("\r\n");
    append_kept_headers(out, head.headers, [](std::string_view name) {
        return iequals(name, "connection") || iequals(name, "keep-alive");
    });
    append_line(out, "Connection", "close");
    out.append("\r\n");
    return out;
}

RewrittenHead plain_http_request_head(const RequestHead& head) {
    if (head.form != TargetForm::absolute) {
        return refused("a proxied plain-HTTP request needs an absolute http:// target");
    }
    if (request_body_framing(head).kind == FramingKind::invalid) {
        return refused("ambiguous request body framing");
    }
    std::string host = authority_host(head.host, head.host_kind);
    if (head.port != http_default_port) {
        host.push_back(':');  // not ":" + ...: a false -Wrestrict at -O3 (GCC bug 105651)
        host += std::to_string(head.port);
    }
    const auto options = connection_options(head.headers);
    RewrittenHead result;
    append_request_line(result.bytes, head);
    append_line(result.bytes, "Host", host);
    append_kept_headers(result.bytes, head.headers, [&](std::string_view name) {
        return iequals(name, "host") || is_hop_by_hop(name, options);
    });
    append_line(result.bytes, "Connection", "close");
    result.bytes.append("\r\n");
    result.ok = true;
    return result;
}

}  // namespace ccjail::egress
