// The stream decoder of the socket protocol (docs/protocol.md, "Frames") against any bytes, in
// any split: the daemon reads whatever a client writes, in whatever pieces the kernel hands it.
//
// Input layout: byte 0 picks the decoder's maximum payload, byte 1 the number of extra cut
// points, then two bytes per cut point; the rest is the stream. The same stream is also fed in
// one piece and byte by byte, and every way must give the same frames and the same verdict.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "protocol/error_code.hpp"
#include "protocol/frame.hpp"

namespace {

using ccjail::protocol::ErrorCode;
using ccjail::protocol::Frame;
using ccjail::protocol::FrameDecoder;
using ccjail::protocol::FrameType;
using ccjail::protocol::ProtocolError;

[[noreturn]] void violated(const char* what) {
    std::cerr << "fuzz_frame_decoder: invariant violated: " << what << "\n";
    std::abort();
}

void check(bool ok, const char* what) {
    if (!ok) {
        violated(what);
    }
}

// Small maxima make the length rule reachable by short inputs; the default is what the daemon
// uses before hello.
constexpr std::size_t kMaxPayloads[] = {ccjail::protocol::kDefaultMaxPayload, 0, 4, 5, 64, 1000};

struct Outcome {
    std::vector<Frame> frames;
    bool poisoned = false;
};

// Hands out every ready frame; once the decoder is poisoned, next() must throw bad_frame, and
// keep throwing.
void drain(FrameDecoder& decoder, Outcome& outcome) {
    for (;;) {
        try {
            auto frame = decoder.next();
            if (!frame) {
                check(!decoder.poisoned(), "next() returned nothing from a poisoned decoder");
                return;
            }
            outcome.frames.push_back(std::move(*frame));
        } catch (const ProtocolError& error) {
            check(error.code() == ErrorCode::bad_frame, "decoder error is not bad_frame");
            check(decoder.poisoned(), "next() threw while not poisoned");
            check(decoder.ready() == 0, "next() threw while frames were still ready");
            outcome.poisoned = true;
            return;
        }
    }
}

Outcome decode(std::string_view stream, const std::vector<std::size_t>& cuts,
               std::size_t max_payload) {
    FrameDecoder decoder(max_payload);
    Outcome outcome;
    std::size_t at = 0;
    bool drain_now = false;
    for (std::size_t cut : cuts) {
        cut = std::min(cut, stream.size());
        if (cut < at) {
            continue;
        }
        const bool was_poisoned = decoder.poisoned();
        const std::size_t ready_before = decoder.ready();
        const std::size_t buffered_before = decoder.buffered();
        decoder.feed(stream.substr(at, cut - at));
        if (was_poisoned) {
            check(decoder.poisoned(), "an error did not stick");
            check(decoder.ready() == ready_before, "a poisoned decoder produced a frame");
            check(decoder.buffered() == buffered_before, "a poisoned decoder stored bytes");
        }
        check(decoder.buffered() <= ccjail::protocol::kHeaderSize + max_payload,
              "the partial frame outgrew header + max payload");
        at = cut;
        // Draining between some feeds and not others: next() and feed() interleave freely.
        if (drain_now) {
            drain(decoder, outcome);
        }
        drain_now = !drain_now;
    }
    decoder.feed(stream.substr(at));
    drain(decoder, outcome);
    if (outcome.poisoned) {
        // Sticky: more bytes change nothing, next() keeps refusing.
        decoder.feed(std::string(ccjail::protocol::encode(Frame{FrameType::out, 0, 1, "x"})));
        check(decoder.ready() == 0, "a poisoned decoder accepted a valid frame");
        Outcome again;
        drain(decoder, again);
        check(again.poisoned && again.frames.empty(), "the error was not sticky");
    }
    return outcome;
}

std::uint32_t be32(std::string_view bytes) {
    std::uint32_t value = 0;
    for (std::size_t i = 0; i < 4; ++i) {
        value = (value << 8) | static_cast<unsigned char>(bytes[i]);
    }
    return value;
}

// docs/protocol.md's header rules, restated independently of the decoder.
bool header_acceptable(std::string_view header, std::size_t max_payload) {
    const std::uint32_t length = be32(header);
    const auto type = static_cast<unsigned char>(header[4]);
    if (type < 1 || type > 8 || header[5] != 0 || header[6] != 0 || header[7] != 0) {
        return false;
    }
    if (length > max_payload) {
        return false;
    }
    if (type == static_cast<unsigned char>(FrameType::credit) && length != 4) {
        return false;
    }
    if (type == static_cast<unsigned char>(FrameType::eof) && length != 0) {
        return false;
    }
    return true;
}

void check_frame(const Frame& frame, std::size_t max_payload) {
    check(frame.payload.size() <= max_payload, "a payload exceeds the maximum");
    check(frame.flags == 0, "a frame with flags was decoded");
    if (frame.type == FrameType::credit) {
        check(frame.payload.size() == ccjail::protocol::kCreditPayloadSize,
              "CREDIT payload is not 4 bytes");
        check(ccjail::protocol::credit_bytes(frame) == be32(frame.payload),
              "credit_bytes disagrees with the payload");
    }
    if (frame.type == FrameType::eof) {
        check(frame.payload.empty(), "EOF with a payload");
    }
    const bool control = frame.type == FrameType::req || frame.type == FrameType::res ||
                         frame.type == FrameType::evt;
    try {
        const nlohmann::json body = ccjail::protocol::parse_control(frame);
        check(control, "parse_control accepted a data frame");
        check(body.is_object(), "parse_control returned a non-object");
    } catch (const ProtocolError& error) {
        check(error.code() == (control ? ErrorCode::bad_request : ErrorCode::bad_frame),
              "parse_control refused with an undocumented code");
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size < 2) {
        return 0;
    }
    const std::size_t max_payload = kMaxPayloads[data[0] % std::size(kMaxPayloads)];
    const std::size_t cut_count = data[1] % 16;
    std::size_t offset = 2;
    std::vector<std::size_t> cuts;
    for (std::size_t i = 0; i < cut_count && offset + 2 <= size; ++i, offset += 2) {
        cuts.push_back(static_cast<std::size_t>(data[offset]) << 8 | data[offset + 1]);
    }
    std::sort(cuts.begin(), cuts.end());
    const std::string_view stream(reinterpret_cast<const char*>(data) + offset, size - offset);

    const Outcome split = decode(stream, cuts, max_payload);

    // Every frame re-encodes to exactly the bytes it came from, in order.
    std::string reencoded;
    for (const Frame& frame : split.frames) {
        check_frame(frame, max_payload);
        reencoded += ccjail::protocol::encode(frame, max_payload);
    }
    check(stream.substr(0, reencoded.size()) == reencoded,
          "re-encoded frames differ from the stream");
    const std::string_view rest = stream.substr(reencoded.size());

    if (split.poisoned) {
        // The refused header is the one right after the last frame: nothing came from it.
        check(rest.size() >= ccjail::protocol::kHeaderSize, "poisoned without a whole header");
        check(!header_acceptable(rest, max_payload), "a valid header was refused");
    } else if (rest.size() >= ccjail::protocol::kHeaderSize) {
        check(header_acceptable(rest, max_payload), "an invalid header was accepted");
        check(rest.size() < ccjail::protocol::kHeaderSize + be32(rest),
              "a complete frame was not handed out");
    }

    // The split must not matter.
    const Outcome whole = decode(stream, {}, max_payload);
    check(whole.frames == split.frames && whole.poisoned == split.poisoned,
          "one piece and several pieces decode differently");
    if (stream.size() <= 4096) {
        std::vector<std::size_t> every_byte(stream.size());
        for (std::size_t i = 0; i < every_byte.size(); ++i) {
            every_byte[i] = i;
        }
        const Outcome bytewise = decode(stream, every_byte, max_payload);
        check(bytewise.frames == split.frames && bytewise.poisoned == split.poisoned,
              "byte by byte and several pieces decode differently");
    }
    return 0;
}
