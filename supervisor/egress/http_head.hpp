#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "egress/host_name.hpp"

namespace ccjail::egress {

// Parsers for HTTP/1.x heads as the egress proxy and the gateway read them from the jail and
// from the upstream (docs/egress.md, "HTTP parsing"). They are strict where lenient parsers
// disagree with each other (line endings, folding, whitespace, framing), because a byte
// sequence two parsers read differently is how requests get smuggled past a proxy.
//
// Incremental use: call again with the grown buffer after each read. The answer is
// `incomplete` until the blank line ends the head, but a head already wrong is refused at
// once, without waiting for the rest.

enum class HeadStatus { incomplete, complete, invalid, too_large };
// "incomplete", "complete", "invalid", "too_large".
std::string_view to_string(HeadStatus status);

enum class HttpVersion { http_1_0, http_1_1 };
// "HTTP/1.0", "HTTP/1.1".
std::string_view to_string(HttpVersion version);

struct Header {
    std::string name;   // as sent
    std::string value;  // without leading and trailing SP/HTAB
};

// Every value of the headers named `name` (case-insensitive), in order.
std::vector<std::string_view> header_values(const std::vector<Header>& headers,
                                            std::string_view name);

struct HeadLimits {
    std::size_t max_line_bytes = 8192;  // one line, CRLF not counted
    std::size_t max_headers = 100;
};

// CONNECT host:port is the authority form; "GET http://host/x" the absolute form (the proxy's
// plain-HTTP case); "GET /x" the origin form (the gateway's case). "*" and other schemes are
// refused.
enum class TargetForm { origin, absolute, authority };

struct RequestHead {
    std::string method;
    std::string target;  // as sent
    TargetForm form = TargetForm::origin;
    HttpVersion version = HttpVersion::http_1_1;
    std::vector<Header> headers;  // order and duplicates kept
    // authority and absolute forms: the canonical host, its kind, and the port (80 when an
    // http:// URI has none).
    std::string host;
    HostKind host_kind = HostKind::name;
    std::uint16_t port = 0;
    // origin and absolute forms: path and query, at least "/".
    std::string path;
    std::size_t head_length = 0;  // bytes up to and including the blank line
};

struct RequestParse {
    HeadStatus status = HeadStatus::incomplete;
    std::string reason;  // for invalid and too_large
    RequestHead head;    // meaningful when complete
};

// A head longer than max_head_bytes is too_large, as is one with a longer line or more headers
// than `limits` allow.
RequestParse parse_request_head(std::string_view buffer, std::size_t max_head_bytes,
                                const HeadLimits& limits = {});

struct ResponseHead {
    HttpVersion version = HttpVersion::http_1_1;
    int status = 0;      // 100-599
    std::string reason;  // may be empty
    std::vector<Header> headers;
    std::size_t head_length = 0;
};

struct ResponseParse {
    HeadStatus status = HeadStatus::incomplete;
    std::string reason;
    ResponseHead head;
};

ResponseParse parse_response_head(std::string_view buffer, std::size_t max_head_bytes,
                                  const HeadLimits& limits = {});

}  // namespace ccjail::egress
