#pragma once

#include <algorithm>
#include <string>
#include <string_view>

namespace ccjail::egress {

// Byte classes of HTTP and DNS text. Locale-free on purpose: <cctype> follows the C locale of
// the process, and a parser that guards a security boundary must not change with it.

constexpr char ascii_lower(char c) {
    return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}

constexpr bool is_digit(char c) {
    return c >= '0' && c <= '9';
}

constexpr bool is_hex_digit(char c) {
    return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

constexpr bool is_alpha(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

// RFC 9110 tchar: the bytes of a method, a header name, a Connection option.
constexpr bool is_token_char(char c) {
    if (is_alpha(c) || is_digit(c)) {
        return true;
    }
    constexpr std::string_view extra = "!#$%&'*+-.^_`|~";
    return extra.find(c) != std::string_view::npos;
}

constexpr bool is_token(std::string_view text) {
    return !text.empty() && std::all_of(text.begin(), text.end(), is_token_char);
}

// Visible ASCII, no space.
constexpr bool is_vchar(char c) {
    return c > 0x20 && c < 0x7f;
}

constexpr bool is_obs_text(char c) {
    return static_cast<unsigned char>(c) >= 0x80;
}

constexpr bool iequals(std::string_view a, std::string_view b) {
    return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
               return ascii_lower(x) == ascii_lower(y);
           });
}

constexpr bool istarts_with(std::string_view text, std::string_view prefix) {
    return text.size() >= prefix.size() && iequals(text.substr(0, prefix.size()), prefix);
}

inline std::string to_lower(std::string_view text) {
    std::string out(text);
    std::transform(out.begin(), out.end(), out.begin(), ascii_lower);
    return out;
}

// Strips SP and HTAB, the optional whitespace (OWS) of HTTP around values and list items.
constexpr std::string_view trim_ows(std::string_view text) {
    while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) {
        text.remove_prefix(1);
    }
    while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) {
        text.remove_suffix(1);
    }
    return text;
}

}  // namespace ccjail::egress
