#pragma once

#include <string>
#include <string_view>

namespace ccjail::egress {

// A complete HTTP/1.1 response the proxy or the gateway answers with itself (docs/egress.md,
// "Status codes"): text/plain body, Content-Length, Connection: close, and for 403 an
// X-Ccjail-Deny-Reason header. reason_text is reduced to printable ASCII and cut to 200 bytes,
// so request bytes quoted in it cannot forge headers or drive a terminal.
std::string error_response(int status, std::string_view reason_text);

// The answer to an allowed CONNECT, after which the connection is a tunnel.
std::string connect_established_response();

}  // namespace ccjail::egress
