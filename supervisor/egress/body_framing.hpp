#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "egress/http_head.hpp"

namespace ccjail::egress {

// How the body after a head is delimited (RFC 9112 6). Ambiguous framing is refused outright:
// a body one hop reads as Content-Length and the next as chunked is request smuggling.
enum class FramingKind {
    none,            // no body
    content_length,  // exactly `length` bytes
    chunked,         // Transfer-Encoding: chunked; see ChunkedScanner
    until_close,     // responses only: the body runs until the upstream closes
    invalid,
};

// "none", "content_length", "chunked", "until_close", "invalid".
std::string_view to_string(FramingKind kind);

struct BodyFraming {
    FramingKind kind = FramingKind::none;
    std::uint64_t length = 0;  // content_length
    std::string reason;        // invalid
};

BodyFraming request_body_framing(const RequestHead& head);

// `request_method` is the method of the request this answers: a response to HEAD, a 1xx, 204
// or 304 response, or a 2xx answer to CONNECT, has no body whatever its headers say.
BodyFraming response_body_framing(const ResponseHead& head, std::string_view request_method);

}  // namespace ccjail::egress
