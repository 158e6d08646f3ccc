#include "egress/http_head_scan.hpp"

#include <algorithm>

#include "egress/ascii.hpp"

namespace ccjail::egress::detail {

namespace {

enum class LineStatus { line, incomplete, invalid, too_long };

struct LineScan {
    LineStatus status = LineStatus::incomplete;
    std::string_view line;
    std::size_t next = 0;  // where the following line starts
    std::string reason;
};

// Bare LF and bare CR end a line for some parsers and not for others: accepting either would
// let a request carry a second, hidden head past the proxy. NUL truncates strings in C code
// further along.
LineScan next_line(std::string_view buffer, std::size_t start, std::size_t max_line_bytes) {
    LineScan scan;
    for (std::size_t i = start; i < buffer.size(); ++i) {
        if (i - start > max_line_bytes) {
            scan.status = LineStatus::too_long;
            return scan;
        }
        const char c = buffer[i];
        if (c == '\0') {
            scan.status = LineStatus::invalid;
            scan.reason = "NUL byte in head";
            return scan;
        }
        if (c == '\n') {
            scan.status = LineStatus::invalid;
            scan.reason = "bare LF in head (lines end with CRLF)";
            return scan;
        }
        if (c != '\r') {
            continue;
        }
        if (i + 1 == buffer.size()) {
            return scan;
        }
        if (buffer[i + 1] != '\n') {
            scan.status = LineStatus::invalid;
            scan.reason = "bare CR in head";
            return scan;
        }
        scan.status = LineStatus::line;
        scan.line = buffer.substr(start, i - start);
        scan.next = i + 2;
        return scan;
    }
    if (buffer.size() - start > max_line_bytes) {
        scan.status = LineStatus::too_long;
    }
    return scan;
}

bool is_field_value_char(char c) {
    return c == '\t' || c == ' ' || is_vchar(c) || is_obs_text(c);
}

std::optional<Header> parse_header_line(std::string_view line, std::string& reason) {
    if (line.front() == ' ' || line.front() == '\t') {
        reason = "folded header line (obs-fold)";
        return std::nullopt;
    }
    const auto colon = line.find(':');
    if (colon == std::string_view::npos) {
        reason = "header line without ':'";
        return std::nullopt;
    }
    const auto name = line.substr(0, colon);
    if (!name.empty() && (name.back() == ' ' || name.back() == '\t')) {
        reason = "whitespace before ':' in a header";
        return std::nullopt;
    }
    if (!is_token(name)) {
        reason = "header name is not a token";
        return std::nullopt;
    }
    const auto value = trim_ows(line.substr(colon + 1));
    if (!std::all_of(value.begin(), value.end(), is_field_value_char)) {
        reason = "control character in a header value";
        return std::nullopt;
    }
    return Header{std::string(name), std::string(value)};
}

HeadScan failed(HeadStatus status, std::string reason) {
    HeadScan scan;
    scan.status = status;
    scan.reason = std::move(reason);
    return scan;
}

}  // namespace

HeadScan scan_head(std::string_view buffer, std::size_t max_head_bytes, const HeadLimits& limits) {
    const auto window = buffer.substr(0, std::min(buffer.size(), max_head_bytes));
    HeadScan scan;
    std::size_t position = 0;
    while (true) {
        auto line = next_line(window, position, limits.max_line_bytes);
        if (line.status == LineStatus::invalid) {
            auto failure = failed(HeadStatus::invalid, std::move(line.reason));
            failure.start_line = scan.start_line;
            return failure;
        }
        if (line.status == LineStatus::too_long) {
            auto failure = failed(HeadStatus::too_large, "line longer than the limit");
            failure.start_line = scan.start_line;
            return failure;
        }
        if (line.status == LineStatus::incomplete) {
            if (buffer.size() >= max_head_bytes) {
                scan.status = HeadStatus::too_large;
                scan.reason = "head longer than the limit";
            }
            return scan;
        }
        position = line.next;
        if (!scan.start_line) {
            if (line.line.empty()) {
                return failed(HeadStatus::invalid, "empty start line");
            }
            scan.start_line = line.line;
            continue;
        }
        if (line.line.empty()) {
            scan.status = HeadStatus::complete;
            scan.length = position;
            return scan;
        }
        if (scan.headers.size() == limits.max_headers) {
            auto failure = failed(HeadStatus::too_large, "more headers than the limit");
            failure.start_line = scan.start_line;
            return failure;
        }
        std::string reason;
        auto header = parse_header_line(line.line, reason);
        if (!header) {
            auto failure = failed(HeadStatus::invalid, std::move(reason));
            failure.start_line = scan.start_line;
            return failure;
        }
        scan.headers.push_back(std::move(*header));
    }
}

std::optional<HttpVersion> parse_http_version(std::string_view text) {
    if (text == "HTTP/1.1") {
        return HttpVersion::http_1_1;
    }
    if (text == "HTTP/1.0") {
        return HttpVersion::http_1_0;
    }
    return std::nullopt;
}

}  // namespace ccjail::egress::detail
