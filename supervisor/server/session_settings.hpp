#pragma once

#include "profile/profile.hpp"
#include "protocol/spawn_request.hpp"
#include "server/session.hpp"

namespace ccjail::server {

// What the daemon enforces for a session of `profile` in `mode`, with the request's (lowered)
// `limits`: ring size and overflow policy by mode, output and input rates, the output cap.
SessionSettings settings_for(const Profile& profile, const Limits& limits,
                             protocol::SpawnMode mode);

}  // namespace ccjail::server
