// The egress proxy's reading of what a jail sends it (docs/egress.md, "HTTP parsing"): the
// request head, the host and authority rules, the allowlist match, the body framing and the
// chunked scanner. The jail is hostile, and a byte sequence this parser reads differently from
// an upstream server is a smuggled request, so every accepted head is re-checked here against
// the grammar, and the canonical host must be a fixed point of canonicalisation.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <iostream>
#include <string>
#include <string_view>
#include <vector>

#include "egress/allow_rule.hpp"
#include "egress/authority.hpp"
#include "egress/body_framing.hpp"
#include "egress/chunked_scanner.hpp"
#include "egress/host_name.hpp"
#include "egress/http_head.hpp"

namespace {

using namespace ccjail::egress;
using ccjail::AllowRule;

// As the daemon's proxy (egress_hub.cpp) reads a head.
constexpr std::size_t kMaxHead = 16384;

[[noreturn]] void violated(const char* what, std::string_view detail = {}) {
    std::cerr << "fuzz_proxy_request: invariant violated: " << what << " [" << detail << "]\n";
    std::abort();
}

void check(bool ok, const char* what, std::string_view detail = {}) {
    if (!ok) {
        violated(what, detail);
    }
}

bool tchar(char c) {
    const bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
    return alnum || std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

bool token(std::string_view text) {
    if (text.empty()) {
        return false;
    }
    for (const char c : text) {
        if (!tchar(c)) {
            return false;
        }
    }
    return true;
}

void check_header_fields(const std::vector<Header>& headers) {
    check(headers.size() <= HeadLimits{}.max_headers, "more headers than the limit");
    for (const Header& h : headers) {
        check(token(h.name), "a header name is not a token", h.name);
        for (const char c : h.value) {
            check(c != '\r' && c != '\n' && c != '\0', "CR, LF or NUL in a header value", h.value);
        }
        if (!h.value.empty()) {
            const char first = h.value.front();
            const char last = h.value.back();
            check(first != ' ' && first != '\t' && last != ' ' && last != '\t',
                  "a header value keeps its surrounding whitespace", h.value);
        }
    }
}

// A canonical host, written back as an authority's host, canonicalises to itself.
void check_canonical(std::string_view host, HostKind kind) {
    check(!host.empty(), "an empty canonical host");
    const CanonicalHost again = canonicalize_host(authority_host(host, kind));
    check(again.ok, "a canonical host is refused by canonicalize_host", host);
    check(again.host == host && again.kind == kind, "canonicalize_host is not idempotent", host);
    for (const char c : host) {
        check(!(c >= 'A' && c <= 'Z'), "an upper-case canonical host", host);
    }
    check(host.back() != '.', "a canonical host with a trailing dot", host);
}

// The allowlist of a typical proxy profile; the head's own host:port must always match a rule
// written for exactly it, and never a rule it is not below.
const std::vector<AllowRule>& sample_rules() {
    static const std::vector<AllowRule> rules = [] {
        std::vector<AllowRule> out;
        for (const char* text : {"registry.npmjs.org:443", "*.github.com:443", "pypi.org:80-443",
                                 "127.0.0.1:8080", "[::1]:3000-3010"}) {
            std::string error;
            auto rule = parse_allow_rule(text, error);
            if (!rule) {
                violated("a sample rule does not parse", error);
            }
            out.push_back(*rule);
        }
        return out;
    }();
    return rules;
}

void check_allowlist(std::string_view host, HostKind kind, std::uint16_t port) {
    const bool allowed = host_allowed(sample_rules(), host, port);
    if (allowed && kind == HostKind::name) {
        check(host == "registry.npmjs.org" || host == "pypi.org" || host.ends_with(".github.com"),
              "a host no rule names was allowed", host);
    }
    if (port == 0) {
        return;
    }
    std::string error;
    const std::string text = authority_host(host, kind) + ":" + std::to_string(port);
    const auto exact = parse_allow_rule(text, error);
    check(exact.has_value(), "an accepted host:port is not a valid allow rule", text);
    check(host_allowed({*exact}, host, port), "a rule for exactly host:port does not match", text);
    std::string reparse_error;
    const auto reparsed = parse_allow_rule(format_allow_rule(*exact), reparse_error);
    check(reparsed && reparsed->host == exact->host && reparsed->port_first == exact->port_first &&
              reparsed->port_last == exact->port_last,
          "format_allow_rule does not round-trip", text);
}

void check_request(const RequestHead& head, std::string_view buffer) {
    check(token(head.method) && head.method.size() <= 32, "the method is not a token", head.method);
    check(
        head.head_length >= 4 && head.head_length <= buffer.size() && head.head_length <= kMaxHead,
        "head_length out of range");
    check(buffer.substr(head.head_length - 4, 4) == "\r\n\r\n",
          "the head does not end in CRLFCRLF");
    check(!head.target.empty(), "an empty target");
    for (const char c : head.target) {
        check(c > 0x20 && c < 0x7f, "a target byte that is not visible ASCII", head.target);
    }
    check_header_fields(head.headers);
    switch (head.form) {
        case TargetForm::authority:
            check(head.method == "CONNECT" && head.port != 0, "authority form without a port");
            break;
        case TargetForm::absolute:
            check(head.port != 0 && !head.path.empty() && head.path.front() == '/',
                  "absolute form without a port or a path");
            break;
        case TargetForm::origin:
            check(!head.path.empty() && head.path.front() == '/', "origin form path");
            break;
    }
    if (head.form != TargetForm::origin) {
        check_canonical(head.host, head.host_kind);
        check_allowlist(head.host, head.host_kind, head.port);
    }
    const BodyFraming framing = request_body_framing(head);
    if (framing.kind == FramingKind::chunked) {
        const std::string_view body = buffer.substr(head.head_length);
        ChunkedScanner whole;
        const std::size_t used = whole.feed(body);
        ChunkedScanner split;
        std::size_t split_used = 0;
        for (std::size_t at = 0;
             at < body.size() && split.status() == ChunkedScanner::Status::in_body; at += 7) {
            split_used += split.feed(body.substr(at, 7));
        }
        check(whole.status() == split.status(), "the chunked scanner depends on the split");
        if (whole.status() != ChunkedScanner::Status::in_body) {
            check(used == split_used, "the chunked scanner ends at different bytes");
        }
        check(used <= body.size(), "the chunked scanner consumed more than it was given");
    }
}

void check_authority_text(std::string_view text) {
    const Authority authority = parse_authority(text);
    if (!authority.ok) {
        check(!authority.reason.empty(), "a refused authority without a reason");
        return;
    }
    check_canonical(authority.host, authority.kind);
    std::string again_text = authority_host(authority.host, authority.kind);
    if (authority.port) {
        check(*authority.port != 0, "an authority with port 0");
        again_text += ":" + std::to_string(*authority.port);
    }
    const Authority again = parse_authority(again_text);
    check(again.ok && again.host == authority.host && again.port == authority.port,
          "parse_authority is not idempotent", text);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view buffer(reinterpret_cast<const char*>(data), size);

    const RequestParse full = parse_request_head(buffer, kMaxHead);
    if (full.status == HeadStatus::complete) {
        check_request(full.head, buffer);
    } else if (full.status != HeadStatus::incomplete) {
        check(!full.reason.empty(), "a refusal without a reason");
    }

    // Incremental reading: the proxy parses the grown buffer after each read. A prefix of a
    // good head is never refused, and a prefix that is already refused or complete decides the
    // whole.
    for (std::size_t cut = 1; cut < 8 && size > 0; ++cut) {
        const std::string_view prefix = buffer.substr(0, size * cut / 8);
        const RequestParse part = parse_request_head(prefix, kMaxHead);
        if (full.status == HeadStatus::complete && prefix.size() < full.head.head_length) {
            check(part.status == HeadStatus::incomplete, "a prefix of a good head was refused",
                  part.reason);
        }
        if (part.status == HeadStatus::complete) {
            check(full.status == HeadStatus::complete &&
                      full.head.head_length == part.head.head_length &&
                      full.head.target == part.head.target,
                  "bytes after the blank line changed the head");
        }
        if (part.status == HeadStatus::invalid) {
            check(full.status == HeadStatus::invalid, "more bytes cured an invalid head");
        }
    }

    // The same bytes as an upstream's response head, as the gateway reads them.
    const ResponseParse response = parse_response_head(buffer, kMaxHead);
    if (response.status == HeadStatus::complete) {
        check(response.head.status >= 100 && response.head.status <= 599, "response status");
        check_header_fields(response.head.headers);
        response_body_framing(response.head, "GET");
        response_body_framing(response.head, "HEAD");
    }

    // Short inputs are also hosts and authorities as a CONNECT line or a Host header holds them.
    if (size <= 300) {
        const CanonicalHost host = canonicalize_host(buffer);
        if (host.ok) {
            check_canonical(host.host, host.kind);
        } else {
            check(!host.reason.empty(), "a refused host without a reason");
        }
        check_authority_text(buffer);
        std::string error;
        if (const auto rule = parse_allow_rule(buffer, error)) {
            check(rule->port_first <= rule->port_last && rule->port_first != 0, "rule ports");
            check(rule->subdomains ||
                      canonicalize_host(
                          authority_host(rule->host, rule->host.find(':') != std::string::npos
                                                         ? HostKind::ipv6
                                                         : HostKind::name))
                              .host == rule->host,
                  "an allow rule's host is not canonical", rule->host);
        }
    }
    return 0;
}
