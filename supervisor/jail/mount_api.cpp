#include "jail/mount_api.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

namespace ccjail {
namespace {

std::vector<std::string> components_of(Step step, std::string_view jail_path) {
    if (jail_path.empty() || jail_path.front() != '/') {
        throw JailError(step, EINVAL, "path \"" + std::string(jail_path) + "\" is not absolute");
    }
    std::vector<std::string> parts;
    std::size_t pos = 1;
    while (pos <= jail_path.size()) {
        const std::size_t next = std::min(jail_path.find('/', pos), jail_path.size());
        const std::string_view part = jail_path.substr(pos, next - pos);
        if (part == "." || part == "..") {
            throw JailError(
                step, EINVAL,
                "path \"" + std::string(jail_path) + "\" has \"" + std::string(part) + "\"");
        }
        if (!part.empty()) {
            parts.emplace_back(part);
        }
        pos = next + 1;
    }
    return parts;
}

// One level down, creating the directory if needed. O_NOFOLLOW on an O_PATH|O_DIRECTORY open
// fails with ENOTDIR on a symlink, so a link planted anywhere on the path stops the walk.
UniqueFd descend(Step step, int dir_fd, const std::string& name, std::string_view jail_path) {
    if (::mkdirat(dir_fd, name.c_str(), 0755) != 0 && errno != EEXIST) {
        throw_errno(step, "cannot create directory for " + std::string(jail_path));
    }
    const int fd = ::openat(dir_fd, name.c_str(), O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
        throw_errno(step, "cannot open " + name + " on the way to " + std::string(jail_path) +
                              " (a symlink or not a directory?)");
    }
    return UniqueFd(fd);
}

}  // namespace

UniqueFd clone_mount(Step step, int dirfd, const std::string& path, bool recursive) {
    unsigned flags = OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC;
    if (recursive) {
        flags |= AT_RECURSIVE;
    }
    if (path.empty()) {
        flags |= AT_EMPTY_PATH;
    }
    const int fd = ::open_tree(dirfd, path.c_str(), flags);
    if (fd < 0) {
        throw_errno(step, "cannot clone mount " + (path.empty() ? std::string("(by fd)") : path));
    }
    return UniqueFd(fd);
}

void set_mount_attrs(Step step, int mount_fd, unsigned set, unsigned clear, bool recursive,
                     const std::string& what) {
    struct mount_attr attr = {};
    attr.attr_set = set;
    attr.attr_clr = clear;
    attr.propagation = MS_PRIVATE;
    unsigned flags = AT_EMPTY_PATH;
    if (recursive) {
        flags |= AT_RECURSIVE;
    }
    if (::mount_setattr(mount_fd, "", flags, &attr, sizeof attr) != 0) {
        throw_errno(step, "cannot set mount flags on " + what);
    }
}

UniqueFd new_filesystem(Step step, const char* type,
                        const std::vector<std::pair<std::string, std::string>>& options,
                        unsigned attrs) {
    UniqueFd context(::fsopen(type, FSOPEN_CLOEXEC));
    if (!context) {
        throw_errno(step, std::string("fsopen(") + type + ")");
    }
    for (const auto& [key, value] : options) {
        const int rc =
            value.empty()
                ? ::fsconfig(context.get(), FSCONFIG_SET_FLAG, key.c_str(), nullptr, 0)
                : ::fsconfig(context.get(), FSCONFIG_SET_STRING, key.c_str(), value.c_str(), 0);
        if (rc != 0) {
            throw_errno(step, std::string(type) + ": option " + key + "=" + value);
        }
    }
    if (::fsconfig(context.get(), FSCONFIG_CMD_CREATE, nullptr, nullptr, 0) != 0) {
        throw_errno(step, std::string("cannot create ") + type);
    }
    const int fd = ::fsmount(context.get(), FSMOUNT_CLOEXEC, attrs);
    if (fd < 0) {
        throw_errno(step, std::string("fsmount(") + type + ")");
    }
    return UniqueFd(fd);
}

std::pair<UniqueFd, std::string> open_parent(Step step, int root_fd, std::string_view jail_path) {
    auto parts = components_of(step, jail_path);
    if (parts.empty()) {
        throw JailError(step, EINVAL, "\"/\" cannot be a target");
    }
    UniqueFd dir(::fcntl(root_fd, F_DUPFD_CLOEXEC, 3));
    if (!dir) {
        throw_errno(step, "dup");
    }
    for (std::size_t i = 0; i + 1 < parts.size(); ++i) {
        dir = descend(step, dir.get(), parts[i], jail_path);
    }
    return {std::move(dir), parts.back()};
}

UniqueFd make_mount_point(Step step, int root_fd, std::string_view jail_path, bool directory) {
    auto [parent, name] = open_parent(step, root_fd, jail_path);
    if (directory) {
        return descend(step, parent.get(), name, jail_path);
    }
    UniqueFd file(
        ::openat(parent.get(), name.c_str(), O_CREAT | O_WRONLY | O_NOFOLLOW | O_CLOEXEC, 0644));
    if (!file) {
        throw_errno(step, "cannot create mount point " + std::string(jail_path));
    }
    const int fd = ::openat(parent.get(), name.c_str(), O_PATH | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
        throw_errno(step, "cannot open mount point " + std::string(jail_path));
    }
    return UniqueFd(fd);
}

void attach_mount(Step step, int mount_fd, int mount_point_fd, const std::string& what) {
    if (::move_mount(mount_fd, "", mount_point_fd, "",
                     MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) != 0) {
        throw_errno(step, "cannot mount " + what);
    }
}

}  // namespace ccjail
