#pragma once

#include <sys/mount.h>

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/error.hpp"
#include "common/unique_fd.hpp"

namespace ccjail {

// Thin, error-reporting wrappers over the new mount API (open_tree, fsopen/fsmount, move_mount,
// mount_setattr). Each failure becomes JailError(step, errno, message naming the path).

// A detached copy of the mount at `path` (relative to dirfd; "" with dirfd alone).
UniqueFd clone_mount(Step step, int dirfd, const std::string& path, bool recursive);

// Sets and clears MOUNT_ATTR_* flags on a mount fd (recursively over submounts if asked).
void set_mount_attrs(Step step, int mount_fd, unsigned set, unsigned clear, bool recursive,
                     const std::string& what);

// A new, detached file system instance: fsopen(type) + fsconfig(options) + fsmount(attrs).
UniqueFd new_filesystem(Step step, const char* type,
                        const std::vector<std::pair<std::string, std::string>>& options,
                        unsigned attrs);

// Creates the mount point `jail_path` below root_fd (directories on the way, 0755) without ever
// following a symlink, and returns it as an O_PATH fd. `directory` picks a dir or an empty file.
UniqueFd make_mount_point(Step step, int root_fd, std::string_view jail_path, bool directory);

// Opens the parent directory of `jail_path` below root_fd (created as needed, no symlinks) and
// returns it with the last component's name.
std::pair<UniqueFd, std::string> open_parent(Step step, int root_fd, std::string_view jail_path);

// Attaches a detached mount onto a mount point fd.
void attach_mount(Step step, int mount_fd, int mount_point_fd, const std::string& what);

}  // namespace ccjail
