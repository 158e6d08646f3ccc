#include "protocol/frame.hpp"

#include <algorithm>
#include <array>
#include <limits>
#include <stdexcept>
#include <utility>

#include <nlohmann/json.hpp>

namespace ccjail::protocol {
namespace {

constexpr std::array<std::pair<FrameType, std::string_view>, 8> kTypeNames{{
    {FrameType::req, "REQ"},
    {FrameType::res, "RES"},
    {FrameType::evt, "EVT"},
    {FrameType::out, "OUT"},
    {FrameType::err, "ERR"},
    {FrameType::in, "IN"},
    {FrameType::eof, "EOF"},
    {FrameType::credit, "CREDIT"},
}};

void put_u32(std::string& out, std::uint32_t value) {
    out.push_back(static_cast<char>((value >> 24) & 0xff));
    out.push_back(static_cast<char>((value >> 16) & 0xff));
    out.push_back(static_cast<char>((value >> 8) & 0xff));
    out.push_back(static_cast<char>(value & 0xff));
}

std::uint32_t get_u32(std::string_view bytes) {
    std::uint32_t value = 0;
    for (std::size_t i = 0; i < 4; ++i) {
        value = (value << 8) | static_cast<unsigned char>(bytes[i]);
    }
    return value;
}

bool is_control(FrameType type) {
    return type == FrameType::req || type == FrameType::res || type == FrameType::evt;
}

// The length a type demands, if it demands one: checked from the header, before the payload.
std::optional<std::size_t> fixed_length(FrameType type) {
    switch (type) {
        case FrameType::credit:
            return kCreditPayloadSize;
        case FrameType::eof:
            return 0;
        default:
            return std::nullopt;
    }
}

struct Header {
    std::uint32_t length;
    FrameType type;
    std::uint8_t flags;
    std::uint32_t channel;
};

// Throws ProtocolError(bad_frame) for every header rule of docs/protocol.md.
Header check_header(std::string_view bytes, std::size_t max_payload) {
    const std::uint32_t length = get_u32(bytes.substr(0, 4));
    const auto type_byte = static_cast<std::uint8_t>(bytes[4]);
    const auto flags = static_cast<std::uint8_t>(bytes[5]);
    const auto reserved = get_u32(bytes.substr(4, 4)) & 0xffffu;
    const auto type = frame_type_from_byte(type_byte);
    if (!type) {
        throw ProtocolError(ErrorCode::bad_frame,
                            "unknown frame type " + std::to_string(type_byte));
    }
    if (flags != 0) {
        throw ProtocolError(ErrorCode::bad_frame, "non-zero flags " + std::to_string(flags));
    }
    if (reserved != 0) {
        throw ProtocolError(ErrorCode::bad_frame, "non-zero reserved field");
    }
    if (length > max_payload) {
        throw ProtocolError(ErrorCode::bad_frame, "payload of " + std::to_string(length) +
                                                      " bytes exceeds the maximum of " +
                                                      std::to_string(max_payload));
    }
    if (const auto fixed = fixed_length(*type); fixed && length != *fixed) {
        throw ProtocolError(ErrorCode::bad_frame, std::string(to_string(*type)) + " payload of " +
                                                      std::to_string(length) + " bytes, expected " +
                                                      std::to_string(*fixed));
    }
    return Header{length, *type, flags, get_u32(bytes.substr(8, 4))};
}

// Nesting depth of a JSON text without parsing it: brackets outside strings. Stops counting
// once the limit is passed, so the cost is one linear scan whatever the input.
bool nested_deeper_than(std::string_view text, std::size_t limit) {
    std::size_t depth = 0;
    bool in_string = false;
    bool escaped = false;
    for (const char c : text) {
        if (in_string) {
            if (escaped) {
                escaped = false;
            } else if (c == '\\') {
                escaped = true;
            } else if (c == '"') {
                in_string = false;
            }
            continue;
        }
        if (c == '"') {
            in_string = true;
        } else if (c == '{' || c == '[') {
            if (++depth > limit) {
                return true;
            }
        } else if ((c == '}' || c == ']') && depth > 0) {
            --depth;
        }
    }
    return false;
}

}  // namespace

std::string_view to_string(FrameType type) {
    for (const auto& [t, name] : kTypeNames) {
        if (t == type) {
            return name;
        }
    }
    return "UNKNOWN";
}

std::optional<FrameType> frame_type_from_byte(std::uint8_t value) {
    for (const auto& [t, name] : kTypeNames) {
        if (static_cast<std::uint8_t>(t) == value) {
            return t;
        }
    }
    return std::nullopt;
}

std::string encode(const Frame& frame, std::size_t max_payload) {
    const std::size_t limit =
        std::min<std::size_t>(max_payload, std::numeric_limits<std::uint32_t>::max());
    if (frame.payload.size() > limit) {
        throw std::length_error("frame payload of " + std::to_string(frame.payload.size()) +
                                " bytes exceeds the maximum of " + std::to_string(limit));
    }
    if (!frame_type_from_byte(static_cast<std::uint8_t>(frame.type))) {
        throw std::invalid_argument("unknown frame type");
    }
    if (frame.flags != 0) {
        throw std::invalid_argument("no frame flag is defined");
    }
    if (const auto fixed = fixed_length(frame.type); fixed && frame.payload.size() != *fixed) {
        throw std::invalid_argument(std::string(to_string(frame.type)) +
                                    " payload has the wrong size");
    }
    std::string out;
    out.reserve(kHeaderSize + frame.payload.size());
    put_u32(out, static_cast<std::uint32_t>(frame.payload.size()));
    out.push_back(static_cast<char>(frame.type));
    out.push_back(static_cast<char>(frame.flags));
    out.push_back('\0');
    out.push_back('\0');
    put_u32(out, frame.channel);
    out.append(frame.payload);
    return out;
}

std::string encode_data(FrameType type, std::uint32_t channel, std::string_view first,
                        std::string_view second) {
    if (type != FrameType::out && type != FrameType::err && type != FrameType::in) {
        throw std::invalid_argument("encode_data: not a data frame type");
    }
    const std::size_t size = first.size() + second.size();
    if (size > kDefaultMaxPayload) {
        throw std::length_error("frame payload of " + std::to_string(size) +
                                " bytes exceeds the maximum of " +
                                std::to_string(kDefaultMaxPayload));
    }
    std::string out;
    out.reserve(kHeaderSize + size);
    put_u32(out, static_cast<std::uint32_t>(size));
    out.push_back(static_cast<char>(type));
    out.push_back('\0');
    out.push_back('\0');
    out.push_back('\0');
    put_u32(out, channel);
    out.append(first);
    out.append(second);
    return out;
}

Frame credit_frame(std::uint32_t channel, std::uint32_t bytes) {
    Frame frame{FrameType::credit, 0, channel, {}};
    put_u32(frame.payload, bytes);
    return frame;
}

std::uint32_t credit_bytes(const Frame& frame) {
    if (frame.type != FrameType::credit || frame.payload.size() != kCreditPayloadSize) {
        throw ProtocolError(ErrorCode::bad_frame, "not a CREDIT frame");
    }
    return get_u32(frame.payload);
}

Frame control_frame(FrameType type, std::uint32_t channel, const nlohmann::json& body) {
    if (!is_control(type)) {
        throw std::invalid_argument("control_frame needs REQ, RES or EVT");
    }
    return Frame{type, 0, channel, body.dump()};
}

nlohmann::json parse_control(const Frame& frame) {
    if (!is_control(frame.type)) {
        throw ProtocolError(ErrorCode::bad_frame,
                            std::string(to_string(frame.type)) + " frame carries no JSON");
    }
    if (nested_deeper_than(frame.payload, kMaxControlDepth)) {
        throw ProtocolError(
            ErrorCode::bad_request,
            "JSON nested deeper than " + std::to_string(kMaxControlDepth) + " levels");
    }
    auto json = nlohmann::json::parse(frame.payload, nullptr, /*allow_exceptions=*/false);
    if (json.is_discarded()) {
        throw ProtocolError(ErrorCode::bad_request, "payload is not valid JSON");
    }
    if (!json.is_object()) {
        throw ProtocolError(ErrorCode::bad_request, "payload is not a JSON object");
    }
    return json;
}

FrameDecoder::FrameDecoder(std::size_t max_payload)
    : max_payload_(std::min<std::size_t>(max_payload, std::numeric_limits<std::uint32_t>::max())) {
    header_.reserve(kHeaderSize);
}

void FrameDecoder::feed(std::string_view bytes) {
    while (!bytes.empty() && !error_) {
        const std::size_t used = in_payload_ ? take_payload(bytes) : take_header(bytes);
        bytes.remove_prefix(used);
    }
}

std::optional<Frame> FrameDecoder::next() {
    if (!ready_.empty()) {
        Frame frame = std::move(ready_.front());
        ready_.pop_front();
        return frame;
    }
    if (error_) {
        throw ProtocolError(ErrorCode::bad_frame, *error_);
    }
    return std::nullopt;
}

std::size_t FrameDecoder::take_header(std::string_view bytes) {
    const std::size_t used = std::min(bytes.size(), kHeaderSize - header_.size());
    header_.append(bytes.substr(0, used));
    if (header_.size() == kHeaderSize) {
        start_frame();
    }
    return used;
}

void FrameDecoder::start_frame() {
    try {
        const Header header = check_header(header_, max_payload_);
        partial_ = Frame{header.type, header.flags, header.channel, {}};
        payload_length_ = header.length;
    } catch (const ProtocolError& e) {
        error_ = e.what();
        header_.clear();
        return;
    }
    // Reserved only now that the length is known to be within the limit.
    partial_.payload.reserve(payload_length_);
    in_payload_ = true;
    if (payload_length_ == 0) {
        finish_frame();
    }
}

std::size_t FrameDecoder::take_payload(std::string_view bytes) {
    const std::size_t used = std::min(bytes.size(), payload_length_ - partial_.payload.size());
    partial_.payload.append(bytes.substr(0, used));
    if (partial_.payload.size() == payload_length_) {
        finish_frame();
    }
    return used;
}

void FrameDecoder::finish_frame() {
    ready_.push_back(std::move(partial_));
    partial_ = Frame{};
    header_.clear();
    payload_length_ = 0;
    in_payload_ = false;
}

}  // namespace ccjail::protocol
