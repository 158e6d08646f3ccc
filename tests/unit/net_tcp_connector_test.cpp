#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>

#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <chrono>
#include <functional>
#include <optional>
#include <thread>
#include <vector>

#include "common/unique_fd.hpp"
#include "net/tcp_connector.hpp"
#include "net_test_loop.hpp"

namespace ccjail::net {
namespace {

namespace asio = boost::asio;
using asio::ip::tcp;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

using test::run_until;

tcp::endpoint loopback(unsigned short port) {
    return {asio::ip::address_v4::loopback(), port};
}

// A loopback port nobody listens on: bound, then closed.
unsigned short closed_port(asio::io_context& io) {
    tcp::acceptor probe(io, loopback(0));
    return probe.local_endpoint().port();
}

// A listener that never accepts, its accept queue full. Linux drops a SYN when the queue is full
// rather than refusing it, so a connect to it hangs exactly like one to a blackholed address,
// but on loopback: the test needs no network and sends nothing off the machine.
class FullBacklogListener {
  public:
    FullBacklogListener() : listener_(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) {
        sockaddr_in address{};
        address.sin_family = AF_INET;
        address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        socklen_t length = sizeof address;
        if (::bind(listener_.get(), reinterpret_cast<sockaddr*>(&address), length) != 0 ||
            ::listen(listener_.get(), 0) != 0 ||
            ::getsockname(listener_.get(), reinterpret_cast<sockaddr*>(&address), &length) != 0) {
            return;
        }
        port_ = ntohs(address.sin_port);
        fill(address);
    }

    unsigned short port() const { return port_; }
    bool full() const { return full_; }

  private:
    void fill(const sockaddr_in& address) {
        for (int i = 0; i < 8 && !full_; ++i) {
            UniqueFd client(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
            ::connect(client.get(), reinterpret_cast<const sockaddr*>(&address), sizeof address);
            pollfd ready{client.get(), POLLOUT, 0};
            full_ = ::poll(&ready, 1, 300) == 0;
            clients_.push_back(std::move(client));
        }
    }

    UniqueFd listener_;
    std::vector<UniqueFd> clients_;
    unsigned short port_ = 0;
    bool full_ = false;
};

class NetTcpConnector : public ::testing::Test {
  protected:
    std::optional<ConnectResult> connect(std::vector<tcp::endpoint> endpoints,
                                         std::chrono::milliseconds timeout) {
        std::optional<ConnectResult> result;
        async_connect_any(io, std::move(endpoints), timeout,
                          [&](ConnectResult r) { result = std::move(r); });
        run_until(
            io, [&] { return result.has_value(); }, timeout + 3000ms);
        return result;
    }

    asio::io_context io;
};

TEST_F(NetTcpConnector, ClosedPortIsRefused) {
    const auto port = closed_port(io);
    auto result = connect({loopback(port)}, 2000ms);
    ASSERT_TRUE(result);
    EXPECT_EQ(result->error, ConnectError::refused) << result->message;
    EXPECT_EQ(result->endpoint, loopback(port));
    EXPECT_FALSE(result->socket && result->socket->is_open());
}

TEST_F(NetTcpConnector, ConnectsToTheSecondEndpointWhenTheFirstRefuses) {
    const auto refused = closed_port(io);
    tcp::acceptor listener(io, loopback(0));
    const auto good = listener.local_endpoint();
    auto result = connect({loopback(refused), good}, 2000ms);
    ASSERT_TRUE(result);
    ASSERT_EQ(result->error, ConnectError::ok) << result->message;
    EXPECT_EQ(result->endpoint, good);
    EXPECT_NE(result->message.find(std::to_string(refused)), std::string::npos)
        << "the refused attempt is reported: " << result->message;
    ASSERT_TRUE(result->socket && result->socket->is_open());
    EXPECT_EQ(result->socket->remote_endpoint(), good);
    EXPECT_TRUE(::fcntl(result->socket->native_handle(), F_GETFD) & FD_CLOEXEC);

    tcp::socket peer = listener.accept();
    asio::write(*result->socket, asio::buffer("hi", 2));
    char got[2] = {};
    asio::read(peer, asio::buffer(got));
    EXPECT_EQ(std::string(got, 2), "hi");
}

TEST_F(NetTcpConnector, UnansweredSynTimesOut) {
    FullBacklogListener blackhole;
    ASSERT_TRUE(blackhole.full()) << "could not fill the accept queue";
    const auto start = Clock::now();
    auto result = connect({loopback(blackhole.port())}, 300ms);
    const auto elapsed = Clock::now() - start;
    ASSERT_TRUE(result);
    EXPECT_EQ(result->error, ConnectError::timeout) << result->message;
    EXPECT_GE(elapsed, 290ms);
    EXPECT_LT(elapsed, 1500ms);
}

TEST_F(NetTcpConnector, BlackholedFirstEndpointLeavesTimeForTheNext) {
    FullBacklogListener blackhole;
    ASSERT_TRUE(blackhole.full()) << "could not fill the accept queue";
    tcp::acceptor listener(io, loopback(0));
    const auto start = Clock::now();
    auto result = connect({loopback(blackhole.port()), listener.local_endpoint()}, 1000ms);
    const auto elapsed = Clock::now() - start;
    ASSERT_TRUE(result);
    ASSERT_EQ(result->error, ConnectError::ok) << result->message;
    EXPECT_EQ(result->endpoint, listener.local_endpoint());
    // The first attempt had half of the second.
    EXPECT_GE(elapsed, 490ms);
    EXPECT_LT(elapsed, 1000ms);
}

TEST_F(NetTcpConnector, EveryEndpointFailingReportsEachAndTheLastError) {
    const auto first = closed_port(io);
    const auto second = closed_port(io);
    auto result = connect({loopback(first), loopback(second)}, 2000ms);
    ASSERT_TRUE(result);
    EXPECT_EQ(result->error, ConnectError::refused);
    EXPECT_EQ(result->endpoint, loopback(second));
    EXPECT_NE(result->message.find(std::to_string(first)), std::string::npos) << result->message;
    EXPECT_NE(result->message.find(std::to_string(second)), std::string::npos) << result->message;
}

TEST_F(NetTcpConnector, NoEndpointsIsAnError) {
    auto result = connect({}, 1000ms);
    ASSERT_TRUE(result);
    EXPECT_EQ(result->error, ConnectError::other);
}

TEST_F(NetTcpConnector, CancelCompletesOnceWithCancelled) {
    FullBacklogListener blackhole;
    ASSERT_TRUE(blackhole.full()) << "could not fill the accept queue";
    int calls = 0;
    std::optional<ConnectResult> result;
    auto handle = async_connect_any(io, {loopback(blackhole.port())}, 5000ms, [&](ConnectResult r) {
        ++calls;
        result = std::move(r);
    });
    run_until(
        io, [] { return false; }, 100ms);
    const auto start = Clock::now();
    handle.cancel();
    EXPECT_EQ(calls, 0) << "the handler ran inside cancel()";
    handle.cancel();
    run_until(
        io, [&] { return calls > 0; }, 1000ms);
    EXPECT_LT(Clock::now() - start, 500ms);
    run_until(
        io, [] { return false; }, 100ms);
    EXPECT_EQ(calls, 1);
    ASSERT_TRUE(result);
    EXPECT_EQ(result->error, ConnectError::cancelled);
    handle.cancel();  // after completion: nothing happens
    EXPECT_EQ(calls, 1);
}

}  // namespace
}  // namespace ccjail::net
