#include "link/link_codec.hpp"

#include <sys/socket.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "common/error.hpp"

namespace ccjail::link {
namespace {

constexpr std::size_t kControlBytes = CMSG_SPACE(sizeof(int) * kMaxLinkFds);

[[noreturn]] void malformed(const std::string& why) {
    throw JailError(Step::supervise, EBADMSG, "link: " + why);
}

// Every descriptor of every SCM_RIGHTS record, owned before anything else is looked at, so a
// packet rejected below leaks none of them.
std::vector<UniqueFd> take_fds(struct msghdr& header) {
    std::vector<UniqueFd> fds;
    for (struct cmsghdr* cmsg = CMSG_FIRSTHDR(&header); cmsg; cmsg = CMSG_NXTHDR(&header, cmsg)) {
        if (cmsg->cmsg_level != SOL_SOCKET || cmsg->cmsg_type != SCM_RIGHTS) {
            continue;
        }
        const std::size_t count = (cmsg->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        for (std::size_t i = 0; i < count; ++i) {
            int fd = -1;
            std::memcpy(&fd, CMSG_DATA(cmsg) + i * sizeof(int), sizeof(int));
            fds.emplace_back(fd);
        }
    }
    return fds;
}

}  // namespace

bool send_link_message(int fd, const nlohmann::json& body, std::span<const int> fds) {
    if (!body.is_object()) {
        throw JailError(Step::supervise, EINVAL, "link: a message must be a JSON object");
    }
    if (fds.size() > kMaxLinkFds) {
        throw JailError(Step::supervise, EINVAL, "link: too many descriptors for one message");
    }
    const std::string text = body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    if (text.size() > kMaxLinkMessageBytes) {
        throw JailError(Step::supervise, EMSGSIZE, "link: message larger than 64 KiB");
    }
    struct iovec iov = {const_cast<char*>(text.data()), text.size()};
    struct msghdr header {};
    header.msg_iov = &iov;
    header.msg_iovlen = 1;
    alignas(struct cmsghdr) char control[kControlBytes] = {};
    if (!fds.empty()) {
        header.msg_control = control;
        header.msg_controllen = CMSG_SPACE(sizeof(int) * fds.size());
        struct cmsghdr* cmsg = CMSG_FIRSTHDR(&header);
        cmsg->cmsg_level = SOL_SOCKET;
        cmsg->cmsg_type = SCM_RIGHTS;
        cmsg->cmsg_len = CMSG_LEN(sizeof(int) * fds.size());
        std::memcpy(CMSG_DATA(cmsg), fds.data(), sizeof(int) * fds.size());
    }
    ssize_t n;
    do {
        n = ::sendmsg(fd, &header, MSG_NOSIGNAL);
    } while (n < 0 && errno == EINTR);
    return n == static_cast<ssize_t>(text.size());
}

ReceiveResult receive_link_message(int fd, LinkMessage& out) {
    // One byte more than the limit: a packet that fills it was too large (MSG_TRUNC says the
    // same, but only if the kernel had to cut).
    std::string buffer(kMaxLinkMessageBytes + 1, '\0');
    struct iovec iov = {buffer.data(), buffer.size()};
    struct msghdr header {};
    header.msg_iov = &iov;
    header.msg_iovlen = 1;
    alignas(struct cmsghdr) char control[kControlBytes] = {};
    header.msg_control = control;
    header.msg_controllen = sizeof control;
    ssize_t n;
    do {
        n = ::recvmsg(fd, &header, MSG_CMSG_CLOEXEC);
    } while (n < 0 && errno == EINTR);
    std::vector<UniqueFd> fds = take_fds(header);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        return ReceiveResult::would_block;
    }
    if (n < 0 && errno == ECONNRESET) {
        return ReceiveResult::eof;
    }
    if (n < 0) {
        throw_errno(Step::supervise, "link: recvmsg");
    }
    if (n == 0 && fds.empty()) {
        return ReceiveResult::eof;
    }
    if ((header.msg_flags & MSG_TRUNC) || static_cast<std::size_t>(n) > kMaxLinkMessageBytes) {
        malformed("message larger than 64 KiB");
    }
    if (header.msg_flags & MSG_CTRUNC) {
        malformed("more descriptors than a message may carry");
    }
    buffer.resize(static_cast<std::size_t>(n));
    nlohmann::json body = nlohmann::json::parse(buffer, nullptr, false);
    if (body.is_discarded() || !body.is_object()) {
        malformed("message is not a JSON object");
    }
    out.body = std::move(body);
    out.fds = std::move(fds);
    return ReceiveResult::message;
}

}  // namespace ccjail::link
