#pragma once

#include <filesystem>
#include <string>

#include <nlohmann/json_fwd.hpp>

#include "profile/profile.hpp"

// Shared by the loader and the validator; not part of the module's API.
namespace ccjail::profile_detail {

// Checks one profile file alone, before it is merged with what it extends, so an error names the
// file that holds it. Throws ProfileError.
Profile check_profile_file(const nlohmann::json& document, const std::string& name,
                           const std::filesystem::path& file);

}  // namespace ccjail::profile_detail
