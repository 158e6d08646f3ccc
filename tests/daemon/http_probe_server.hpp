// The host-side service the egress tests try to reach from a jail: a plain HTTP/1.1 server on
// 127.0.0.1:<ephemeral port> of the host's network namespace, run by a thread of the test
// process. It records every request head it reads and answers each with one fixed body, then
// closes. A connection that sends nothing is simply held open, which is what an idle CONNECT
// tunnel looks like from this side.
//
// Header-only: the daemon test binary lists its non-test sources by name, and a header needs no
// entry there.
#pragma once

#include <atomic>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/streambuf.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

// GCC 12 at -O2 pairs asio's coroutine-frame operator delete with the aligned_alloc inside its
// operator new and reports a mismatch that is not one (the library target turns the warning
// off for the same reason).
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"

namespace ccjail::dtest {

class HttpProbeServer {
  public:
    explicit HttpProbeServer(std::string body)
        : body_(std::move(body)), acceptor_(io_, {boost::asio::ip::make_address("127.0.0.1"), 0}) {
        boost::asio::co_spawn(io_, accept_loop(), boost::asio::detached);
        thread_ = std::thread([this] { io_.run(); });
    }
    ~HttpProbeServer() {
        io_.stop();
        thread_.join();
    }
    HttpProbeServer(const HttpProbeServer&) = delete;
    HttpProbeServer& operator=(const HttpProbeServer&) = delete;

    std::uint16_t port() const { return acceptor_.local_endpoint().port(); }
    const std::string& body() const { return body_; }

    // The heads of the requests read so far, in arrival order.
    std::vector<std::string> requests() const {
        std::lock_guard lock(mutex_);
        return requests_;
    }
    // TCP connections accepted so far, whether or not they sent a request.
    std::size_t accepted() const { return accepted_.load(); }
    // Connections accepted and not yet closed.
    int open_connections() const { return open_.load(); }

  private:
    using tcp = boost::asio::ip::tcp;

    boost::asio::awaitable<void> accept_loop() {
        for (;;) {
            boost::system::error_code ec;
            tcp::socket socket = co_await acceptor_.async_accept(
                boost::asio::redirect_error(boost::asio::use_awaitable, ec));
            if (ec) {
                co_return;
            }
            ++accepted_;
            boost::asio::co_spawn(io_, serve(std::move(socket)), boost::asio::detached);
        }
    }

    boost::asio::awaitable<void> serve(tcp::socket socket) {
        ++open_;
        boost::asio::streambuf input(64 * 1024);
        boost::system::error_code ec;
        const std::size_t head_length = co_await boost::asio::async_read_until(
            socket, input, "\r\n\r\n", boost::asio::redirect_error(boost::asio::use_awaitable, ec));
        if (!ec) {
            const auto* data = static_cast<const char*>(input.data().data());
            {
                std::lock_guard lock(mutex_);
                requests_.emplace_back(data, head_length);
            }
            const std::string response =
                "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: " +
                std::to_string(body_.size()) + "\r\nConnection: close\r\n\r\n" + body_;
            co_await boost::asio::async_write(
                socket, boost::asio::buffer(response),
                boost::asio::redirect_error(boost::asio::use_awaitable, ec));
            socket.shutdown(tcp::socket::shutdown_send, ec);
            // Drain until the peer closes, so that our close never turns into a reset that
            // could discard the answer before the client read it.
            char sink[4096];
            while (!ec) {
                co_await socket.async_read_some(
                    boost::asio::buffer(sink),
                    boost::asio::redirect_error(boost::asio::use_awaitable, ec));
            }
        }
        socket.close(ec);
        --open_;
    }

    const std::string body_;
    boost::asio::io_context io_;
    tcp::acceptor acceptor_;
    std::thread thread_;
    mutable std::mutex mutex_;
    std::vector<std::string> requests_;
    std::atomic<std::size_t> accepted_{0};
    std::atomic<int> open_{0};
};

}  // namespace ccjail::dtest

#pragma GCC diagnostic pop
