#pragma once

#include <filesystem>
#include <string_view>

#include "common/unique_fd.hpp"

namespace ccjail {

// Opens the workspace as an O_PATH|O_DIRECTORY|O_CLOEXEC fd. `requested` is absolute (and must
// then lie lexically below `root`) or relative to `root`. The walk below `root` uses openat2 with
// RESOLVE_BENEATH|RESOLVE_NO_SYMLINKS|RESOLVE_NO_MAGICLINKS, so neither "..", a symlink nor a
// magic link anywhere on the path can lead out of the root, and a path swapped for a symlink
// during the walk fails instead of being followed. The jail binds this fd, never the path.
// Throws JailError(Step::workspace) naming the problem (outside the root, symlink, not a
// directory, missing, the root itself).
UniqueFd open_workspace(const std::filesystem::path& root, const std::filesystem::path& requested);

}  // namespace ccjail
