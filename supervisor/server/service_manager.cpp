#include "server/service_manager.hpp"

#include <fcntl.h>
#include <sys/socket.h>
#include <systemd/sd-daemon.h>

#include <string>

#include "common/error.hpp"

namespace ccjail::server {
namespace {

std::string status_line(std::size_t sessions) {
    return "STATUS=" + std::to_string(sessions) + (sessions == 1 ? " session" : " sessions");
}

}  // namespace

void notify_ready(std::size_t sessions) {
    ::sd_notify(0, ("READY=1\n" + status_line(sessions)).c_str());
}

void notify_status(std::size_t sessions) {
    ::sd_notify(0, status_line(sessions).c_str());
}

void notify_holding(const std::string& parent) {
    ::sd_notify(0, ("READY=1\nSTATUS=holding " + parent + " for ccjail's jails").c_str());
}

void notify_stopping() {
    ::sd_notify(0, "STOPPING=1\nSTATUS=stopping: ending every session");
}

std::optional<UniqueFd> activated_socket() {
    const int count = ::sd_listen_fds(1);
    if (count < 0) {
        throw JailError(Step::supervise, -count, "sd_listen_fds");
    }
    if (count == 0) {
        return std::nullopt;
    }
    const int fd = SD_LISTEN_FDS_START;
    if (count != 1 || ::sd_is_socket_unix(fd, SOCK_STREAM, 1, nullptr, 0) <= 0) {
        throw JailError(Step::supervise, EINVAL,
                        "socket activation passed " + std::to_string(count) +
                            " descriptors; ccjaild takes exactly one listening AF_UNIX stream "
                            "socket (ListenStream= in ccjaild.socket)");
    }
    ::fcntl(fd, F_SETFD, FD_CLOEXEC);
    return UniqueFd(fd);
}

}  // namespace ccjail::server
