#include "jail/jail_channel.hpp"

#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace ccjail {
namespace {

bool send_with_control(int fd, const JailMessage& message, int attached_fd) {
    struct iovec iov = {const_cast<JailMessage*>(&message), sizeof message};
    struct msghdr header {};
    header.msg_iov = &iov;
    header.msg_iovlen = 1;
    alignas(struct cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
    if (attached_fd >= 0) {
        header.msg_control = control;
        header.msg_controllen = sizeof control;
        struct cmsghdr* cmsg = CMSG_FIRSTHDR(&header);
        cmsg->cmsg_level = SOL_SOCKET;
        cmsg->cmsg_type = SCM_RIGHTS;
        cmsg->cmsg_len = CMSG_LEN(sizeof(int));
        std::memcpy(CMSG_DATA(cmsg), &attached_fd, sizeof(int));
    }
    ssize_t n;
    do {
        n = ::sendmsg(fd, &header, MSG_NOSIGNAL);
    } while (n < 0 && errno == EINTR);
    return n == static_cast<ssize_t>(sizeof message);
}

}  // namespace

bool send_message(int fd, const JailMessage& message) {
    return send_with_control(fd, message, -1);
}

bool send_message_with_fd(int fd, const JailMessage& message, int attached_fd) {
    return send_with_control(fd, message, attached_fd);
}

std::optional<JailMessage> receive_message(int fd) {
    return receive_message(fd, nullptr);
}

std::optional<JailMessage> receive_message(int fd, UniqueFd* attached) {
    JailMessage message;
    struct iovec iov = {&message, sizeof message};
    struct msghdr header {};
    header.msg_iov = &iov;
    header.msg_iovlen = 1;
    alignas(struct cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
    header.msg_control = control;
    header.msg_controllen = sizeof control;
    ssize_t n;
    do {
        n = ::recvmsg(fd, &header, MSG_CMSG_CLOEXEC);
    } while (n < 0 && errno == EINTR);
    // An fd that arrives is ours to close whether or not the caller wanted it.
    UniqueFd received;
    for (struct cmsghdr* cmsg = CMSG_FIRSTHDR(&header); cmsg; cmsg = CMSG_NXTHDR(&header, cmsg)) {
        if (cmsg->cmsg_level == SOL_SOCKET && cmsg->cmsg_type == SCM_RIGHTS &&
            cmsg->cmsg_len == CMSG_LEN(sizeof(int))) {
            int fd_in = -1;
            std::memcpy(&fd_in, CMSG_DATA(cmsg), sizeof(int));
            received.reset(fd_in);
        }
    }
    if (n != static_cast<ssize_t>(sizeof message)) {
        return std::nullopt;
    }
    message.text[sizeof message.text - 1] = '\0';
    if (attached) {
        *attached = std::move(received);
    }
    return message;
}

JailMessage setup_failure_message(const JailError& error) {
    JailMessage message;
    message.type = JailMessageType::setup_failed;
    message.step = static_cast<std::int32_t>(error.step());
    message.err = error.err();
    const std::size_t length = std::min(std::strlen(error.what()), sizeof message.text - 1);
    std::memcpy(message.text, error.what(), length);
    return message;
}

}  // namespace ccjail
