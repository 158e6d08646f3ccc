#include "net/tcp_connector.hpp"

#include <sys/socket.h>

#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <memory>
#include <sstream>

#include "common/unique_fd.hpp"

namespace ccjail::net {

namespace asio = boost::asio;
using asio::ip::tcp;
using Clock = std::chrono::steady_clock;

std::string_view to_string(ConnectError error) {
    switch (error) {
        case ConnectError::ok:
            return "ok";
        case ConnectError::refused:
            return "refused";
        case ConnectError::timeout:
            return "timeout";
        case ConnectError::unreachable:
            return "unreachable";
        case ConnectError::cancelled:
            return "cancelled";
        case ConnectError::other:
            return "other";
    }
    return "other";
}

namespace {

ConnectError error_of(const boost::system::error_code& ec) {
    if (ec == asio::error::connection_refused) {
        return ConnectError::refused;
    }
    if (ec == asio::error::network_unreachable || ec == asio::error::host_unreachable) {
        return ConnectError::unreachable;
    }
    if (ec == asio::error::timed_out) {
        return ConnectError::timeout;
    }
    return ConnectError::other;
}

std::string describe(const tcp::endpoint& endpoint) {
    std::ostringstream out;
    out << endpoint;
    return out.str();
}

// asio opens sockets without SOCK_CLOEXEC, and Boost.Process 1.81 hands every such fd to the
// monitors it launches (DESIGN §9).
tcp::socket open_cloexec_socket(asio::io_context& io, const tcp& protocol,
                                boost::system::error_code& ec) {
    tcp::socket socket(io);
    UniqueFd fd(::socket(protocol.family(), SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
    if (!fd) {
        ec.assign(errno, boost::system::system_category());
        return socket;
    }
    socket.assign(protocol, fd.get(), ec);
    if (!ec) {
        fd.release();
    }
    return socket;
}

class ConnectOperation : public Cancellable, public std::enable_shared_from_this<ConnectOperation> {
  public:
    ConnectOperation(asio::io_context& io, std::vector<tcp::endpoint> endpoints,
                     std::chrono::milliseconds timeout, ConnectHandler handler)
        : io_(io),
          endpoints_(std::move(endpoints)),
          deadline_(Clock::now() + timeout),
          handler_(std::move(handler)),
          socket_(io),
          timer_(io) {}

    void start() {
        if (endpoints_.empty()) {
            finish(ConnectError::other, "no endpoints to connect to");
            return;
        }
        try_next();
    }

    void cancel() override {
        if (!done_) {
            finish(ConnectError::cancelled, "connect cancelled");
        }
    }

  private:
    void try_next() {
        if (next_ == endpoints_.size()) {
            finish(last_error_, failures_);
            return;
        }
        const auto& endpoint = endpoints_[next_++];
        boost::system::error_code ec;
        socket_ = open_cloexec_socket(io_, endpoint.protocol(), ec);
        if (ec) {
            attempt_failed(endpoint, error_of(ec), ec.message());
            return;
        }
        ++attempt_;
        arm_attempt_timer();
        socket_.async_connect(endpoint, [self = shared_from_this(), attempt = attempt_,
                                         endpoint](const boost::system::error_code& ec) {
            self->on_connect(attempt, endpoint, ec);
        });
    }

    void arm_attempt_timer() {
        const auto left = deadline_ - Clock::now();
        const auto attempts_left = endpoints_.size() - next_ + 1;
        timer_.expires_after(left / static_cast<long>(attempts_left));
        timer_.async_wait(
            [self = shared_from_this(), attempt = attempt_](const boost::system::error_code& ec) {
                if (!ec) {
                    self->on_attempt_timeout(attempt);
                }
            });
    }

    void on_attempt_timeout(unsigned attempt) {
        if (done_ || attempt != attempt_) {
            return;
        }
        ++attempt_;
        boost::system::error_code ignored;
        socket_.close(ignored);
        attempt_failed(endpoints_[next_ - 1], ConnectError::timeout, "connect timed out");
    }

    void on_connect(unsigned attempt, const tcp::endpoint& endpoint,
                    const boost::system::error_code& ec) {
        if (done_ || attempt != attempt_) {
            return;
        }
        ++attempt_;
        timer_.cancel();
        if (ec) {
            boost::system::error_code ignored;
            socket_.close(ignored);
            attempt_failed(endpoint, error_of(ec), ec.message());
            return;
        }
        finish(ConnectError::ok, failures_, std::move(socket_));
    }

    void attempt_failed(const tcp::endpoint& endpoint, ConnectError error,
                        const std::string& reason) {
        last_error_ = error;
        last_endpoint_ = endpoint;
        failures_ += (failures_.empty() ? "" : "; ") + describe(endpoint) + ": " + reason;
        if (Clock::now() >= deadline_ && next_ < endpoints_.size()) {
            last_error_ = ConnectError::timeout;
            next_ = endpoints_.size();
        }
        try_next();
    }

    void finish(ConnectError error, std::string message,
                std::optional<tcp::socket> socket = std::nullopt) {
        done_ = true;
        timer_.cancel();
        ConnectResult result{error, std::move(message), std::move(socket),
                             error == ConnectError::ok ? endpoints_[next_ - 1] : last_endpoint_};
        if (error != ConnectError::ok) {
            boost::system::error_code ignored;
            socket_.close(ignored);
        }
        asio::post(io_, [handler = std::move(handler_), result = std::move(result)]() mutable {
            handler(std::move(result));
        });
    }

    asio::io_context& io_;
    std::vector<tcp::endpoint> endpoints_;
    Clock::time_point deadline_;
    ConnectHandler handler_;
    tcp::socket socket_;
    asio::steady_timer timer_;
    std::size_t next_ = 0;
    // Counts started and ended attempts, so that a late completion of an abandoned attempt is
    // recognised and ignored.
    unsigned attempt_ = 0;
    bool done_ = false;
    ConnectError last_error_ = ConnectError::other;
    tcp::endpoint last_endpoint_;
    std::string failures_;
};

}  // namespace

CancelHandle async_connect_any(asio::io_context& io, std::vector<tcp::endpoint> endpoints,
                               std::chrono::milliseconds timeout, ConnectHandler handler) {
    auto operation =
        std::make_shared<ConnectOperation>(io, std::move(endpoints), timeout, std::move(handler));
    operation->start();
    return CancelHandle(operation);
}

}  // namespace ccjail::net
