#include "jail/egress_listener.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <string>

#include "common/error.hpp"

namespace ccjail {
namespace {

// Connections wait here while the daemon is busy; beyond it the kernel refuses them, which
// bounds what one jail can queue on the daemon.
constexpr int kBacklog = 64;

}  // namespace

UniqueFd open_loopback_listener(std::uint16_t port) {
    UniqueFd listener(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (!listener) {
        throw_errno(Step::network, "socket(AF_INET) for the egress listener");
    }
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(port);
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    const std::string where = "127.0.0.1:" + std::to_string(port);
    if (::bind(listener.get(), reinterpret_cast<const sockaddr*>(&address), sizeof address) != 0) {
        throw_errno(Step::network, "cannot bind the egress listener to " + where);
    }
    if (::listen(listener.get(), kBacklog) != 0) {
        throw_errno(Step::network, "cannot listen on " + where);
    }
    return listener;
}

}  // namespace ccjail
