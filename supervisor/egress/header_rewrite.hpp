#pragma once

#include <string>
#include <string_view>

#include "egress/http_head.hpp"

namespace ccjail::egress {

// Heads rebuilt for the next hop (docs/egress.md, "Header rules"). Nothing is forwarded as
// received: each head is parsed, filtered and serialized again, so the next hop only ever sees
// the lines this code wrote. The body is relayed as it comes, so framing headers
// (Content-Length, Transfer-Encoding) are kept even when Connection names them.

struct RewrittenHead {
    bool ok = false;
    std::string bytes;   // the head, blank line included
    std::string reason;  // why it was refused; never holds the key
};

// The gateway's request to the upstream: origin form only; Host becomes upstream_host_header;
// hop-by-hop headers and any client-supplied credential (Authorization, X-Api-Key, the key
// header) are dropped; `key_header_name: key` and `Connection: close` are added.
RewrittenHead gateway_request_head(const RequestHead& head, std::string_view upstream_host_header,
                                   std::string_view key_header_name, std::string_view key);

// The upstream's response as the jail gets it: Connection and Keep-Alive replaced by
// `Connection: close`, everything else (Content-Type: text/event-stream included) unchanged.
std::string gateway_response_head(const ResponseHead& head);

// A proxied "GET http://host/path": origin form, Host from the URI, hop-by-hop and Proxy-*
// headers dropped, `Connection: close` added. Absolute form only.
RewrittenHead plain_http_request_head(const RequestHead& head);

}  // namespace ccjail::egress
