#pragma once

#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>

namespace ccjail::protocol {

// The closed set of error codes the daemon puts in `error` events and failed responses. The
// names are wire strings: docs/protocol.md lists them with when each is sent, and clients
// (the Node library) switch on them, so a name never changes meaning and none is removed.
enum class ErrorCode {
    bad_frame,            // the byte stream broke the framing; the connection is closed
    bad_request,          // a control payload is not acceptable JSON or a field is invalid
    unsupported_version,  // hello asked for a protocol version the daemon does not speak
    unknown_op,           // the request names an op the daemon does not have
    unknown_profile,      // spawn names a profile that does not exist
    forbidden,            // the peer may not do this (role, read-only attach)
    not_found,            // no such session visible to this peer
    too_many_sessions,    // a concurrent-session limit (global, per uid, per user label)
    rate_limited,         // the spawn rate or input rate limit
    spawn_failed,         // the jail could not be built; the exit report says which step
    internal,             // a daemon bug or an unexpected system failure
};

std::string_view to_string(ErrorCode code);
std::optional<ErrorCode> error_code_from_string(std::string_view name);

// Every code, in declaration order: for tests and for documentation checks.
std::span<const ErrorCode> all_error_codes();

// A protocol violation or a refused request, carrying the code the peer will see. what() is
// the human message alone; the code travels separately on the wire.
class ProtocolError : public std::runtime_error {
  public:
    ProtocolError(ErrorCode code, const std::string& message);
    ErrorCode code() const { return code_; }

  private:
    ErrorCode code_;
};

}  // namespace ccjail::protocol
