#include "jail/home_seed.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <string>

#include "common/error.hpp"
#include "common/unique_fd.hpp"

namespace ccjail {
namespace {

// The user's own changes (a link, a file where a directory was) decide: the seed is skipped.
bool user_made_it_something_else(int err) {
    return err == ELOOP || err == ENOTDIR || err == EEXIST;
}

// Opens (creating when missing) the directory `name` below `parent`; empty when the user put
// something else there.
UniqueFd open_or_make_directory(int parent, const std::string& name, uid_t uid, gid_t gid,
                                const std::string& shown) {
    if (::mkdirat(parent, name.c_str(), 0700) == 0) {
        if (::fchownat(parent, name.c_str(), uid, gid, AT_SYMLINK_NOFOLLOW) != 0) {
            throw_errno(Step::home, "home seed: cannot give " + shown + " to the jail's user");
        }
    } else if (errno != EEXIST) {
        throw_errno(Step::home, "home seed: cannot create " + shown);
    }
    UniqueFd dir(::openat(parent, name.c_str(), O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!dir && !user_made_it_something_else(errno)) {
        throw_errno(Step::home, "home seed: cannot open " + shown);
    }
    return dir;
}

void write_all(int fd, const std::string& content, const std::string& shown) {
    std::size_t done = 0;
    while (done < content.size()) {
        const ssize_t n = ::write(fd, content.data() + done, content.size() - done);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            throw_errno(Step::home, "home seed: cannot write " + shown);
        }
        done += static_cast<std::size_t>(n);
    }
}

void seed_one(int home_fd, const HomeSeedFile& file, uid_t uid, gid_t gid) {
    UniqueFd parent;
    int at = home_fd;
    std::size_t start = 0;
    for (std::size_t slash = file.path.find('/'); slash != std::string::npos;
         slash = file.path.find('/', start)) {
        const std::string name = file.path.substr(start, slash - start);
        parent = open_or_make_directory(at, name, uid, gid, "~/" + file.path.substr(0, slash));
        if (!parent) {
            return;
        }
        at = parent.get();
        start = slash + 1;
    }
    const std::string name = file.path.substr(start);
    const std::string shown = "~/" + file.path;
    UniqueFd out(::openat(at, name.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
                          file.mode & 0777));
    if (!out) {
        if (user_made_it_something_else(errno)) {
            return;
        }
        throw_errno(Step::home, "home seed: cannot create " + shown);
    }
    // The umask must not narrow the profile's mode, and the owner is the jail's user.
    if (::fchmod(out.get(), file.mode & 0777) != 0 || ::fchown(out.get(), uid, gid) != 0) {
        throw_errno(Step::home, "home seed: cannot set the owner and mode of " + shown);
    }
    write_all(out.get(), file.content, shown);
}

}  // namespace

void seed_home(int home_fd, const std::vector<HomeSeedFile>& files, uid_t uid, gid_t gid) {
    for (const auto& file : files) {
        seed_one(home_fd, file, uid, gid);
    }
}

}  // namespace ccjail
