#include "server/gateway_key.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

#include "common/unique_fd.hpp"

namespace ccjail::server {
namespace {

constexpr std::size_t kMaxKeyBytes = 4096;

[[noreturn]] void refuse(const std::filesystem::path& path, const std::string& why) {
    throw std::runtime_error("gateway key file " + path.string() + ": " + why);
}

bool printable_ascii(const std::string& text) {
    for (const char c : text) {
        if (c < 0x21 || c > 0x7e) {
            return false;
        }
    }
    return true;
}

}  // namespace

std::string read_gateway_key(const std::filesystem::path& path) {
    UniqueFd fd(::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY));
    if (!fd) {
        refuse(path, std::strerror(errno));
    }
    struct stat st {};
    if (::fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode)) {
        refuse(path, "not a regular file");
    }
    if (st.st_uid != 0 || (st.st_mode & 077) != 0) {
        refuse(path, "must be owned by root and unreadable by group and others (chmod 0600)");
    }
    std::string key(kMaxKeyBytes + 1, '\0');
    std::size_t size = 0;
    while (size < key.size()) {
        const ssize_t n = ::read(fd.get(), key.data() + size, key.size() - size);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            refuse(path, std::strerror(errno));
        }
        if (n == 0) {
            break;
        }
        size += static_cast<std::size_t>(n);
    }
    if (size > kMaxKeyBytes) {
        refuse(path, "larger than 4 KiB");
    }
    key.resize(size);
    while (!key.empty() &&
           (key.back() == '\n' || key.back() == '\r' || key.back() == ' ' || key.back() == '\t')) {
        key.pop_back();
    }
    if (key.empty()) {
        refuse(path, "is empty");
    }
    if (!printable_ascii(key)) {
        refuse(path, "holds characters other than printable ASCII");
    }
    return key;
}

}  // namespace ccjail::server
