#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "egress/http_head.hpp"

namespace ccjail::egress::detail {

// The part of head parsing that requests and responses share: cutting the buffer into CRLF
// lines and the header lines into fields. The start line is handed back unparsed, as soon as
// it is complete, so that the caller can refuse a bad one before the rest arrives.
struct HeadScan {
    HeadStatus status = HeadStatus::incomplete;
    std::string reason;
    std::optional<std::string_view> start_line;
    std::vector<Header> headers;
    std::size_t length = 0;  // complete: bytes up to and including the blank line
};

HeadScan scan_head(std::string_view buffer, std::size_t max_head_bytes, const HeadLimits& limits);

std::optional<HttpVersion> parse_http_version(std::string_view text);

}  // namespace ccjail::egress::detail
