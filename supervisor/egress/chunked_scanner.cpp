#include "egress/chunked_scanner.hpp"

#include <algorithm>

#include "egress/ascii.hpp"

namespace ccjail::egress {

namespace {

// 15 hex digits stay below 2^60: the size never overflows, and leading zeros cannot make a
// size line arbitrarily long.
constexpr std::size_t max_size_digits = 15;

unsigned hex_value(char c) {
    return is_digit(c) ? static_cast<unsigned>(c - '0')
                       : static_cast<unsigned>(ascii_lower(c) - 'a' + 10);
}

bool is_text_char(char c) {
    return c == '\t' || c == ' ' || is_vchar(c) || is_obs_text(c);
}

}  // namespace

std::size_t ChunkedScanner::feed(std::string_view bytes) {
    std::size_t used = 0;
    while (used < bytes.size() && status_ == Status::in_body) {
        if (state_ == State::data) {
            const auto take = static_cast<std::size_t>(
                std::min<std::uint64_t>(chunk_remaining_, bytes.size() - used));
            chunk_remaining_ -= take;
            used += take;
            if (chunk_remaining_ == 0) {
                state_ = State::data_cr;
            }
            continue;
        }
        if (!step(bytes[used])) {
            return used;
        }
        ++used;
    }
    return used;
}

bool ChunkedScanner::fail(std::string reason) {
    status_ = Status::invalid;
    error_ = std::move(reason);
    return false;
}

// Counts a byte of a size or trailer line against the limits.
bool ChunkedScanner::line_byte(char c) {
    if (++line_bytes_ > limits_.max_line_bytes) {
        return fail("chunk size or trailer line longer than the limit");
    }
    if (c == '\n') {
        return fail("bare LF in chunked body (lines end with CRLF)");
    }
    return true;
}

bool ChunkedScanner::size_byte(char c) {
    if (is_hex_digit(c)) {
        if (++size_digits_ > max_size_digits) {
            return fail("chunk size longer than 15 hex digits");
        }
        chunk_remaining_ = chunk_remaining_ * 16 + hex_value(c);
        return true;
    }
    if (size_digits_ == 0) {
        return fail("chunk size missing");
    }
    switch (c) {
        case ';':
            state_ = State::extension;
            return true;
        case ' ':
        case '\t':
            state_ = State::size_space;
            return true;
        case '\r':
            state_ = State::size_lf;
            return true;
        default:
            return fail("malformed chunk size");
    }
}

bool ChunkedScanner::step(char c) {
    switch (state_) {
        case State::size:
            return line_byte(c) && size_byte(c);
        case State::size_space:
            if (!line_byte(c)) {
                return false;
            }
            if (c == ';') {
                state_ = State::extension;
                return true;
            }
            // "5 \r\n": some parsers read a size there, others a malformed line.
            return c == ' ' || c == '\t' ||
                   fail("whitespace after a chunk size without an extension");
        case State::extension:
            if (!line_byte(c)) {
                return false;
            }
            if (c == '\r') {
                state_ = State::size_lf;
                return true;
            }
            return is_text_char(c) || fail("control character in a chunk extension");
        case State::size_lf:
            if (c != '\n') {
                return fail("bare CR in chunked body");
            }
            line_bytes_ = 0;
            size_digits_ = 0;
            state_ = chunk_remaining_ == 0 ? State::trailer_start : State::data;
            return true;
        case State::data:
            return true;  // consumed in bulk by feed()
        case State::data_cr:
            state_ = State::data_lf;
            return c == '\r' || fail("chunk data longer than its size");
        case State::data_lf:
            state_ = State::size;
            return c == '\n' || fail("bare CR in chunked body");
        case State::trailer_start:
            if (c == '\r') {
                state_ = State::final_lf;
                return true;
            }
            if (!line_byte(c)) {
                return false;
            }
            if (++trailers_ > limits_.max_trailers) {
                return fail("more trailer fields than the limit");
            }
            if (!is_token_char(c)) {
                return fail("malformed trailer field");
            }
            state_ = State::trailer_name;
            return true;
        case State::trailer_name:
            if (!line_byte(c)) {
                return false;
            }
            if (c == ':') {
                state_ = State::trailer_value;
                return true;
            }
            return is_token_char(c) || fail("malformed trailer field name");
        case State::trailer_value:
            if (!line_byte(c)) {
                return false;
            }
            if (c == '\r') {
                state_ = State::trailer_lf;
                return true;
            }
            return is_text_char(c) || fail("control character in a trailer value");
        case State::trailer_lf:
            if (c != '\n') {
                return fail("bare CR in chunked body");
            }
            trailer_bytes_ += line_bytes_ + 1;
            line_bytes_ = 0;
            state_ = State::trailer_start;
            return trailer_bytes_ <= limits_.max_trailer_bytes ||
                   fail("trailer section longer than the limit");
        case State::final_lf:
            if (c != '\n') {
                return fail("bare CR in chunked body");
            }
            status_ = Status::done;
            return true;
    }
    return fail("chunked scanner in an unknown state");
}

}  // namespace ccjail::egress
