#include "cgroup/cgroup_files.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstring>
#include <thread>

#include "cgroup/cgroup.hpp"
#include "common/unique_fd.hpp"

namespace ccjail::cgroup_fs {
namespace {

[[noreturn]] void throw_file_error(Step step, int err, const std::string& action,
                                   const std::filesystem::path& file) {
    throw JailError(step, err,
                    action + " " + file.string() + ": " + std::strerror(err) + " (errno " +
                        std::to_string(err) + ")");
}

UniqueFd open_file(const std::filesystem::path& file, int flags) {
    return UniqueFd(::open(file.c_str(), flags | O_CLOEXEC | O_NOCTTY));
}

std::string read_all(int fd, const std::filesystem::path& file, Step step) {
    std::string text;
    char buffer[4096];
    for (;;) {
        const ssize_t n = ::read(fd, buffer, sizeof buffer);
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            throw_file_error(step, errno, "cannot read", file);
        }
        if (n == 0) {
            return text;
        }
        text.append(buffer, static_cast<std::size_t>(n));
    }
}

}  // namespace

std::string read_file(const std::filesystem::path& file, Step step) {
    const UniqueFd fd = open_file(file, O_RDONLY);
    if (!fd) {
        throw_file_error(step, errno, "cannot open", file);
    }
    return read_all(fd.get(), file, step);
}

std::optional<std::string> read_file_if_exists(const std::filesystem::path& file, Step step) {
    const UniqueFd fd = open_file(file, O_RDONLY);
    if (!fd) {
        if (errno == ENOENT) {
            return std::nullopt;
        }
        throw_file_error(step, errno, "cannot open", file);
    }
    return read_all(fd.get(), file, step);
}

namespace {

// -1 with errno set on failure, like the system calls it wraps.
int write_once(const std::filesystem::path& file, std::string_view value) {
    const UniqueFd fd = open_file(file, O_WRONLY);
    if (!fd) {
        return -1;
    }
    ssize_t n;
    do {
        n = ::write(fd.get(), value.data(), value.size());
    } while (n < 0 && errno == EINTR);
    if (n < 0) {
        return -1;
    }
    if (static_cast<std::size_t>(n) != value.size()) {
        errno = EIO;
        return -1;
    }
    return 0;
}

}  // namespace

void write_file(const std::filesystem::path& file, std::string_view value, Step step) {
    if (write_once(file, value) < 0) {
        throw_file_error(step, errno, "cannot write '" + std::string(value) + "' to", file);
    }
}

bool write_file_if_exists(const std::filesystem::path& file, std::string_view value, Step step) {
    if (write_once(file, value) < 0) {
        if (errno == ENOENT) {
            return false;
        }
        throw_file_error(step, errno, "cannot write '" + std::string(value) + "' to", file);
    }
    return true;
}

std::uint64_t read_key(const std::filesystem::path& file, std::string_view key) {
    const auto text = read_file_if_exists(file);
    if (!text) {
        return 0;
    }
    const auto values = parse_flat_keyed(*text);
    const auto it = values.find(std::string(key));
    return it == values.end() ? 0 : it->second;
}

std::uint64_t read_number(const std::filesystem::path& file) {
    const auto text = read_file_if_exists(file);
    if (!text) {
        return 0;
    }
    std::uint64_t value = 0;
    const char* end = text->data() + text->size();
    const auto [ptr, ec] = std::from_chars(text->data(), end, value);
    if (ec != std::errc() || (ptr != end && *ptr != '\n')) {
        return 0;
    }
    return value;
}

std::vector<pid_t> read_procs(const std::filesystem::path& dir) {
    std::vector<pid_t> pids;
    const auto text = read_file_if_exists(dir / "cgroup.procs");
    if (!text) {
        return pids;
    }
    std::string_view rest = *text;
    while (!rest.empty()) {
        const auto eol = rest.find('\n');
        const std::string_view line = rest.substr(0, eol);
        rest = eol == std::string_view::npos ? std::string_view() : rest.substr(eol + 1);
        pid_t pid = 0;
        const auto [ptr, ec] = std::from_chars(line.data(), line.data() + line.size(), pid);
        if (ec == std::errc() && ptr == line.data() + line.size() && pid > 0) {
            pids.push_back(pid);
        }
    }
    return pids;
}

bool make_dir(const std::filesystem::path& dir) {
    if (::mkdir(dir.c_str(), 0755) == 0) {
        return true;
    }
    if (errno == EEXIST) {
        return false;
    }
    throw_file_error(Step::cgroup, errno, "cannot create", dir);
}

void make_new_dir(const std::filesystem::path& dir) {
    if (::mkdir(dir.c_str(), 0755) != 0) {
        throw_file_error(Step::cgroup, errno, "cannot create", dir);
    }
}

bool is_dir(const std::filesystem::path& dir) {
    struct stat info {};
    return ::stat(dir.c_str(), &info) == 0 && S_ISDIR(info.st_mode);
}

bool remove_dir(const std::filesystem::path& dir, std::chrono::milliseconds timeout) {
    poll_until(
        [&] {
            if (::rmdir(dir.c_str()) == 0 || errno == ENOENT) {
                return true;
            }
            // Only EBUSY clears by itself (a task still exiting); nothing else will.
            return errno != EBUSY;
        },
        timeout);
    struct stat info {};
    return ::lstat(dir.c_str(), &info) != 0 && errno == ENOENT;
}

std::optional<std::int64_t> fs_magic(const std::filesystem::path& file) {
    struct statfs info {};
    if (::statfs(file.c_str(), &info) != 0) {
        return std::nullopt;
    }
    return static_cast<std::int64_t>(info.f_type);
}

void sleep_briefly(unsigned round) {
    const auto step = std::chrono::microseconds(100L << std::min(round, 6u));
    std::this_thread::sleep_for(
        std::min<std::chrono::microseconds>(step, std::chrono::milliseconds(5)));
}

}  // namespace ccjail::cgroup_fs
