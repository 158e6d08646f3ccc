#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "profile/profile.hpp"

namespace ccjail::egress {

// One network.allow entry: "host:port", "host:first-last", "*.domain:port",
// "127.0.0.1:8080", "[::1]:8080" (docs/egress.md, "Allow rules"). On failure, error says why.
std::optional<AllowRule> parse_allow_rule(std::string_view text, std::string& error);

// The rule as a profile would write it, for messages and the audit log.
std::string format_allow_rule(const AllowRule& rule);

// Whether some rule lets `canonical_host` (canonicalize_host's output) through on `port`.
bool host_allowed(const std::vector<AllowRule>& rules, std::string_view canonical_host,
                  std::uint16_t port);

}  // namespace ccjail::egress
