// The frame codec of the daemon's socket protocol (docs/protocol.md): wire layout, incremental
// decoding, every header rule, bounded memory, and the JSON control payload limits.
#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "protocol/frame.hpp"

namespace ccjail::protocol {
namespace {

using namespace std::string_literals;

std::string header(std::uint32_t length, std::uint8_t type, std::uint8_t flags = 0,
                   std::uint16_t reserved = 0, std::uint32_t channel = 0) {
    std::string h;
    for (int shift = 24; shift >= 0; shift -= 8) {
        h.push_back(static_cast<char>((length >> shift) & 0xff));
    }
    h.push_back(static_cast<char>(type));
    h.push_back(static_cast<char>(flags));
    h.push_back(static_cast<char>(reserved >> 8));
    h.push_back(static_cast<char>(reserved & 0xff));
    for (int shift = 24; shift >= 0; shift -= 8) {
        h.push_back(static_cast<char>((channel >> shift) & 0xff));
    }
    return h;
}

std::vector<Frame> sample_frames() {
    return {
        control_frame(FrameType::req, 0, {{"op", "hello"}, {"version", 1}}),
        control_frame(FrameType::res, 0, {{"ok", true}}),
        control_frame(FrameType::evt, 7, {{"event", "spawned"}}),
        Frame{FrameType::out, 0, 7, "hello\r\n\0\xff"s},
        Frame{FrameType::err, 0, 7, "oops"},
        Frame{FrameType::in, 0, 0xfffffffe, std::string(1000, 'x')},
        Frame{FrameType::eof, 0, 7, ""},
        credit_frame(7, 65536),
        Frame{FrameType::out, 0, 3, ""},
    };
}

std::vector<Frame> drain(FrameDecoder& decoder) {
    std::vector<Frame> frames;
    while (auto frame = decoder.next()) {
        frames.push_back(std::move(*frame));
    }
    return frames;
}

ErrorCode code_of_next(FrameDecoder& decoder) {
    try {
        decoder.next();
    } catch (const ProtocolError& e) {
        return e.code();
    }
    ADD_FAILURE() << "next() did not throw";
    return ErrorCode::internal;
}

// --- types and encoding ---------------------------------------------------------------------

TEST(FrameType, WireValuesAreFixed) {
    EXPECT_EQ(static_cast<int>(FrameType::req), 1);
    EXPECT_EQ(static_cast<int>(FrameType::res), 2);
    EXPECT_EQ(static_cast<int>(FrameType::evt), 3);
    EXPECT_EQ(static_cast<int>(FrameType::out), 4);
    EXPECT_EQ(static_cast<int>(FrameType::err), 5);
    EXPECT_EQ(static_cast<int>(FrameType::in), 6);
    EXPECT_EQ(static_cast<int>(FrameType::eof), 7);
    EXPECT_EQ(static_cast<int>(FrameType::credit), 8);
    EXPECT_FALSE(frame_type_from_byte(0).has_value());
    EXPECT_FALSE(frame_type_from_byte(9).has_value());
    EXPECT_FALSE(frame_type_from_byte(255).has_value());
    EXPECT_EQ(to_string(FrameType::credit), "CREDIT");
}

TEST(FrameEncode, HeaderByteLayoutIsExact) {
    const std::string wire = encode(Frame{FrameType::out, 0, 0x01020304, "abcde"});
    const std::string expected =
        "\x00\x00\x00\x05"s  // length, big endian
        "\x04"s              // type OUT
        "\x00"s              // flags
        "\x00\x00"s          // reserved
        "\x01\x02\x03\x04"s  // channel, big endian
        "abcde"s;
    EXPECT_EQ(wire, expected);
}

TEST(FrameEncode, LengthIsBigEndian) {
    const std::string wire = encode(Frame{FrameType::in, 0, 0, std::string(0x010203, 'z')});
    ASSERT_EQ(wire.size(), kHeaderSize + 0x010203);
    EXPECT_EQ(wire.substr(0, 4), "\x00\x01\x02\x03"s);
}

TEST(FrameEncode, CreditPayloadIsU32BigEndian) {
    const Frame credit = credit_frame(9, 0xdeadbeef);
    EXPECT_EQ(credit.payload, "\xde\xad\xbe\xef"s);
    EXPECT_EQ(credit_bytes(credit), 0xdeadbeefu);
    EXPECT_THROW(credit_bytes(Frame{FrameType::out, 0, 9, "\xde\xad\xbe\xef"s}), ProtocolError);
}

TEST(FrameEncode, OverMaxThrowsLengthError) {
    EXPECT_THROW(encode(Frame{FrameType::out, 0, 1, std::string(kDefaultMaxPayload + 1, 'a')}),
                 std::length_error);
    EXPECT_NO_THROW(encode(Frame{FrameType::out, 0, 1, std::string(kDefaultMaxPayload, 'a')}));
    EXPECT_THROW(encode(Frame{FrameType::out, 0, 1, "12345"}, 4), std::length_error);
}

TEST(FrameEncode, RefusesFramesTheDecoderWouldReject) {
    EXPECT_THROW(encode(Frame{FrameType::out, 1, 1, "x"}), std::invalid_argument);
    EXPECT_THROW(encode(Frame{static_cast<FrameType>(42), 0, 1, "x"}), std::invalid_argument);
    EXPECT_THROW(encode(Frame{FrameType::credit, 0, 1, "123"}), std::invalid_argument);
    EXPECT_THROW(encode(Frame{FrameType::eof, 0, 1, "x"}), std::invalid_argument);
}

// --- decoding -------------------------------------------------------------------------------

TEST(FrameDecoderTest, RoundTripsEveryType) {
    for (const Frame& frame : sample_frames()) {
        FrameDecoder decoder;
        decoder.feed(encode(frame));
        const auto back = decoder.next();
        ASSERT_TRUE(back.has_value()) << to_string(frame.type);
        EXPECT_EQ(*back, frame) << to_string(frame.type);
        EXPECT_FALSE(decoder.next().has_value());
        EXPECT_EQ(decoder.buffered(), 0u);
    }
}

TEST(FrameDecoderTest, SeveralFramesInOneFeed) {
    std::string wire;
    for (const Frame& frame : sample_frames()) {
        wire += encode(frame);
    }
    FrameDecoder decoder;
    decoder.feed(wire);
    EXPECT_EQ(drain(decoder), sample_frames());
}

TEST(FrameDecoderTest, OneByteAtATime) {
    std::string wire;
    for (const Frame& frame : sample_frames()) {
        wire += encode(frame);
    }
    FrameDecoder decoder;
    std::vector<Frame> frames;
    for (const char c : wire) {
        decoder.feed(std::string_view(&c, 1));
        for (auto& f : drain(decoder)) {
            frames.push_back(std::move(f));
        }
    }
    EXPECT_EQ(frames, sample_frames());
    EXPECT_EQ(decoder.buffered(), 0u);
}

TEST(FrameDecoderTest, SplitAtEveryBoundary) {
    std::string wire;
    for (const Frame& frame : sample_frames()) {
        wire += encode(frame);
    }
    for (std::size_t split = 0; split <= wire.size(); ++split) {
        FrameDecoder decoder;
        decoder.feed(std::string_view(wire).substr(0, split));
        auto frames = drain(decoder);
        decoder.feed(std::string_view(wire).substr(split));
        for (auto& f : drain(decoder)) {
            frames.push_back(std::move(f));
        }
        ASSERT_EQ(frames, sample_frames()) << "split at " << split;
    }
}

TEST(FrameDecoderTest, TruncatedFrameYieldsNothingUntilComplete) {
    const std::string wire = encode(Frame{FrameType::out, 0, 5, "0123456789"});
    FrameDecoder decoder;
    decoder.feed(wire.substr(0, 5));
    EXPECT_FALSE(decoder.next().has_value());
    EXPECT_EQ(decoder.buffered(), 5u);
    decoder.feed(wire.substr(5, 10));
    EXPECT_FALSE(decoder.next().has_value());
    EXPECT_EQ(decoder.buffered(), 15u);
    decoder.feed(wire.substr(15, wire.size() - 16));
    EXPECT_FALSE(decoder.next().has_value());
    decoder.feed(wire.substr(wire.size() - 1));
    const auto frame = decoder.next();
    ASSERT_TRUE(frame.has_value());
    EXPECT_EQ(frame->payload, "0123456789");
    EXPECT_EQ(decoder.buffered(), 0u);
}

TEST(FrameDecoderTest, EmptyFeedIsHarmless) {
    FrameDecoder decoder;
    decoder.feed("");
    EXPECT_FALSE(decoder.next().has_value());
    EXPECT_EQ(decoder.buffered(), 0u);
}

TEST(FrameDecoderTest, PayloadAtExactlyTheMaximumIsAccepted) {
    FrameDecoder decoder(16);
    decoder.feed(encode(Frame{FrameType::in, 0, 1, std::string(16, 'q')}, 16));
    const auto frame = decoder.next();
    ASSERT_TRUE(frame.has_value());
    EXPECT_EQ(frame->payload.size(), 16u);
}

TEST(FrameDecoderTest, OversizeLengthRejectedFromHeaderAlone) {
    FrameDecoder decoder;
    decoder.feed(header(0xffffffff, static_cast<std::uint8_t>(FrameType::out)));
    EXPECT_EQ(code_of_next(decoder), ErrorCode::bad_frame);
    // Nothing of the announced 4 GiB was reserved or kept.
    EXPECT_EQ(decoder.buffered(), 0u);
}

TEST(FrameDecoderTest, ConfiguredMaximumIsEnforced) {
    FrameDecoder decoder(100);
    decoder.feed(header(101, static_cast<std::uint8_t>(FrameType::in)));
    EXPECT_EQ(code_of_next(decoder), ErrorCode::bad_frame);
}

TEST(FrameDecoderTest, BufferNeverExceedsHeaderPlusMax) {
    const std::size_t max = 64;
    FrameDecoder decoder(max);
    std::string wire;
    for (int i = 0; i < 50; ++i) {
        wire += encode(Frame{FrameType::out, 0, 1, std::string(max, 'a' + i % 26)}, max);
    }
    for (std::size_t pos = 0; pos < wire.size(); pos += 7) {
        decoder.feed(std::string_view(wire).substr(pos, 7));
        EXPECT_LE(decoder.buffered(), kHeaderSize + max);
    }
    EXPECT_EQ(drain(decoder).size(), 50u);
}

TEST(FrameDecoderTest, UnknownTypeRejected) {
    for (const std::uint8_t type : {0, 9, 0x80, 0xff}) {
        FrameDecoder decoder;
        decoder.feed(header(0, type));
        EXPECT_EQ(code_of_next(decoder), ErrorCode::bad_frame) << int(type);
    }
}

TEST(FrameDecoderTest, NonZeroReservedRejected) {
    for (const std::uint16_t reserved : {1, 0x100, 0xffff}) {
        FrameDecoder decoder;
        decoder.feed(header(1, static_cast<std::uint8_t>(FrameType::out), 0, reserved) + "x");
        EXPECT_EQ(code_of_next(decoder), ErrorCode::bad_frame) << reserved;
    }
}

TEST(FrameDecoderTest, NonZeroFlagsRejected) {
    FrameDecoder decoder;
    decoder.feed(header(1, static_cast<std::uint8_t>(FrameType::out), 0x01) + "x");
    EXPECT_EQ(code_of_next(decoder), ErrorCode::bad_frame);
}

TEST(FrameDecoderTest, CreditMustBeFourBytes) {
    for (const std::uint32_t length : {0u, 3u, 5u, 8u}) {
        FrameDecoder decoder;
        decoder.feed(header(length, static_cast<std::uint8_t>(FrameType::credit)));
        EXPECT_EQ(code_of_next(decoder), ErrorCode::bad_frame) << length;
    }
}

TEST(FrameDecoderTest, EofMustBeEmpty) {
    FrameDecoder decoder;
    decoder.feed(header(1, static_cast<std::uint8_t>(FrameType::eof)) + "x");
    EXPECT_EQ(code_of_next(decoder), ErrorCode::bad_frame);
}

TEST(FrameDecoderTest, FramesBeforeAnErrorAreDelivered) {
    FrameDecoder decoder;
    decoder.feed(encode(Frame{FrameType::out, 0, 1, "good"}) + header(0, 0x42));
    const auto first = decoder.next();
    ASSERT_TRUE(first.has_value());
    EXPECT_EQ(first->payload, "good");
    EXPECT_EQ(code_of_next(decoder), ErrorCode::bad_frame);
}

TEST(FrameDecoderTest, PoisonedDecoderKeepsThrowing) {
    FrameDecoder decoder;
    decoder.feed(header(0, 0x42));
    EXPECT_EQ(code_of_next(decoder), ErrorCode::bad_frame);
    EXPECT_TRUE(decoder.poisoned());
    // A well-formed frame afterwards does not resynchronise the stream.
    decoder.feed(encode(Frame{FrameType::out, 0, 1, "later"}));
    EXPECT_EQ(code_of_next(decoder), ErrorCode::bad_frame);
    EXPECT_EQ(code_of_next(decoder), ErrorCode::bad_frame);
    EXPECT_EQ(decoder.buffered(), 0u);
}

TEST(FrameDecoderTest, RandomBytesOnlyEverRaiseProtocolError) {
    std::mt19937 rng(20261127);
    std::uniform_int_distribution<int> byte(0, 255);
    std::uniform_int_distribution<int> chunk(1, 64);
    int errors = 0;
    for (int round = 0; round < 2000; ++round) {
        FrameDecoder decoder(256);
        std::string noise(static_cast<std::size_t>(chunk(rng)) * 8, '\0');
        for (char& c : noise) {
            c = static_cast<char>(byte(rng));
        }
        // Bias some rounds towards plausible headers so the payload paths are exercised too.
        if (round % 2 == 0 && noise.size() >= kHeaderSize) {
            noise[0] = noise[1] = noise[2] = 0;
            noise[4] = static_cast<char>(1 + round % 8);
            noise[5] = noise[6] = noise[7] = 0;
        }
        std::size_t pos = 0;
        try {
            while (pos < noise.size()) {
                const std::size_t n = std::min<std::size_t>(chunk(rng), noise.size() - pos);
                decoder.feed(std::string_view(noise).substr(pos, n));
                pos += n;
                while (auto frame = decoder.next()) {
                    EXPECT_LE(frame->payload.size(), 256u);
                }
                EXPECT_LE(decoder.buffered(), kHeaderSize + 256);
            }
        } catch (const ProtocolError& e) {
            EXPECT_EQ(e.code(), ErrorCode::bad_frame);
            ++errors;
        }
    }
    // Pure noise is almost always refused; the test would be vacuous if it never were.
    EXPECT_GT(errors, 500);
}

TEST(FrameDecoderTest, RandomFramesRoundTrip) {
    std::mt19937 rng(42);
    std::uniform_int_distribution<int> type(1, 6);
    std::uniform_int_distribution<std::size_t> size(0, 3000);
    std::uniform_int_distribution<std::uint32_t> channel;
    std::vector<Frame> frames;
    std::string wire;
    for (int i = 0; i < 200; ++i) {
        Frame frame{static_cast<FrameType>(type(rng)), 0, channel(rng),
                    std::string(size(rng), static_cast<char>(i))};
        wire += encode(frame);
        frames.push_back(std::move(frame));
    }
    FrameDecoder decoder;
    std::vector<Frame> got;
    std::uniform_int_distribution<std::size_t> piece(1, 5000);
    for (std::size_t pos = 0; pos < wire.size();) {
        const std::size_t n = std::min(piece(rng), wire.size() - pos);
        decoder.feed(std::string_view(wire).substr(pos, n));
        pos += n;
        for (auto& f : drain(decoder)) {
            got.push_back(std::move(f));
        }
    }
    EXPECT_EQ(got, frames);
}

// --- JSON control payloads ------------------------------------------------------------------

TEST(ProtocolControl, ParsesAnObject) {
    const auto json = parse_control(
        control_frame(FrameType::req, 0, {{"op", "kill"}, {"session", "ab"}, {"grace_ms", 500}}));
    EXPECT_EQ(json["op"], "kill");
    EXPECT_EQ(json["grace_ms"], 500);
}

TEST(ProtocolControl, RejectsInvalidJson) {
    for (const char* text : {"", "{", "{\"a\":}", "nul", "{\"a\":1}garbage", "\xff\xfe"}) {
        try {
            parse_control(Frame{FrameType::req, 0, 0, text});
            ADD_FAILURE() << "accepted: " << text;
        } catch (const ProtocolError& e) {
            EXPECT_EQ(e.code(), ErrorCode::bad_request) << text;
        }
    }
}

TEST(ProtocolControl, RejectsNonObjectTopLevel) {
    for (const char* text : {"[]", "1", "\"op\"", "null", "true"}) {
        try {
            parse_control(Frame{FrameType::req, 0, 0, text});
            ADD_FAILURE() << "accepted: " << text;
        } catch (const ProtocolError& e) {
            EXPECT_EQ(e.code(), ErrorCode::bad_request) << text;
        }
    }
}

TEST(ProtocolControl, RejectsDataFrames) {
    try {
        parse_control(Frame{FrameType::out, 0, 0, "{}"});
        ADD_FAILURE() << "OUT frame parsed as JSON";
    } catch (const ProtocolError& e) {
        EXPECT_EQ(e.code(), ErrorCode::bad_frame);
    }
}

std::string nested(std::size_t depth) {
    std::string text;
    for (std::size_t i = 0; i < depth; ++i) {
        text += "{\"a\":";
    }
    text += "1";
    text.append(depth, '}');
    return text;
}

TEST(ProtocolControl, DepthLimitIsExact) {
    EXPECT_NO_THROW(parse_control(Frame{FrameType::req, 0, 0, nested(kMaxControlDepth)}));
    try {
        parse_control(Frame{FrameType::req, 0, 0, nested(kMaxControlDepth + 1)});
        ADD_FAILURE() << "depth " << kMaxControlDepth + 1 << " accepted";
    } catch (const ProtocolError& e) {
        EXPECT_EQ(e.code(), ErrorCode::bad_request);
    }
}

TEST(ProtocolControl, DeepNestingRejectedWithoutCrash) {
    const std::string arrays = "{\"a\":" + std::string(10000, '[') + std::string(10000, ']') + "}";
    const std::string objects = nested(10000);
    const std::string unclosed = std::string(1000000, '[');
    for (const std::string* text : {&arrays, &objects, &unclosed}) {
        try {
            parse_control(Frame{FrameType::req, 0, 0, *text});
            ADD_FAILURE() << "deep document accepted";
        } catch (const ProtocolError& e) {
            EXPECT_EQ(e.code(), ErrorCode::bad_request);
        }
    }
}

TEST(ProtocolControl, BracketsInsideStringsDoNotCount) {
    const nlohmann::json body = {
        {"argv", {std::string(100, '['), "\\\"{{{{", std::string(50, '{')}}};
    const auto json = parse_control(control_frame(FrameType::req, 0, body));
    EXPECT_EQ(json, body);
}

}  // namespace
}  // namespace ccjail::protocol
