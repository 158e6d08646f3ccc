#include "jail/identity_map.hpp"

#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <limits>
#include <nlohmann/json.hpp>
#include <set>
#include <string>

#include "common/error.hpp"
#include "jail/state_file.hpp"

namespace ccjail {
namespace {

constexpr std::size_t kMaxLabelLength = 64;

// (uid_t)-1 means "unchanged" to setresuid and chown; it can never be an identity.
constexpr std::uint64_t kUidLimit = std::numeric_limits<uid_t>::max();

bool label_lead_char(char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

bool label_char(char c) {
    return label_lead_char(c) || c == '.' || c == '_' || c == '-';
}

void check_range(uid_t first, std::uint32_t count) {
    if (first == 0) {
        throw JailError(Step::identity_map, EINVAL, "uid range must not include uid 0 (root)");
    }
    if (count == 0) {
        throw JailError(Step::identity_map, EINVAL, "uid range is empty");
    }
    if (static_cast<std::uint64_t>(first) + count > kUidLimit) {
        throw JailError(Step::identity_map, EINVAL,
                        "uid range starting at " + std::to_string(first) +
                            " reaches uid 4294967295, which is not a valid identity");
    }
}

std::string range_text(uid_t first, std::uint32_t count) {
    return "[" + std::to_string(first) + ", " +
           std::to_string(static_cast<std::uint64_t>(first) + count) + ")";
}

[[noreturn]] void corrupt(const std::filesystem::path& map_file, const std::string& why) {
    throw JailError(Step::identity_map, 0,
                    "identity map " + map_file.string() + " is corrupt: " + why);
}

// Every entry must be one a previous allocation could have written; anything else means the
// file was edited by hand or damaged, and allocating on top of it could hand out a uid twice.
std::set<uid_t> used_uids(const nlohmann::json& map, const std::filesystem::path& map_file) {
    std::set<uid_t> used;
    for (const auto& [label, value] : map.items()) {
        if (!valid_user_label(label)) {
            corrupt(map_file, "invalid user label \"" + label + "\"");
        }
        if (!value.is_number_unsigned() || value.get<std::uint64_t>() == 0 ||
            value.get<std::uint64_t>() >= kUidLimit) {
            corrupt(map_file, "the uid of \"" + label + "\" is not a valid uid");
        }
        if (!used.insert(value.get<uid_t>()).second) {
            corrupt(map_file, "uid " + value.dump() + " is given to more than one label");
        }
    }
    return used;
}

uid_t lowest_free(const std::set<uid_t>& used, uid_t first, std::uint32_t count) {
    const std::uint64_t end = static_cast<std::uint64_t>(first) + count;
    for (std::uint64_t uid = first; uid < end; ++uid) {
        if (!used.contains(static_cast<uid_t>(uid))) {
            return static_cast<uid_t>(uid);
        }
    }
    throw JailError(Step::identity_map, ENOSPC,
                    "uid range " + range_text(first, count) + " is exhausted");
}

// Homes and per-user workspaces share the rules below; `Kind` names which one an error is about.
struct Kind {
    Step step;
    std::string word;
};

[[noreturn]] void refuse(const Kind& kind, int err, const std::string& message) {
    throw JailError(kind.step, err, kind.word + ": " + message);
}

// Anyone who can write to the homes root could pre-create a user's home with content of their
// choosing before we chown it over to that user.
UniqueFd open_homes_root(const std::filesystem::path& homes_root, const Kind& kind) {
    make_directories(homes_root, 0711, kind.step);
    const int fd = ::open(homes_root.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) {
        throw_errno(kind.step, kind.word + ": cannot open the homes root " + homes_root.string());
    }
    UniqueFd root(fd);
    struct stat st {};
    if (::fstat(root.get(), &st) != 0) {
        throw_errno(kind.step, kind.word + ": cannot stat the homes root " + homes_root.string());
    }
    if (!trusted_owner_and_mode(st)) {
        refuse(kind, EPERM,
               "the root " + homes_root.string() + " must be owned by uid " +
                   std::to_string(::geteuid()) + " and not writable by group or others");
    }
    return root;
}

// O_NOFOLLOW is not used: with O_PATH it would hand back the symlink itself. RESOLVE_NO_SYMLINKS
// makes a symlink planted at the label fail with ELOOP instead.
UniqueFd open_home(int root_fd, const std::string& label, const std::string& name,
                   const Kind& kind) {
    open_how how{};
    how.flags = O_PATH | O_DIRECTORY | O_CLOEXEC;
    how.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS;
    const long fd = ::syscall(SYS_openat2, root_fd, label.c_str(), &how, sizeof how);
    if (fd < 0) {
        const int err = errno;
        if (err == ELOOP) {
            refuse(kind, err, name + " is a symbolic link");
        }
        if (err == ENOTDIR) {
            refuse(kind, err, name + " is not a directory");
        }
        refuse(kind, err, "cannot open " + name + ": " + std::strerror(err));
    }
    return UniqueFd(static_cast<int>(fd));
}

// fchmodat has no AT_EMPTY_PATH before fchmodat2 (Linux 6.6), so the mode is set through a
// read-only descriptor reopened from the O_PATH one: still the same inode, never the path.
void set_mode(int home_fd, mode_t mode, const std::string& name, const Kind& kind) {
    const int fd = ::openat(home_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) {
        throw_errno(kind.step, kind.word + ": cannot reopen " + name);
    }
    const UniqueFd dir(fd);
    if (::fchmod(dir.get(), mode) != 0) {
        throw_errno(kind.step, kind.word + ": cannot set the mode of " + name);
    }
}

}  // namespace

bool valid_user_label(std::string_view label) {
    if (label.empty() || label.size() > kMaxLabelLength || !label_lead_char(label.front())) {
        return false;
    }
    for (const char c : label) {
        if (!label_char(c)) {
            return false;
        }
    }
    return true;
}

uid_t uid_for_label(const std::filesystem::path& map_file, std::string_view label, uid_t first,
                    std::uint32_t count) {
    if (!valid_user_label(label)) {
        throw JailError(Step::identity_map, EINVAL, "invalid user label");
    }
    check_range(first, count);

    const LockedStateFile state(map_file, Step::identity_map);
    nlohmann::json map = state.read(UntrustedState::refuse);
    const std::set<uid_t> used = used_uids(map, map_file);

    const std::string key(label);
    if (const auto it = map.find(key); it != map.end()) {
        const auto uid = it->get<uid_t>();
        // Handing the label a fresh uid would orphan its home and files; keeping the old one
        // while it lies outside the range could collide with whatever now owns that uid. Only
        // the admin can tell which is right.
        if (static_cast<std::uint64_t>(uid) < first ||
            static_cast<std::uint64_t>(uid) >= static_cast<std::uint64_t>(first) + count) {
            throw JailError(Step::identity_map, ERANGE,
                            "user label \"" + key + "\" has uid " + std::to_string(uid) + " in " +
                                map_file.string() + ", outside the configured range " +
                                range_text(first, count) +
                                "; remove the entry to give the label a new uid");
        }
        return uid;
    }

    const uid_t uid = lowest_free(used, first, count);
    map[key] = uid;
    state.write(map);
    return uid;
}

static UniqueFd prepare_user_directory(const std::filesystem::path& homes_root,
                                       std::string_view label, uid_t uid, gid_t gid,
                                       const Kind& kind) {
    if (!valid_user_label(label)) {
        refuse(kind, EINVAL, "invalid user label");
    }
    const std::string name_label(label);
    const std::string name = (homes_root / name_label).string();
    const UniqueFd root = open_homes_root(homes_root, kind);

    if (::mkdirat(root.get(), name_label.c_str(), 0700) != 0 && errno != EEXIST) {
        throw_errno(kind.step, kind.word + ": cannot create " + name);
    }
    UniqueFd home = open_home(root.get(), name_label, name, kind);

    struct stat st {};
    if (::fstat(home.get(), &st) != 0) {
        throw_errno(kind.step, kind.word + ": cannot stat " + name);
    }
    if (!S_ISDIR(st.st_mode)) {
        refuse(kind, ENOTDIR, name + " is not a directory");
    }
    // Narrow the mode before handing the directory over, so that no other user can slip in
    // between the two changes.
    if ((st.st_mode & 07777) != 0700) {
        set_mode(home.get(), 0700, name, kind);
    }
    if (st.st_uid != uid || st.st_gid != gid) {
        if (::fchownat(home.get(), "", uid, gid, AT_EMPTY_PATH) != 0) {
            throw_errno(kind.step, kind.word + ": cannot give " + name + " to " +
                                       std::to_string(uid) + ":" + std::to_string(gid));
        }
    }
    return home;
}

UniqueFd prepare_home(const std::filesystem::path& homes_root, std::string_view label, uid_t uid,
                      gid_t gid) {
    return prepare_user_directory(homes_root, label, uid, gid, Kind{Step::home, "home"});
}

UniqueFd prepare_user_workspace(const std::filesystem::path& workspace_root, std::string_view label,
                                uid_t uid, gid_t gid) {
    return prepare_user_directory(workspace_root, label, uid, gid,
                                  Kind{Step::workspace, "workspace"});
}

}  // namespace ccjail
