#include "link/session_socket.hpp"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <cerrno>
#include <cstring>

#include "common/error.hpp"

namespace ccjail::link {
namespace {

struct sockaddr_un address_of(const std::filesystem::path& path) {
    struct sockaddr_un address {};
    address.sun_family = AF_UNIX;
    const std::string text = path.string();
    if (text.size() >= sizeof address.sun_path) {
        throw JailError(Step::supervise, ENAMETOOLONG, "socket path too long: " + text);
    }
    std::memcpy(address.sun_path, text.c_str(), text.size() + 1);
    return address;
}

UniqueFd seqpacket_socket(int flags) {
    UniqueFd fd(::socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | flags, 0));
    if (!fd) {
        throw_errno(Step::supervise, "socket");
    }
    return fd;
}

}  // namespace

UniqueFd listen_session_socket(const std::filesystem::path& path) {
    const struct sockaddr_un address = address_of(path);
    UniqueFd fd = seqpacket_socket(SOCK_NONBLOCK);
    // bind creates the file with the umask's mode: nobody but root may even see it open, from
    // the first instant (the SO_PEERCRED check stays the real gate).
    const mode_t saved = ::umask(0177);
    const int rc =
        ::bind(fd.get(), reinterpret_cast<const struct sockaddr*>(&address), sizeof address);
    const int bind_errno = errno;
    ::umask(saved);
    if (rc != 0) {
        errno = bind_errno;
        throw_errno(Step::supervise, "cannot bind " + path.string());
    }
    if (::listen(fd.get(), 8) != 0) {
        throw_errno(Step::supervise, "listen on " + path.string());
    }
    return fd;
}

std::optional<UniqueFd> accept_root_peer(int listener) {
    UniqueFd peer(::accept4(listener, nullptr, nullptr, SOCK_CLOEXEC));
    if (!peer) {
        return std::nullopt;
    }
    struct ucred credentials {};
    socklen_t length = sizeof credentials;
    if (::getsockopt(peer.get(), SOL_SOCKET, SO_PEERCRED, &credentials, &length) != 0 ||
        credentials.uid != 0) {
        return UniqueFd();
    }
    return peer;
}

UniqueFd connect_session_socket(const std::filesystem::path& path) {
    const struct sockaddr_un address = address_of(path);
    UniqueFd fd = seqpacket_socket(0);
    if (::connect(fd.get(), reinterpret_cast<const struct sockaddr*>(&address), sizeof address) !=
        0) {
        throw_errno(Step::supervise, "cannot connect to " + path.string());
    }
    return fd;
}

}  // namespace ccjail::link
