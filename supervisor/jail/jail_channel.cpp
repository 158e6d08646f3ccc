#include "jail/jail_channel.hpp"

#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace ccjail {

bool send_message(int fd, const JailMessage& message) {
    ssize_t n;
    do {
        n = ::send(fd, &message, sizeof message, MSG_NOSIGNAL);
    } while (n < 0 && errno == EINTR);
    return n == static_cast<ssize_t>(sizeof message);
}

std::optional<JailMessage> receive_message(int fd) {
    JailMessage message;
    ssize_t n;
    do {
        n = ::recv(fd, &message, sizeof message, 0);
    } while (n < 0 && errno == EINTR);
    if (n != static_cast<ssize_t>(sizeof message)) {
        return std::nullopt;
    }
    message.text[sizeof message.text - 1] = '\0';
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
