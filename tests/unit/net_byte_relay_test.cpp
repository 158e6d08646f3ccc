#include <openssl/evp.h>
#include <sys/socket.h>

#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <chrono>
#include <functional>
#include <optional>
#include <random>
#include <thread>
#include <vector>

#include "net/byte_relay.hpp"
#include "net_test_loop.hpp"

namespace ccjail::net {
namespace {

namespace asio = boost::asio;
using asio::ip::tcp;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
using TcpRelay = Relay<tcp::socket, tcp::socket>;

using test::run_until;

void run_for(asio::io_context& io, std::chrono::milliseconds time) {
    run_until(
        io, [] { return false; }, time);
}

std::pair<tcp::socket, tcp::socket> connected_pair(asio::io_context& io) {
    tcp::acceptor acceptor(io, tcp::endpoint(asio::ip::address_v4::loopback(), 0));
    tcp::socket client(io);
    client.connect(acceptor.local_endpoint());
    return {std::move(client), acceptor.accept()};
}

void small_kernel_buffers(tcp::socket& socket) {
    socket.set_option(asio::socket_base::send_buffer_size(64 * 1024));
    socket.set_option(asio::socket_base::receive_buffer_size(64 * 1024));
}

std::vector<unsigned char> random_bytes(std::size_t size, unsigned seed) {
    std::mt19937_64 generator(seed);
    std::vector<unsigned char> bytes(size);
    for (auto& byte : bytes) {
        byte = static_cast<unsigned char>(generator());
    }
    return bytes;
}

std::string sha256(const std::vector<unsigned char>& data) {
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int length = 0;
    EVP_Digest(data.data(), data.size(), digest, &length, EVP_sha256(), nullptr);
    return std::string(reinterpret_cast<char*>(digest), length);
}

// The relay between two loopback connections: the test holds `outer_a` and `outer_b`, the
// relay the other two ends.
class NetByteRelay : public ::testing::Test {
  protected:
    void start(RelayOptions options, bool small_buffers = false) {
        auto [a, relay_a] = connected_pair(io);
        auto [relay_b, b] = connected_pair(io);
        if (small_buffers) {
            for (auto* socket : {&a, &relay_a, &relay_b, &b}) {
                small_kernel_buffers(*socket);
            }
        }
        outer_a.emplace(std::move(a));
        outer_b.emplace(std::move(b));
        relay = start_relay(std::move(relay_a), std::move(relay_b), options,
                            [this](const RelayResult& r) {
                                ++completions;
                                result = r;
                                relay.reset();  // the owner lets go inside the completion
                            });
    }

    bool finished(std::chrono::milliseconds limit = 5000ms) {
        return run_until(
            io, [&] { return completions > 0; }, limit);
    }

