#pragma once

// Shared by egress_hub.cpp, egress_proxy.cpp and egress_gateway.cpp; not a public interface.

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <set>
#include <string>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "audit/audit_log.hpp"
#include "egress/http_head.hpp"
#include "net/cancel_handle.hpp"
#include "net/dns_resolver.hpp"
#include "net/tcp_connector.hpp"
#include "net/tls_client.hpp"
#include "profile/profile.hpp"
#include "server/egress_hub.hpp"

namespace ccjail::server {

using boost::asio::awaitable;
using boost::asio::ip::tcp;

// What every session's egress shares: the resolver, the upstream's TLS context, the config.
class EgressShared {
  public:
    EgressShared(boost::asio::io_context& io, EgressConfig config, const audit::AuditLog& audit,
                 metrics::DaemonMetrics& metrics);

    boost::asio::io_context& io;
    const EgressConfig config;
    const audit::AuditLog& audit;
    metrics::DaemonMetrics& metrics;
    net::DnsResolver resolver;
    // Made at the first gateway request: a daemon without gateway sessions never loads the
    // trust store, and a broken CA file fails those requests rather than the daemon's start.
    boost::asio::ssl::context& tls();

  private:
    std::optional<boost::asio::ssl::context> tls_;
};

// One connection from a jail. Whatever it waits on (a read, a lookup, a connect, a handshake,
// a relay), abort() ends it: sockets closed, pending operations cancelled.
class EgressConnection : public std::enable_shared_from_this<EgressConnection> {
  public:
    explicit EgressConnection(tcp::socket jail_socket);

    tcp::socket jail;
    std::optional<tcp::socket> upstream;
    std::optional<net::TlsStream> tls_upstream;
    net::CancelHandle pending;
    std::function<void()> cancel_relay;
    const std::chrono::steady_clock::time_point started = std::chrono::steady_clock::now();

    // Aborts the connection unless disarm() or another arm() comes first.
    void arm(std::chrono::milliseconds timeout);
    void disarm();
    void abort();
    bool aborted() const { return aborted_; }
    bool timed_out() const { return timed_out_; }
    std::uint64_t elapsed_ms() const;

  private:
    boost::asio::steady_timer deadline_;
    bool aborted_ = false;
    bool timed_out_ = false;
};

class EgressSession : public std::enable_shared_from_this<EgressSession> {
  public:
    EgressSession(std::shared_ptr<EgressShared> shared_state, std::string session_id,
                  audit::AuditContext audit_context, NetworkPolicy network);

    const std::shared_ptr<EgressShared> shared;
    const std::string id;
    const audit::AuditContext context;
    const NetworkPolicy policy;
    EgressTotals totals;

    void listen(EgressListener kind, UniqueFd listener);
    void close();
    bool closed() const { return closed_; }

    // The audit line of one proxy decision or gateway request; counted in the totals.
    void record(audit::AuditEvent event, bool allowed, nlohmann::json fields);

  private:
    void accept_next(EgressListener kind, tcp::acceptor& acceptor);
    void serve(EgressListener kind, tcp::socket socket);

    bool closed_ = false;
    std::optional<tcp::acceptor> proxy_acceptor_;
    std::optional<tcp::acceptor> gateway_acceptor_;
    std::set<std::shared_ptr<EgressConnection>> connections_;
};

// The longest request head taken from a jail, and how long it may take to arrive.
inline constexpr std::size_t kMaxRequestHeadBytes = 16 * 1024;
inline constexpr std::chrono::milliseconds kRequestHeadTimeout{30'000};
// After a refusal, how long and how much of the rest of the jail's request is read and
// dropped before the close (see drain_before_close).
inline constexpr std::chrono::milliseconds kDrainBeforeCloseTimeout{2'000};
inline constexpr std::size_t kDrainBeforeCloseBytes = 64 * 1024;
// Upstream response heads can be larger (many headers), but not unbounded.
inline constexpr std::size_t kMaxResponseHeadBytes = 64 * 1024;
inline constexpr std::size_t kRelayBufferBytes = 16 * 1024;

awaitable<void> serve_proxy_connection(std::shared_ptr<EgressSession> session,
                                       std::shared_ptr<EgressConnection> connection);
awaitable<void> serve_gateway_connection(std::shared_ptr<EgressSession> session,
                                         std::shared_ptr<EgressConnection> connection);

// ---- awaitable forms of the callback-style net/ operations -------------------------------------

// GCC 12 destroys a temporary that lives across a co_await twice (a double free seen with
// `co_await refuse(..., Refusal{...})` in the daemon tier). So no coroutine here takes an
// argument by value that a caller would build as a temporary, and every call site passes named
// objects: the rule for all of egress_*.cpp.
awaitable<net::ResolveResult> resolve(EgressShared& shared, EgressConnection& connection,
                                      const std::string& host);
// Takes the endpoints (moves them out of `endpoints`).
awaitable<net::ConnectResult> connect_any(EgressShared& shared, EgressConnection& connection,
                                          std::vector<tcp::endpoint>& endpoints,
                                          std::chrono::milliseconds timeout);
// Takes the socket (moves it out of `socket`).
awaitable<net::TlsConnectResult> tls_connect(EgressShared& shared, EgressConnection& connection,
                                             tcp::socket& socket, const std::string& host,
                                             std::chrono::milliseconds timeout);

// Reads from the jail until `buffer` holds a complete request head (or the parse fails, the
// jail closes, or the deadline aborts the connection). nullopt when the jail sent nothing
// usable and closed.
awaitable<std::optional<egress::RequestParse>> read_request_head(EgressConnection& connection,
                                                                 std::string& buffer);
// Writes all of `bytes` to the jail; false when the jail is gone.
awaitable<bool> write_to_jail(EgressConnection& connection, std::string_view bytes);

// Why the proxy or the gateway did not carry a request: the HTTP status the jail gets and the
// audit line's reason.
struct Refusal {
    int status = 502;
    std::string reason;
};

// Records the refusal as a denied `event` line (`request_fields` plus status, reason, duration)
// and answers the jail with it, then drains the connection before it closes. Arguments are
// references to the caller's named objects (see above on GCC 12 and temporaries across co_await).
awaitable<void> refuse(EgressSession& session, EgressConnection& connection,
                       audit::AuditEvent event, const nlohmann::json& request_fields,
                       const Refusal& refusal);

// Half-closes the jail's socket and reads and drops what the jail still sends, until it
// closes or kDrainBeforeCloseTimeout or kDrainBeforeCloseBytes is reached, so the close that
// follows cannot become a reset that destroys the answer.
awaitable<void> drain_before_close(EgressConnection& connection);

}  // namespace ccjail::server
