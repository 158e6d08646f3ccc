#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "profile/profile.hpp"

namespace ccjail {

// What a network mode tells the jail's programs through the environment: in `proxy` and
// `gateway`, where the CONNECT proxy listens (both spellings: curl reads only the lowercase
// http_proxy, Node and Go read either) and that loopback goes direct; in `gateway`, where the
// Anthropic API is (ANTHROPIC_BASE_URL). Nothing for `none` and `host`.
std::vector<std::pair<std::string, std::string>> network_environment(const NetworkPolicy& policy);

// True for every name network_environment may set, whatever the mode.
bool is_network_variable(std::string_view name);

}  // namespace ccjail
