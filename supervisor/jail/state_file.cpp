#include "jail/state_file.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <nlohmann/json.hpp>
#include <string>

namespace ccjail {
namespace {

// The files are small maps; anything larger is not ours and must not make the root daemon
// allocate without bound.
constexpr off_t kMaxStateBytes = 16 * 1024 * 1024;

UniqueFd open_parent_directory(const std::filesystem::path& parent, Step step) {
    const int fd = ::open(parent.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) {
        throw_errno(step, "cannot open state directory " + parent.string());
    }
    return UniqueFd(fd);
}

void lock_exclusive(int fd, Step step, const std::string& what) {
    while (::flock(fd, LOCK_EX) != 0) {
        if (errno != EINTR) {
            throw_errno(step, "cannot lock " + what);
        }
    }
}

std::string read_all(int fd, Step step, const std::string& what) {
    std::string text;
    char buffer[8192];
    for (;;) {
        const ssize_t n = ::read(fd, buffer, sizeof buffer);
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            throw_errno(step, "cannot read " + what);
        }
        if (n == 0) {
            return text;
        }
        text.append(buffer, static_cast<size_t>(n));
        if (static_cast<off_t>(text.size()) > kMaxStateBytes) {
            throw JailError(step, EFBIG, what + " is larger than any state file we write");
        }
    }
}

void write_all(int fd, const std::string& text, Step step, const std::string& what) {
    size_t done = 0;
    while (done < text.size()) {
        const ssize_t n = ::write(fd, text.data() + done, text.size() - done);
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            throw_errno(step, "cannot write " + what);
        }
        done += static_cast<size_t>(n);
    }
}

}  // namespace

bool trusted_owner_and_mode(const struct stat& st) {
    return st.st_uid == ::geteuid() && (st.st_mode & (S_IWGRP | S_IWOTH)) == 0;
}

void make_directories(const std::filesystem::path& path, mode_t mode, Step step) {
    if (path.empty()) {
        throw JailError(step, EINVAL, "empty directory path");
    }
    std::filesystem::path prefix;
    for (const auto& part : path.lexically_normal()) {
        prefix /= part;
        if (part.empty() || part == ".") {
            continue;
        }
        if (::mkdir(prefix.c_str(), mode) == 0) {
            // mkdir's mode is filtered through the umask of whoever started the daemon.
            if (::chmod(prefix.c_str(), mode) != 0) {
                throw_errno(step, "cannot set the mode of " + prefix.string());
            }
        } else if (errno != EEXIST) {
            throw_errno(step, "cannot create directory " + prefix.string());
        }
    }
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0) {
        throw_errno(step, "cannot stat directory " + path.string());
    }
    if (!S_ISDIR(st.st_mode)) {
        throw JailError(step, ENOTDIR, path.string() + " is not a directory");
    }
}

LockedStateFile::LockedStateFile(const std::filesystem::path& path, Step step)
    : path_(path), name_(path.filename().string()), step_(step) {
    if (name_.empty() || name_ == "." || name_ == "..") {
        throw JailError(step, EINVAL, "state file path " + path.string() + " names no file");
    }
    std::filesystem::path parent = path.parent_path();
    if (parent.empty()) {
        parent = ".";
    }
    make_directories(parent, 0700, step);
    dir_ = open_parent_directory(parent, step);

    // O_NOFOLLOW: a planted symlink must not make root create or lock a file elsewhere.
    const std::string lock_name = name_ + ".lock";
    const int fd =
        ::openat(dir_.get(), lock_name.c_str(), O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0) {
        throw_errno(step, "cannot open lock file " + path.string() + ".lock");
    }
    lock_.reset(fd);
    lock_exclusive(lock_.get(), step, path.string() + ".lock");
}

nlohmann::json LockedStateFile::read(UntrustedState policy) const {
    const std::string what = "state file " + path_.string();
    auto reject = [&](const std::string& why) {
        if (policy == UntrustedState::refuse) {
            throw JailError(step_, 0, what + " " + why);
        }
        return nlohmann::json::object();
    };

    // O_NONBLOCK: a FIFO planted under the name must not hang the daemon in open().
    const int raw =
        ::openat(dir_.get(), name_.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    if (raw < 0) {
        if (errno == ENOENT) {
            return nlohmann::json::object();
        }
        if (errno == ELOOP) {
            return reject("is a symbolic link");
        }
        throw_errno(step_, "cannot open " + what);
    }
    const UniqueFd fd(raw);
    struct stat st {};
    if (::fstat(fd.get(), &st) != 0) {
        throw_errno(step_, "cannot stat " + what);
    }
    if (!S_ISREG(st.st_mode)) {
        return reject("is not a regular file");
    }
    if (!trusted_owner_and_mode(st)) {
        return reject("must be owned by uid " + std::to_string(::geteuid()) +
                      " and not writable by group or others");
    }
    if (st.st_size > kMaxStateBytes) {
        return reject("is too large");
    }
    const std::string text = read_all(fd.get(), step_, what);
    nlohmann::json value = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
    if (value.is_discarded()) {
        return reject("is corrupt: not valid JSON");
    }
    if (!value.is_object()) {
        return reject("is corrupt: not a JSON object");
    }
    return value;
}

void LockedStateFile::write(const nlohmann::json& object) const {
    const std::string tmp_name = name_ + ".tmp";
    const std::string tmp_what = path_.string() + ".tmp";
    // A leftover from a crash is ours to discard; O_EXCL below then refuses anything that
    // appears under the name in between (a symlink included) instead of writing through it.
    if (::unlinkat(dir_.get(), tmp_name.c_str(), 0) != 0 && errno != ENOENT) {
        throw_errno(step_, "cannot remove stale " + tmp_what);
    }
    const int raw = ::openat(dir_.get(), tmp_name.c_str(),
                             O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (raw < 0) {
        throw_errno(step_, "cannot create " + tmp_what);
    }
    UniqueFd fd(raw);
    try {
        write_all(fd.get(), object.dump(2) + "\n", step_, tmp_what);
        if (::fsync(fd.get()) != 0) {
            throw_errno(step_, "cannot fsync " + tmp_what);
        }
        fd.reset();
        if (::renameat(dir_.get(), tmp_name.c_str(), dir_.get(), name_.c_str()) != 0) {
            throw_errno(step_, "cannot rename " + tmp_what + " to " + path_.string());
        }
    } catch (...) {
        ::unlinkat(dir_.get(), tmp_name.c_str(), 0);
        throw;
    }
    // The rename is only durable once the directory entry is on disk.
    if (::fsync(dir_.get()) != 0) {
        throw_errno(step_, "cannot fsync the directory of " + path_.string());
    }
}

}  // namespace ccjail
