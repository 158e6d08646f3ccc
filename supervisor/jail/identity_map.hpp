#pragma once

#include <sys/types.h>

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>

#include "common/unique_fd.hpp"

namespace ccjail {

// ^[a-z0-9][a-z0-9._-]{0,63}$ – the only user labels accepted anywhere.
bool valid_user_label(std::string_view label);

// The stable uid of `label` in [first, first+count): read from the JSON map `map_file`
// ({"label": uid, ...}), or allocated as the lowest free uid and persisted (atomically: written
// to a temporary file and renamed, under an flock on "<map_file>.lock"). Throws
// JailError(Step::identity_map) for a bad label, an exhausted range or an unreadable map.
uid_t uid_for_label(const std::filesystem::path& map_file, std::string_view label, uid_t first,
                    std::uint32_t count);

// Makes sure <homes_root>/<label> exists as a real directory (not a symlink) owned by uid:gid,
// mode 0700, and returns it as an O_PATH|O_DIRECTORY|O_CLOEXEC fd for the jail to bind.
// homes_root is created 0711 root:root when missing. Throws JailError(Step::home).
UniqueFd prepare_home(const std::filesystem::path& homes_root, std::string_view label, uid_t uid,
                      gid_t gid);

// The same for the default per-user workspace <workspace_root>/<label>, used when a request
// names no workspace. Throws JailError(Step::workspace).
UniqueFd prepare_user_workspace(const std::filesystem::path& workspace_root, std::string_view label,
                                uid_t uid, gid_t gid);

}  // namespace ccjail
