#pragma once

#include <nlohmann/json.hpp>

#include "profile/profile.hpp"

namespace ccjail {

// The validated policy as plain JSON, for a session's state file: an adopting daemon enforces
// the rules the session started with, not whatever the profile says by then. Reading throws
// std::exception on a document to_json did not write.
nlohmann::json to_json(const NetworkPolicy& policy);
NetworkPolicy network_policy_from_json(const nlohmann::json& json);

}  // namespace ccjail
