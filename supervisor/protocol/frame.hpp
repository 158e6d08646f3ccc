#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json_fwd.hpp>

#include "protocol/error_code.hpp"

namespace ccjail::protocol {

// Wire layout (docs/protocol.md): u32 BE payload length | u8 type | u8 flags | u16 reserved |
// u32 BE channel, then the payload.
inline constexpr std::size_t kHeaderSize = 12;
inline constexpr std::size_t kDefaultMaxPayload = std::size_t{1} << 20;
inline constexpr std::size_t kCreditPayloadSize = 4;
// Deeper control documents are refused before they reach the JSON parser, so no peer can make
// the daemon's stack or allocator pay for its nesting.
inline constexpr std::size_t kMaxControlDepth = 32;

// The closed set of frame types. The numbers are wire values; 0 is deliberately unused so that
// a zero-filled or truncated stream is not mistaken for a frame.
enum class FrameType : std::uint8_t {
    req = 1,     // client -> daemon, JSON request
    res = 2,     // daemon -> client, JSON response to a request
    evt = 3,     // daemon -> client, JSON event
    out = 4,     // daemon -> client, raw bytes of a session's stdout (or its pty)
    err = 5,     // daemon -> client, raw bytes of a session's stderr (pipe mode)
    in = 6,      // client -> daemon, raw bytes for a session's stdin
    eof = 7,     // either way: no more data on this channel in this direction; empty payload
    credit = 8,  // either way: u32 BE bytes granted to the other side on this channel
};

std::string_view to_string(FrameType type);
std::optional<FrameType> frame_type_from_byte(std::uint8_t value);

struct Frame {
    FrameType type = FrameType::req;
    std::uint8_t flags = 0;  // no flag is defined yet: must be 0
    std::uint32_t channel = 0;
    std::string payload;

    bool operator==(const Frame&) const = default;
};

// The wire bytes of a frame. Throws std::length_error when the payload exceeds max_payload and
// std::invalid_argument for a frame the decoder would refuse (unknown type, non-zero flags, a
// CREDIT payload that is not 4 bytes, an EOF with a payload).
std::string encode(const Frame& frame, std::size_t max_payload = kDefaultMaxPayload);

// The wire bytes of an OUT, ERR or IN frame whose payload is `first` then `second` (the two
// pieces of a ring buffer across its wrap), built with a single copy of the data. Throws like
// encode() with the default maximum payload.
std::string encode_data(FrameType type, std::uint32_t channel, std::string_view first,
                        std::string_view second = {});

Frame credit_frame(std::uint32_t channel, std::uint32_t bytes);
// The bytes granted by a CREDIT frame; ProtocolError(bad_frame) for any other frame.
std::uint32_t credit_bytes(const Frame& frame);

// A REQ/RES/EVT frame carrying `body` as compact JSON.
Frame control_frame(FrameType type, std::uint32_t channel, const nlohmann::json& body);

// The JSON object of a REQ/RES/EVT frame. ProtocolError(bad_frame) when the frame is not a
// control frame; ProtocolError(bad_request) when the payload is not valid JSON, is nested
// deeper than kMaxControlDepth, or its top level is not an object.
nlohmann::json parse_control(const Frame& frame);

// Splits a byte stream into frames. feed() takes bytes as they arrive, in pieces of any size;
// next() hands out the complete frames in order. Each header is checked as soon as its 12 bytes
// are in, before any of its payload is stored, so a peer announcing a 4 GiB payload costs
// nothing: the partial frame held here never exceeds kHeaderSize + max_payload bytes.
//
// A framing violation poisons the decoder: the frames completed before it are still handed
// out, then next() throws ProtocolError(bad_frame) on every call and feed() discards its input.
// There is no resynchronisation on a stream: the connection must be closed.
class FrameDecoder {
  public:
    explicit FrameDecoder(std::size_t max_payload = kDefaultMaxPayload);

    void feed(std::string_view bytes);
    std::optional<Frame> next();

    // Bytes of the frame still being received (header and payload so far).
    std::size_t buffered() const {
        return header_.size() + (in_payload_ ? partial_.payload.size() : 0);
    }
    // Complete frames waiting for next().
    std::size_t ready() const { return ready_.size(); }
    bool poisoned() const { return error_.has_value(); }

  private:
    std::size_t take_header(std::string_view bytes);
    std::size_t take_payload(std::string_view bytes);
    void start_frame();
    void finish_frame();

    std::size_t max_payload_;
    std::string header_;
    Frame partial_;
    std::size_t payload_length_ = 0;
    bool in_payload_ = false;
    std::deque<Frame> ready_;
    std::optional<std::string> error_;
};

}  // namespace ccjail::protocol
