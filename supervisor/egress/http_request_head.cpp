#include <algorithm>
#include <optional>

#include "egress/ascii.hpp"
#include "egress/authority.hpp"
#include "egress/http_head.hpp"
#include "egress/http_head_scan.hpp"

namespace ccjail::egress {

namespace {

constexpr std::string_view http_scheme = "http://";
constexpr std::string_view https_scheme = "https://";
constexpr std::uint16_t http_default_port = 80;
constexpr std::size_t max_method_bytes = 32;

RequestParse refused(HeadStatus status, std::string reason) {
    RequestParse parse;
    parse.status = status;
    parse.reason = std::move(reason);
    return parse;
}

struct RequestLine {
    std::string_view method;
    std::string_view target;
    std::string_view version;
};

// Exactly one SP between the parts: parsers that accept runs of whitespace (or tabs) split a
// line differently from those that do not.
std::optional<RequestLine> split_request_line(std::string_view line) {
    const auto first = line.find(' ');
    if (first == std::string_view::npos) {
        return std::nullopt;
    }
    const auto second = line.find(' ', first + 1);
    if (second == std::string_view::npos || line.find(' ', second + 1) != std::string_view::npos) {
        return std::nullopt;
    }
    return RequestLine{line.substr(0, first), line.substr(first + 1, second - first - 1),
                       line.substr(second + 1)};
}

bool apply_authority(RequestHead& head, std::string_view text, std::string& reason) {
    auto authority = parse_authority(text);
    if (!authority.ok) {
        reason = std::move(authority.reason);
        return false;
    }
    head.host = std::move(authority.host);
    head.host_kind = authority.kind;
    head.port = authority.port.value_or(0);
    return true;
}

bool parse_connect_target(RequestHead& head, std::string& reason) {
    const std::string_view target = head.target;
    if (target.find("://") != std::string_view::npos ||
        target.find('/') != std::string_view::npos) {
        reason = "CONNECT takes host:port, not a URI";
        return false;
    }
    if (!apply_authority(head, target, reason)) {
        return false;
    }
    if (head.port == 0) {
        reason = "CONNECT target without a port";
        return false;
    }
    head.form = TargetForm::authority;
    return true;
}

bool parse_absolute_target(RequestHead& head, std::string& reason) {
    const auto rest = std::string_view(head.target).substr(http_scheme.size());
    const auto authority_end = std::min(rest.find_first_of("/?"), rest.size());
    if (!apply_authority(head, rest.substr(0, authority_end), reason)) {
        return false;
    }
    if (head.port == 0) {
        head.port = http_default_port;
    }
    const auto path = rest.substr(authority_end);
    // Built by appending: g++ 12 at -O3 reports a false -Wrestrict on "/" + std::string (GCC bug
    // 105651), which breaks Release builds under -Werror.
    head.path.clear();
    if (path.empty() || path.front() == '?') {
        head.path.push_back('/');
    }
    head.path.append(path);
    head.form = TargetForm::absolute;
    return true;
}

bool parse_target(RequestHead& head, std::string& reason) {
    const std::string_view target = head.target;
    if (!std::all_of(target.begin(), target.end(), is_vchar)) {
        reason = "request target holds a byte that is not visible ASCII";
        return false;
    }
    if (target.find('#') != std::string_view::npos) {
        reason = "fragment ('#') in request target";
        return false;
    }
    if (head.method == "CONNECT") {
        return parse_connect_target(head, reason);
    }
    if (target.front() == '/') {
        head.path = head.target;
        head.form = TargetForm::origin;
        return true;
    }
    if (istarts_with(target, http_scheme)) {
        return parse_absolute_target(head, reason);
    }
    if (istarts_with(target, https_scheme)) {
        reason = "https:// target (use CONNECT)";
        return false;
    }
    reason = "request target is neither /path, http://host/path nor CONNECT host:port";
    return false;
}

bool parse_request_line(std::string_view line, RequestHead& head, std::string& reason) {
    const auto parts = split_request_line(line);
    if (!parts || parts->target.empty()) {
        reason = "request line is not METHOD SP target SP version";
        return false;
    }
    if (!is_token(parts->method) || parts->method.size() > max_method_bytes) {
        reason = "method is not a token";
        return false;
    }
    const auto version = detail::parse_http_version(parts->version);
    if (!version) {
        reason = "HTTP version other than HTTP/1.0 or HTTP/1.1";
        return false;
    }
    head.method = std::string(parts->method);
    head.target = std::string(parts->target);
    head.version = *version;
    return parse_target(head, reason);
}

// RFC 9112 3.2: a 1.1 request needs exactly one Host; two Hosts let two parsers pick two
// different ones.
bool host_headers_valid(const RequestHead& head, std::string& reason) {
    const auto hosts = header_values(head.headers, "Host").size();
    if (hosts > 1) {
        reason = "more than one Host header";
        return false;
    }
    if (hosts == 0 && head.version == HttpVersion::http_1_1 && head.form != TargetForm::authority) {
        reason = "HTTP/1.1 request without a Host header";
        return false;
    }
    return true;
}

}  // namespace

RequestParse parse_request_head(std::string_view buffer, std::size_t max_head_bytes,
                                const HeadLimits& limits) {
    auto scan = detail::scan_head(buffer, max_head_bytes, limits);
    RequestParse parse;
    if (scan.start_line && !parse_request_line(*scan.start_line, parse.head, parse.reason)) {
        return refused(HeadStatus::invalid, std::move(parse.reason));
    }
    if (scan.status != HeadStatus::complete) {
        return refused(scan.status, std::move(scan.reason));
    }
    parse.head.headers = std::move(scan.headers);
    parse.head.head_length = scan.length;
    if (!host_headers_valid(parse.head, parse.reason)) {
        return refused(HeadStatus::invalid, std::move(parse.reason));
    }
    parse.status = HeadStatus::complete;
    return parse;
}

}  // namespace ccjail::egress
