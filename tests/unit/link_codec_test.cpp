// The daemon <-> monitor link codec (docs/link.md): one JSON object and up to 8 descriptors per
// SOCK_SEQPACKET packet; EOF, would-block and every malformed packet told apart.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>
#include <string>
#include <vector>

#include "common/error.hpp"
#include "link/link_codec.hpp"

namespace ccjail::link {
namespace {

struct SocketPair {
    UniqueFd a;
    UniqueFd b;
};

SocketPair seqpacket_pair(int flags = 0) {
    int fds[2];
    EXPECT_EQ(::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | flags, 0, fds), 0);
    return {UniqueFd(fds[0]), UniqueFd(fds[1])};
}

struct Pipe {
    UniqueFd read;
    UniqueFd write;
};

Pipe make_pipe() {
    int fds[2];
    EXPECT_EQ(::pipe2(fds, O_CLOEXEC), 0);
    return {UniqueFd(fds[0]), UniqueFd(fds[1])};
}

// True when the pipe's read end sees EOF now: no write end is left anywhere in this process.
bool pipe_at_eof(int read_fd) {
    struct pollfd p = {read_fd, POLLIN, 0};
    if (::poll(&p, 1, 0) != 1) {
        return false;
    }
    char byte;
    return ::read(read_fd, &byte, 1) == 0;
}

void send_raw(int fd, const std::string& bytes, const std::vector<int>& fds = {}) {
    struct iovec iov = {const_cast<char*>(bytes.data()), bytes.size()};
    struct msghdr header {};
    header.msg_iov = &iov;
    header.msg_iovlen = 1;
    std::vector<char> control(CMSG_SPACE(sizeof(int) * fds.size()));
    if (!fds.empty()) {
        header.msg_control = control.data();
        header.msg_controllen = control.size();
        struct cmsghdr* cmsg = CMSG_FIRSTHDR(&header);
        cmsg->cmsg_level = SOL_SOCKET;
        cmsg->cmsg_type = SCM_RIGHTS;
        cmsg->cmsg_len = CMSG_LEN(sizeof(int) * fds.size());
        std::memcpy(CMSG_DATA(cmsg), fds.data(), sizeof(int) * fds.size());
    }
    ASSERT_EQ(::sendmsg(fd, &header, 0), static_cast<ssize_t>(bytes.size()));
}

TEST(LinkCodec, MessageAndDescriptorsArriveInOrderAndCloseOnExec) {
    auto link = seqpacket_pair();
    Pipe first = make_pipe();
    Pipe second = make_pipe();
    const nlohmann::json body = {{"type", "ready"}, {"session", "0123456789abcdef"}, {"n", 7}};
    const int fds[] = {first.write.get(), second.write.get()};
    ASSERT_TRUE(send_link_message(link.a.get(), body, fds));

    LinkMessage message;
    ASSERT_EQ(receive_link_message(link.b.get(), message), ReceiveResult::message);
    EXPECT_EQ(message.body, body);
    ASSERT_EQ(message.fds.size(), 2u);
    for (const auto& fd : message.fds) {
        EXPECT_EQ(::fcntl(fd.get(), F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);
    }
    // The order is the sender's: what goes through the second descriptor reaches the second pipe.
    ASSERT_EQ(::write(message.fds[1].get(), "2", 1), 1);
    ASSERT_EQ(::write(message.fds[0].get(), "1", 1), 1);
    char byte = 0;
    ASSERT_EQ(::read(second.read.get(), &byte, 1), 1);
    EXPECT_EQ(byte, '2');
    ASSERT_EQ(::read(first.read.get(), &byte, 1), 1);
    EXPECT_EQ(byte, '1');
}

TEST(LinkCodec, ClosedPeerIsEofAndEmptyNonBlockingSocketWouldBlock) {
    auto link = seqpacket_pair(SOCK_NONBLOCK);
    LinkMessage message;
    EXPECT_EQ(receive_link_message(link.b.get(), message), ReceiveResult::would_block);
    link.a.reset();
    EXPECT_EQ(receive_link_message(link.b.get(), message), ReceiveResult::eof);
}

TEST(LinkCodec, SendToAGonePeerFailsWithoutSigpipe) {
    auto link = seqpacket_pair();
    link.b.reset();
    EXPECT_FALSE(send_link_message(link.a.get(), {{"type", "exit"}}));
    EXPECT_EQ(errno, EPIPE);
}

TEST(LinkCodec, SenderRefusesWhatTheReceiverWouldReject) {
    auto link = seqpacket_pair();
    EXPECT_THROW(send_link_message(link.a.get(), nlohmann::json::array({1, 2})), JailError);
    const nlohmann::json huge = {{"type", "x"}, {"data", std::string(kMaxLinkMessageBytes, 'a')}};
    EXPECT_THROW(send_link_message(link.a.get(), huge), JailError);
    std::vector<int> nine(9, STDERR_FILENO);
    EXPECT_THROW(send_link_message(link.a.get(), {{"type", "x"}}, nine), JailError);
}

TEST(LinkCodec, LargestMessageRoundTrips) {
    auto link = seqpacket_pair();
    nlohmann::json body = {{"d", ""}};
    body["d"] = std::string(kMaxLinkMessageBytes - body.dump().size(), 'x');
    ASSERT_EQ(body.dump().size(), kMaxLinkMessageBytes);
    ASSERT_TRUE(send_link_message(link.a.get(), body));
    LinkMessage message;
    ASSERT_EQ(receive_link_message(link.b.get(), message), ReceiveResult::message);
    EXPECT_EQ(message.body, body);
}

class MalformedPacket : public ::testing::TestWithParam<std::string> {};

TEST_P(MalformedPacket, ThrowsAndClosesTheDescriptorsThatCameWithIt) {
    auto link = seqpacket_pair();
    Pipe pipe = make_pipe();
    send_raw(link.a.get(), GetParam(), {pipe.write.get()});
    pipe.write.reset();
    LinkMessage message;
    EXPECT_THROW(receive_link_message(link.b.get(), message), JailError);
    // Had the received copy of the write end leaked, the pipe would not be at EOF.
    EXPECT_TRUE(pipe_at_eof(pipe.read.get()));
}

INSTANTIATE_TEST_SUITE_P(LinkCodec, MalformedPacket,
                         ::testing::Values(std::string("not json"), std::string("[1,2,3]"),
                                           std::string("\"text\""), std::string("{\"a\":"),
                                           std::string(kMaxLinkMessageBytes + 100, '{')));

TEST(LinkCodec, MoreThanEightDescriptorsIsMalformedAndNoneLeaks) {
    auto link = seqpacket_pair();
    Pipe pipe = make_pipe();
    send_raw(link.a.get(), "{}", std::vector<int>(12, pipe.write.get()));
    pipe.write.reset();
    LinkMessage message;
    EXPECT_THROW(receive_link_message(link.b.get(), message), JailError);
    EXPECT_TRUE(pipe_at_eof(pipe.read.get()));
}

TEST(LinkCodec, AMalformedPacketLeavesTheNextOneReadable) {
    auto link = seqpacket_pair();
    send_raw(link.a.get(), "garbage");
    ASSERT_TRUE(send_link_message(link.a.get(), {{"type", "usage"}}));
    LinkMessage message;
    EXPECT_THROW(receive_link_message(link.b.get(), message), JailError);
    ASSERT_EQ(receive_link_message(link.b.get(), message), ReceiveResult::message);
    EXPECT_EQ(message.body.at("type"), "usage");
}

}  // namespace
}  // namespace ccjail::link
