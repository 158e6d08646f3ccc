#include "egress/error_response.hpp"

#include <algorithm>

namespace ccjail::egress {

namespace {

constexpr std::size_t max_reason_bytes = 200;

std::string_view status_text(int status) {
    switch (status) {
        case 400:
            return "Bad Request";
        case 403:
            return "Forbidden";
        case 405:
            return "Method Not Allowed";
        case 408:
            return "Request Timeout";
        case 431:
            return "Request Header Fields Too Large";
        case 500:
            return "Internal Server Error";
        case 502:
            return "Bad Gateway";
        case 503:
            return "Service Unavailable";
        case 504:
            return "Gateway Timeout";
        default:
            return "Error";
    }
}

std::string printable(std::string_view text) {
    std::string out(text.substr(0, max_reason_bytes));
    std::replace_if(
        out.begin(), out.end(), [](char c) { return c < 0x20 || c > 0x7e; }, '?');
    return out;
}

}  // namespace

std::string error_response(int status, std::string_view reason_text) {
    if (status < 400 || status > 599) {
        status = 500;
    }
    const auto code = std::to_string(status);
    const auto text = status_text(status);
    const auto reason = printable(reason_text);
    std::string body = "ccjail: " + code + " " + std::string(text);
    if (!reason.empty()) {
        body += ": " + reason;
    }
    body += "\n";

    std::string out = "HTTP/1.1 " + code + " " + std::string(text) + "\r\n";
    out += "Content-Type: text/plain; charset=us-ascii\r\n";
    out += "X-Content-Type-Options: nosniff\r\n";
    out += "Content-Length: " + std::to_string(body.size()) + "\r\n";
    out += "Connection: close\r\n";
    if (status == 403) {
        out +=
            "X-Ccjail-Deny-Reason: " + (reason.empty() ? std::string("denied") : reason) + "\r\n";
    }
    out += "\r\n";
    out += body;
    return out;
}

std::string connect_established_response() {
    return "HTTP/1.1 200 Connection established\r\n\r\n";
}

}  // namespace ccjail::egress
