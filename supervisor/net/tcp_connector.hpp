#pragma once

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

#include "net/cancel_handle.hpp"

namespace ccjail::net {

// Why a connect ended; a closed set.
enum class ConnectError {
    ok,
    refused,      // RST: nothing listens there
    timeout,      // the overall time ran out (or the kernel gave up on its SYNs)
    unreachable,  // no route to the network or host
    cancelled,    // CancelHandle::cancel()
    other,        // no endpoints, out of fds, ...
};

std::string_view to_string(ConnectError error);

struct ConnectResult {
    ConnectError error = ConnectError::other;
    // One "endpoint: reason" per failed attempt, separated by "; " (also when ok).
    std::string message;
    // Open and connected when ok (its fd is close-on-exec); closed otherwise.
    std::optional<boost::asio::ip::tcp::socket> socket;
    // The endpoint connected to, or the last one tried.
    boost::asio::ip::tcp::endpoint endpoint;
};

using ConnectHandler = std::function<void(ConnectResult)>;

// Tries the endpoints in order until one accepts, all within `timeout`. Each attempt gets an
// equal share of the time left (the last one all of it): a blackholed first address, typically
// IPv6 on a host without an IPv6 route, must not eat the whole budget. When every attempt
// fails, the result's error is the last attempt's.
//
// The handler runs exactly once, on the io_context, never inside this call or inside
// CancelHandle::cancel(). The operation keeps itself alive until then; its handle does not.
CancelHandle async_connect_any(boost::asio::io_context& io,
                               std::vector<boost::asio::ip::tcp::endpoint> endpoints,
                               std::chrono::milliseconds timeout, ConnectHandler handler);

}  // namespace ccjail::net
