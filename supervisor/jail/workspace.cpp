#include "jail/workspace.hpp"
#include "common/text.hpp"

#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstring>
#include <string>
#include <vector>

#include "common/error.hpp"

namespace ccjail {
namespace {

// RESOLVE_BENEATH makes openat2 fail with EAGAIN when a rename or mount anywhere in the system
// raced with the walk; it is a transient condition, not an attack verdict.
constexpr int kOpenAttempts = 8;

[[noreturn]] void refuse(int err, const std::string& message) {
    throw JailError(Step::workspace, err, "workspace: " + message);
}

void check_characters(const std::filesystem::path& requested) {
    const std::string& text = requested.native();
    if (text.empty()) {
        refuse(EINVAL, "the requested path is empty");
    }
    if (text.size() >= PATH_MAX) {
        refuse(ENAMETOOLONG, "the requested path is longer than PATH_MAX");
    }
    if (has_control_character(text)) {
        refuse(EINVAL, "the requested path contains a NUL or control character");
    }
}

// ".." is refused even where it would stay inside the root: the lexical check below would
// otherwise have to agree with the kernel's view of "..", which symlinks make differ.
void check_no_dotdot(const std::filesystem::path& requested) {
    for (const auto& part : requested) {
        if (part == "..") {
            refuse(EINVAL, requested.string() + " contains a \"..\" component");
        }
    }
}

// The components of `path` after lexical normalization, without the empty name a trailing
// slash leaves behind.
std::vector<std::filesystem::path> components(const std::filesystem::path& path) {
    std::vector<std::filesystem::path> parts;
    for (const auto& part : path.lexically_normal()) {
        if (!part.empty() && part != ".") {
            parts.push_back(part);
        }
    }
    return parts;
}

// The part of `requested` below `root`, as a relative path for openat2.
std::filesystem::path relative_below_root(const std::filesystem::path& root,
                                          const std::filesystem::path& requested) {
    const auto wanted = components(requested);
    std::size_t skip = 0;
    if (requested.is_absolute()) {
        const auto base = components(root);
        if (wanted.size() < base.size() || !std::equal(base.begin(), base.end(), wanted.begin())) {
            refuse(EXDEV, requested.string() + " is outside the workspace root " + root.string());
        }
        skip = base.size();
    }
    std::filesystem::path rel;
    for (std::size_t i = skip; i < wanted.size(); ++i) {
        rel /= wanted[i];
    }
    if (rel.empty()) {
        refuse(EINVAL,
               requested.string() + " is the workspace root itself, not a directory below it");
    }
    return rel;
}

// The root is admin configuration: symlinks in its own path are the admin's choice and are
// followed. Only the walk below it, which a user's request steers, is confined.
UniqueFd open_root(const std::filesystem::path& root) {
    if (!root.is_absolute()) {
        refuse(EINVAL, "the workspace root " + root.string() + " is not an absolute path");
    }
    const int fd = ::open(root.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) {
        const int err = errno;
        refuse(err, "cannot open the workspace root " + root.string() + ": " + std::strerror(err));
    }
    return UniqueFd(fd);
}

// RESOLVE_NO_XDEV is deliberately not set: a workspace that is its own mount (a per-user volume
// or bind mount the admin placed below the root) is legitimate, only root can create mounts, and
// RESOLVE_BENEATH already keeps the walk below the root whichever file system it crosses.
int openat2_beneath(int root_fd, const std::filesystem::path& rel) {
    open_how how{};
    how.flags = O_PATH | O_DIRECTORY | O_CLOEXEC;
    how.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS;
    for (int attempt = 0;; ++attempt) {
        const long fd = ::syscall(SYS_openat2, root_fd, rel.c_str(), &how, sizeof how);
        if (fd >= 0 || errno != EAGAIN || attempt + 1 >= kOpenAttempts) {
            return static_cast<int>(fd);
        }
    }
}

[[noreturn]] void refuse_open(int err, const std::filesystem::path& requested) {
    const std::string name = requested.string();
    switch (err) {
        case ELOOP:
            refuse(err, name + " goes through a symbolic link");
        case EXDEV:
            refuse(err, name + " escapes the workspace root");
        case ENOENT:
            refuse(err, name + " does not exist");
        case ENOTDIR:
            refuse(err, name + " is not a directory");
        case EAGAIN:
            refuse(err, name + " kept being renamed while it was opened");
        case ENOSYS:
            refuse(err, "the kernel has no openat2 (Linux 5.6 or later is required)");
        default:
            refuse(err, "cannot open " + name + ": " + std::strerror(err));
    }
}

}  // namespace

UniqueFd open_workspace(const std::filesystem::path& root, const std::filesystem::path& requested) {
    check_characters(requested);
    check_no_dotdot(requested);
    const std::filesystem::path rel = relative_below_root(root, requested);
    const UniqueFd root_fd = open_root(root);

    const int fd = openat2_beneath(root_fd.get(), rel);
    if (fd < 0) {
        refuse_open(errno, requested);
    }
    UniqueFd workspace(fd);
    struct stat st {};
    if (::fstat(workspace.get(), &st) != 0) {
        throw_errno(Step::workspace, "workspace: cannot stat " + requested.string());
    }
    if (!S_ISDIR(st.st_mode)) {
        refuse(ENOTDIR, requested.string() + " is not a directory");
    }
    return workspace;
}

}  // namespace ccjail
