#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "profile/profile.hpp"

namespace ccjail::protocol {

// Limits a spawn request asks for; unset keeps the profile's value.
struct SpawnLimits {
    std::optional<std::uint64_t> memory_bytes;
    std::optional<std::uint64_t> pids;
    std::optional<std::uint64_t> wall_time_ms;
    std::optional<std::uint64_t> cpu_time_ms;
    std::optional<std::uint64_t> output_rate_bytes;
    std::optional<std::uint64_t> output_total_bytes;
    std::optional<double> cpus;
};

enum class SpawnMode { pty, pipe };
// "pty" or "pipe", as in spawn requests and responses.
constexpr std::string_view to_string(SpawnMode mode) {
    return mode == SpawnMode::pty ? "pty" : "pipe";
}

// A `spawn` request whose shape is checked: every field has its type, its length bound and its
// character set. What depends on the profile (argv policy, env allowlist) or on the host
// (workspace root, symlinks) is checked later, by the jail engine.
struct SpawnRequest {
    std::string profile;
    std::vector<std::string> argv;  // absent in the request: empty
    std::optional<std::string> workspace;
    std::optional<std::string> cwd;
    std::string user;
    std::map<std::string, std::string> env;
    SpawnMode mode = SpawnMode::pty;
    std::uint16_t cols = 80;
    std::uint16_t rows = 24;
    SpawnLimits limits;
};

// Throws ProtocolError(bad_request, "<json pointer>: <problem>").
SpawnRequest parse_spawn_request(const nlohmann::json& body);

// The profile's limits, lowered where the request asks. Throws ProtocolError(bad_request) naming
// the first field that asks for more than the profile grants.
Limits apply_requested_limits(const Limits& profile_limits, const SpawnLimits& requested);

}  // namespace ccjail::protocol
