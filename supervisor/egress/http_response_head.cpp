#include <algorithm>

#include "egress/ascii.hpp"
#include "egress/http_head.hpp"
#include "egress/http_head_scan.hpp"

namespace ccjail::egress {

namespace {

ResponseParse refused(HeadStatus status, std::string reason) {
    ResponseParse parse;
    parse.status = status;
    parse.reason = std::move(reason);
    return parse;
}

bool is_reason_char(char c) {
    return c == '\t' || c == ' ' || is_vchar(c) || is_obs_text(c);
}

// "HTTP/1.1 200 OK"; the reason phrase may be empty, and some servers drop the SP before an
// empty one, which is accepted: the jail never sees this line as sent, only as rebuilt.
bool parse_status_line(std::string_view line, ResponseHead& head, std::string& reason) {
    const auto version = detail::parse_http_version(line.substr(0, line.find(' ')));
    if (!version || line.size() < 12 || line[8] != ' ') {
        reason = "status line is not HTTP/1.x SP code SP reason";
        return false;
    }
    const auto code = line.substr(9, 3);
    if (!std::all_of(code.begin(), code.end(), is_digit) || code.front() < '1' ||
        code.front() > '5') {
        reason = "status code is not 100-599";
        return false;
    }
    const auto rest = line.substr(12);
    if (!rest.empty() && rest.front() != ' ') {
        reason = "status code is not three digits";
        return false;
    }
    const auto phrase = rest.empty() ? rest : rest.substr(1);
    if (!std::all_of(phrase.begin(), phrase.end(), is_reason_char)) {
        reason = "control character in the reason phrase";
        return false;
    }
    head.version = *version;
    head.status = (code[0] - '0') * 100 + (code[1] - '0') * 10 + (code[2] - '0');
    head.reason = std::string(phrase);
    return true;
}

}  // namespace

ResponseParse parse_response_head(std::string_view buffer, std::size_t max_head_bytes,
                                  const HeadLimits& limits) {
    auto scan = detail::scan_head(buffer, max_head_bytes, limits);
    ResponseParse parse;
    if (scan.start_line && !parse_status_line(*scan.start_line, parse.head, parse.reason)) {
        return refused(HeadStatus::invalid, std::move(parse.reason));
    }
    if (scan.status != HeadStatus::complete) {
        return refused(scan.status, std::move(scan.reason));
    }
    parse.head.headers = std::move(scan.headers);
    parse.head.head_length = scan.length;
    parse.status = HeadStatus::complete;
    return parse;
}

}  // namespace ccjail::egress
