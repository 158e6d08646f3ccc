#pragma once

#include <sys/types.h>

#include <vector>

#include "profile/profile.hpp"

namespace ccjail {

// Creates each of `files` below the home open as `home_fd` (any fd of the directory, O_PATH
// will do) when nothing is at its path yet, owned by uid:gid, missing parent directories made
// 0700. The home is writable by earlier sessions of the same user, so every step refuses to
// follow a symlink (O_NOFOLLOW, O_EXCL): a seed whose path the user replaced with a link or a
// non-directory is skipped, never written through. Throws JailError(Step::home) only on host
// failures (ENOSPC, EIO, ...).
void seed_home(int home_fd, const std::vector<HomeSeedFile>& files, uid_t uid, gid_t gid);

}  // namespace ccjail
