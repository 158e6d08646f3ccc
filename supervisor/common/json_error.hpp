#pragma once

#include <string>

#include <nlohmann/json.hpp>

namespace ccjail {

// nlohmann's parse error without its "[json.exception.parse_error.101] " tag: the line, column
// and problem, for messages that name the file themselves (profiles, the daemon's config).
std::string parse_error_text(const nlohmann::json::parse_error& error);

}  // namespace ccjail