    asio::io_context io;
    std::optional<tcp::socket> outer_a;
    std::optional<tcp::socket> outer_b;
    std::shared_ptr<TcpRelay> relay;
    int completions = 0;
    std::optional<RelayResult> result;
};

// Sends a block in chunks and counts what the kernel took.
struct Producer {
    void start(tcp::socket& socket, const std::vector<unsigned char>& data) {
        if (sent == data.size()) {
            socket.shutdown(tcp::socket::shutdown_send);
            return;
        }
        const auto chunk = std::min<std::size_t>(64 * 1024, data.size() - sent);
        asio::async_write(
            socket, asio::buffer(data.data() + sent, chunk),
            [this, &socket, &data](const boost::system::error_code& ec, std::size_t n) {
                sent += n;
                if (!ec) {
                    start(socket, data);
                }
            });
    }
    std::size_t sent = 0;
};

// Reads until EOF, pausing `delay` between reads.
struct Consumer {
    void start(tcp::socket& socket, asio::steady_timer& timer, std::chrono::milliseconds delay) {
        socket.async_read_some(
            asio::buffer(buffer),
            [this, &socket, &timer, delay](const boost::system::error_code& ec, std::size_t n) {
                received.insert(received.end(), buffer.begin(), buffer.begin() + n);
                if (ec) {
                    eof = ec == asio::error::eof;
                    return;
                }
                timer.expires_after(delay);
                timer.async_wait([this, &socket, &timer, delay](const boost::system::error_code&) {
                    start(socket, timer, delay);
                });
            });
    }
    std::array<unsigned char, 64 * 1024> buffer{};
    std::vector<unsigned char> received;
    bool eof = false;
};

TEST_F(NetByteRelay, MovesThirtyTwoMebibytesIntactPastASlowConsumer) {
    const auto forward = random_bytes(32 << 20, 1);
    const auto backward = random_bytes(1 << 20, 2);
    start(RelayOptions{}, true);

    Producer to_b;
    Producer to_a;
    to_b.start(*outer_a, forward);
    to_a.start(*outer_b, backward);
    Consumer at_a;
    asio::steady_timer a_timer(io);
    at_a.start(*outer_a, a_timer, 0ms);

    // Nobody reads at b yet: the relay must stop taking from a once the kernel buffers on its
    // way are full, holding no more than its own 16 KiB buffer.
    std::size_t last = 0;
    run_until(
        io,
        [&] {
            run_for(io, 200ms);
            const bool stalled = to_b.sent == last;
            last = to_b.sent;
            return stalled;
        },
        10000ms);
    EXPECT_LT(to_b.sent, 2u << 20) << "the relay kept reading although b did not";
    EXPECT_LE(relay->bytes_a_to_b(), to_b.sent);

    Consumer at_b;
    asio::steady_timer b_timer(io);
    at_b.start(*outer_b, b_timer, 1ms);
    ASSERT_TRUE(run_until(
        io, [&] { return at_b.eof && at_a.eof; }, 60000ms))
        << "b got " << at_b.received.size() << ", a got " << at_a.received.size();
    EXPECT_EQ(at_b.received.size(), forward.size());
    EXPECT_TRUE(sha256(at_b.received) == sha256(forward));
    EXPECT_EQ(at_a.received.size(), backward.size());
    EXPECT_TRUE(sha256(at_a.received) == sha256(backward));

    ASSERT_TRUE(finished());
    EXPECT_EQ(completions, 1);
    EXPECT_EQ(result->end, RelayEnd::done) << result->message;
    EXPECT_EQ(result->bytes_a_to_b, forward.size());
    EXPECT_EQ(result->bytes_b_to_a, backward.size());
    EXPECT_FALSE(relay);
}

// One side says all it has and half-closes; the other still answers through the relay, then
// closes too.
void half_close_exchange(asio::io_context& io, tcp::socket& first, tcp::socket& second) {
    asio::write(first, asio::buffer(std::string("request")));
    first.shutdown(tcp::socket::shutdown_send);

    std::string got(7, '\0');
    bool read_done = false;
    bool eof = false;
    asio::async_read(second, asio::buffer(got),
                     [&](const boost::system::error_code& ec, std::size_t) { read_done = !ec; });
    ASSERT_TRUE(run_until(
        io, [&] { return read_done; }, 3000ms));
    EXPECT_EQ(got, "request");
    char extra = 0;
    second.async_read_some(
        asio::buffer(&extra, 1),
        [&](const boost::system::error_code& ec, std::size_t) { eof = ec == asio::error::eof; });
    ASSERT_TRUE(run_until(
        io, [&] { return eof; }, 3000ms))
        << "the half-close did not arrive";

    asio::write(second, asio::buffer(std::string("answer")));
    second.shutdown(tcp::socket::shutdown_send);
    std::string answer(6, '\0');
    bool answered = false;
    asio::async_read(first, asio::buffer(answer),
                     [&](const boost::system::error_code& ec, std::size_t) { answered = !ec; });
    ASSERT_TRUE(run_until(
        io, [&] { return answered; }, 3000ms));
    EXPECT_EQ(answer, "answer");
}

TEST_F(NetByteRelay, HalfCloseFromAStillCarriesTheAnswerFromB) {
    start(RelayOptions{});
    half_close_exchange(io, *outer_a, *outer_b);
    ASSERT_TRUE(finished());
    EXPECT_EQ(result->end, RelayEnd::done) << result->message;
    EXPECT_EQ(result->bytes_a_to_b, 7u);
    EXPECT_EQ(result->bytes_b_to_a, 6u);
}

TEST_F(NetByteRelay, HalfCloseFromBStillCarriesTheAnswerFromA) {
    start(RelayOptions{});
    half_close_exchange(io, *outer_b, *outer_a);
    ASSERT_TRUE(finished());
    EXPECT_EQ(result->end, RelayEnd::done) << result->message;
    EXPECT_EQ(result->bytes_b_to_a, 7u);
    EXPECT_EQ(result->bytes_a_to_b, 6u);
}

TEST_F(NetByteRelay, IdleTimeoutEndsItOnlyAfterTrafficStops) {
    start(RelayOptions{16 * 1024, 300ms});
    Consumer at_b;
    asio::steady_timer b_timer(io);
    at_b.start(*outer_b, b_timer, 0ms);
    auto last_byte = Clock::now();
    for (int i = 0; i < 6; ++i) {
        asio::write(*outer_a, asio::buffer("x", 1));
        last_byte = Clock::now();
        run_for(io, 100ms);
    }
    EXPECT_EQ(completions, 0) << "ended although a byte moved every 100 ms";
    ASSERT_TRUE(finished(3000ms));
    const auto idle = Clock::now() - last_byte;
    EXPECT_EQ(result->end, RelayEnd::idle_timeout) << result->message;
    EXPECT_GE(idle, 250ms);
    EXPECT_LT(idle, 1500ms);
    EXPECT_EQ(result->bytes_a_to_b, 6u);
    ASSERT_TRUE(run_until(
        io, [&] { return at_b.eof; }, 2000ms))
        << "b was not closed";
    EXPECT_EQ(at_b.received.size(), 6u);
}

TEST_F(NetByteRelay, CancelEndsItAtOnceAndClosesBothSides) {
    start(RelayOptions{});
    asio::write(*outer_a, asio::buffer("abc", 3));
    run_for(io, 100ms);
    ASSERT_TRUE(relay);
    auto keep = relay;
    keep->cancel();
    EXPECT_EQ(completions, 0) << "the completion ran inside cancel()";
    keep->cancel();
    ASSERT_TRUE(finished(1000ms));
    run_for(io, 100ms);
    EXPECT_EQ(completions, 1);
    EXPECT_EQ(result->end, RelayEnd::cancelled);
    EXPECT_EQ(result->bytes_a_to_b, 3u);

    for (auto* outer : {&*outer_a, &*outer_b}) {
        std::array<char, 8> buffer{};
        boost::system::error_code ec;
        std::size_t total = 0;
        while (!ec) {
            total += outer->read_some(asio::buffer(buffer), ec);
        }
        EXPECT_TRUE(ec == asio::error::eof || ec == asio::error::connection_reset) << ec.message();
    }
}

TEST_F(NetByteRelay, ResetFromOneSideEndsItWithAnError) {
    start(RelayOptions{});
    outer_b->set_option(asio::socket_base::linger(true, 0));
    outer_b->close();  // linger 0: RST instead of FIN
    ASSERT_TRUE(finished(3000ms));
    EXPECT_EQ(result->end, RelayEnd::error) << result->message;
    EXPECT_NE(result->message.find("b->a"), std::string::npos) << result->message;
}

}  // namespace
}  // namespace ccjail::net
