#include "protocol/error_code.hpp"

#include <array>
#include <utility>

namespace ccjail::protocol {
namespace {

constexpr std::array<std::pair<ErrorCode, std::string_view>, 11> kNames{{
    {ErrorCode::bad_frame, "bad_frame"},
    {ErrorCode::bad_request, "bad_request"},
    {ErrorCode::unsupported_version, "unsupported_version"},
    {ErrorCode::unknown_op, "unknown_op"},
    {ErrorCode::unknown_profile, "unknown_profile"},
    {ErrorCode::forbidden, "forbidden"},
    {ErrorCode::not_found, "not_found"},
    {ErrorCode::too_many_sessions, "too_many_sessions"},
    {ErrorCode::rate_limited, "rate_limited"},
    {ErrorCode::spawn_failed, "spawn_failed"},
    {ErrorCode::internal, "internal"},
}};

constexpr std::array<ErrorCode, kNames.size()> codes_of_names() {
    std::array<ErrorCode, kNames.size()> codes{};
    for (std::size_t i = 0; i < kNames.size(); ++i) {
        codes[i] = kNames[i].first;
    }
    return codes;
}

constexpr std::array<ErrorCode, kNames.size()> kCodes = codes_of_names();

}  // namespace

std::string_view to_string(ErrorCode code) {
    for (const auto& [c, name] : kNames) {
        if (c == code) {
            return name;
        }
    }
    return "internal";
}

std::optional<ErrorCode> error_code_from_string(std::string_view name) {
    for (const auto& [c, n] : kNames) {
        if (n == name) {
            return c;
        }
    }
    return std::nullopt;
}

std::span<const ErrorCode> all_error_codes() {
    return kCodes;
}

ProtocolError::ProtocolError(ErrorCode code, const std::string& message)
    : std::runtime_error(message), code_(code) {}

}  // namespace ccjail::protocol
