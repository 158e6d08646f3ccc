#pragma once

#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "profile/profile.hpp"

namespace ccjail::server {

// What one reload of the profiles directory did (the `profiles_reloaded` log line).
struct CatalogReload {
    std::vector<std::string> loaded;  // valid now, and in use
    // Invalid now; the version loaded before stays in use until the file is fixed.
    std::map<std::string, std::string> kept;
    // Invalid, and never loaded before: not spawnable.
    std::map<std::string, std::string> invalid;
    std::vector<std::string> removed;  // the file is gone: not spawnable any more
    std::string dir_error;             // the directory could not be read: nothing changed
};

// The daemon's profiles, loaded at start and again on SIGHUP (systemctl reload), never at a
// spawn: an admin's half-saved or broken edit must not take a working profile away from the
// users of a running service, and a session's profile must not change between the check of a
// request and the build of its jail. A profile that fails to load keeps its last good version.
class ProfileCatalog {
  public:
    // NOLINTNEXTLINE(bugprone-exception-escape): nlohmann::json's move is noexcept.
    struct Entry {
        std::optional<Profile> profile;  // the version in use; none: never loaded
        nlohmann::json document;         // its merged JSON, for the session's monitor
        std::string error;               // why the file failed at the last reload, if it did
    };

    explicit ProfileCatalog(std::filesystem::path dir) : dir_(std::move(dir)) {}

    CatalogReload reload();

    // The entry of a profile file seen at the last reload; nullptr for an unknown name.
    const Entry* find(const std::string& name) const;
    const std::map<std::string, Entry>& entries() const { return entries_; }
    const std::filesystem::path& dir() const { return dir_; }

  private:
    std::filesystem::path dir_;
    std::map<std::string, Entry> entries_;
};

}  // namespace ccjail::server
