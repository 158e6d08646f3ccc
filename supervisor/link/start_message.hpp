#pragma once

#include <chrono>
#include <filesystem>
#include <string>

#include <nlohmann/json.hpp>

#include "jail/spec.hpp"
#include "protocol/spawn_request.hpp"

namespace ccjail::link {

// The daemon's `start` message (docs/link.md), with its fields checked for shape.
struct StartMessage {
    std::string session;  // 16 lowercase hex digits: it names files and the cgroup
    nlohmann::json request;
    std::filesystem::path profiles_dir = "/etc/ccjail/profiles";
    // The merged profile ccjaild checked the request against (its profile catalog); without
    // it, the profile is loaded from profiles_dir.
    nlohmann::json profile_document;
    std::filesystem::path sessions_dir;
    HostConfig host;
    std::chrono::milliseconds kill_grace{5000};
    std::chrono::milliseconds orphan_timeout{600000};
};

// Throws JailError(Step::request) naming the field.
StartMessage parse_start_message(const nlohmann::json& body);

bool valid_session_id(const std::string& id);

// The jail the start message asks for: the spawn request parsed again (the daemon validated
// it, but the monitor runs as root and believes nothing it did not check), the profile loaded,
// the requested limits applied, the spec resolved under the session's id. Throws JailError
// (Step::profile for the profile, Step::request for the request).
struct SessionJail {
    JailSpec spec;
    protocol::SpawnMode mode = protocol::SpawnMode::pty;
};
SessionJail resolve_session_jail(const StartMessage& start);

}  // namespace ccjail::link
