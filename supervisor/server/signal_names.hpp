#pragma once

#include <optional>
#include <string>

#include <nlohmann/json_fwd.hpp>

namespace ccjail::server {

// The signals a client may send to its program, by name ("SIGINT") or number: the job-control
// and termination signals a terminal user can send, nothing that only a debugger would.
std::optional<int> signal_from_json(const nlohmann::json& value);
std::string allowed_signal_names();

}  // namespace ccjail::server
