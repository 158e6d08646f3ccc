#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace ccjail::egress {

// Follows a chunked body (RFC 9112 7.1) as it streams through, without buffering it, to tell
// where it ends. Feed every byte after the head, in pieces of any size; the bytes are relayed
// by the caller untouched. Strict like the head parser: CRLF only, hex sizes of at most 15
// digits, no whitespace around a size unless a chunk extension follows.
class ChunkedScanner {
  public:
    enum class Status { in_body, done, invalid };

    struct Limits {
        std::size_t max_line_bytes = 4096;      // a size line with its extensions, a trailer
        std::size_t max_trailer_bytes = 16384;  // all trailer lines together
        std::size_t max_trailers = 100;
    };

    ChunkedScanner() = default;
    explicit ChunkedScanner(const Limits& limits) : limits_(limits) {}

    // Consumes bytes up to the end of the body. Returns how many of `bytes` belong to the body:
    // all of them while in_body; on done, the rest of `bytes` follows the body; on invalid, the
    // offset of the offending byte.
    std::size_t feed(std::string_view bytes);

    Status status() const { return status_; }
    const std::string& error() const { return error_; }

  private:
    enum class State {
        size,           // hex digits of a chunk size
        size_space,     // whitespace after the size; only ';' may follow
        extension,      // after ';' up to CR
        size_lf,        // LF after a size line's CR
        data,           // chunk bytes
        data_cr,        // CR after the data
        data_lf,        // LF after the data
        trailer_start,  // start of a trailer line or of the final CRLF
        trailer_name,   // a trailer field's name, up to ':'
        trailer_value,  // its value, up to CR
        trailer_lf,     // LF after a trailer line's CR
        final_lf,       // LF of the final CRLF
    };

    bool step(char c);
    bool size_byte(char c);
    bool line_byte(char c);
    bool fail(std::string reason);

    Limits limits_;
    Status status_ = Status::in_body;
    State state_ = State::size;
    std::string error_;
    std::uint64_t chunk_remaining_ = 0;
    std::size_t size_digits_ = 0;
    std::size_t line_bytes_ = 0;
    std::size_t trailer_bytes_ = 0;
    std::size_t trailers_ = 0;
};

}  // namespace ccjail::egress
