#pragma once

#include <cstdint>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "profile/profile.hpp"

namespace ccjail {

// A profile that cannot be used. what() reads "<file>: <json pointer>: <problem>", e.g.
// "profiles/x.json: /limits/memory: expected a size like \"512M\", got true".
class ProfileError : public std::runtime_error {
  public:
    using std::runtime_error::runtime_error;
};

// Loads `name_or_path`: a path if it contains '/' or ends in ".json", else
// <profiles_dir>/<name>.json. Follows "extends" (names resolve in the same directory, cycles and
// depth > 8 refused), merges, validates strictly. Throws ProfileError.
Profile load_profile(std::string_view name_or_path, const std::filesystem::path& profiles_dir);

// The same chain, merged but not yet validated: what load_profile passes to profile_from_json.
// ccjaild keeps it per profile and hands it to the session's monitor, so that the jail is built
// from the version the daemon checked, whatever the file says by then.
nlohmann::json load_merged_profile(std::string_view name_or_path,
                                   const std::filesystem::path& profiles_dir);

// The profile files of a profiles directory: its regular `*.json` files, sorted by name (the
// stem is the profile's name). `ec` is set when the directory cannot be read.
std::vector<std::filesystem::path> profile_files(const std::filesystem::path& dir,
                                                 std::error_code& ec);

// Validates an already merged JSON document; `file` is used in error messages only.
Profile profile_from_json(const nlohmann::json& merged, const std::string& name,
                          const std::filesystem::path& file);

// Merges `child` over `base` by the rules of docs/profiles.md.
nlohmann::json merge_profiles(const nlohmann::json& base, const nlohmann::json& child);

// "512M", "1G", "4096", "64k" (binary units) -> bytes. Throws std::invalid_argument.
std::uint64_t parse_size(std::string_view text);
// "30s", "15m", "2h", "500ms", or a bare number of seconds -> milliseconds.
std::uint64_t parse_duration_ms(std::string_view text);

}  // namespace ccjail
