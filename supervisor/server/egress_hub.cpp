#include "server/egress_hub.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/write.hpp>

#include "egress/error_response.hpp"
#include "server/daemon_config.hpp"
#include "server/egress_internal.hpp"

namespace ccjail::server {
namespace {

// "https://host", "https://host:8443", "https://[::1]:8443" (checked by the config loader).
GatewayUpstream parse_upstream(const std::string& url) {
    GatewayUpstream upstream;
    std::string authority = url.substr(std::string_view("https://").size());
    upstream.host_header = authority;
    std::string port;
    if (!authority.empty() && authority.front() == '[') {
        const auto close = authority.find(']');
        upstream.host = authority.substr(1, close - 1);
        if (close + 1 < authority.size()) {
            port = authority.substr(close + 2);
        }
    } else if (const auto colon = authority.rfind(':'); colon != std::string::npos) {
        upstream.host = authority.substr(0, colon);
        port = authority.substr(colon + 1);
    } else {
        upstream.host = authority;
    }
    if (!port.empty()) {
        upstream.port = static_cast<std::uint16_t>(std::stoul(port));
    }
    return upstream;
}

// The awaitable's handler is move-only; the net/ callbacks are std::function, so copyable.
template <typename Result, typename Start>
auto await_callback(Start start) {
    return boost::asio::async_initiate<const boost::asio::use_awaitable_t<>&, void(Result)>(
        [start = std::move(start)](auto handler) mutable {
            auto shared = std::make_shared<decltype(handler)>(std::move(handler));
            start([shared](Result result) mutable { (*shared)(std::move(result)); });
        },
        boost::asio::use_awaitable);
}

}  // namespace

EgressConfig egress_config_from(const DaemonConfig& config) {
    EgressConfig egress;
    egress.upstream = parse_upstream(config.gateway_upstream);
    egress.key_file = config.gateway_key_file;
    egress.key_header = config.gateway_key_header;
    if (!config.gateway_ca_file.empty()) {
        egress.ca_file = config.gateway_ca_file;
    }
    egress.dns.servers = config.dns_servers;
    // c-ares doubles the wait per round: two tries within the configured time.
    egress.dns.timeout = config.dns_timeout_ms / 3;
    egress.dns.tries = 2;
    // One resolver serves every session: its cap on lookups in flight must not let a few
    // sessions that open connections in a loop starve the others. Each session can have at
    // most max_connections lookups pending; this covers 64 sessions at the default of 32 twice
    // over, at a few KiB of c-ares state per lookup.
    egress.dns.max_pending = 4096;
    return egress;
}

nlohmann::json to_json(const EgressTotals& t) {
    return {{"connections", t.connections},
            {"denied", t.denied},
            {"bytes_sent", t.bytes_sent},
            {"bytes_received", t.bytes_received},
            {"open", t.open}};
}

// ---- shared ---------------------------------------------------------------------------------

EgressShared::EgressShared(boost::asio::io_context& io_context, EgressConfig egress_config,
                           const audit::AuditLog& audit_log, metrics::DaemonMetrics& daemon_metrics)
    : io(io_context),
      config(std::move(egress_config)),
      audit(audit_log),
      metrics(daemon_metrics),
      resolver(io_context, config.dns) {}

boost::asio::ssl::context& EgressShared::tls() {
    if (!tls_) {
        tls_.emplace(net::make_client_tls_context(config.ca_file));
    }
    return *tls_;
}

// ---- one connection ---------------------------------------------------------------------------

EgressConnection::EgressConnection(tcp::socket jail_socket)
    : jail(std::move(jail_socket)), deadline_(jail.get_executor()) {}

void EgressConnection::arm(std::chrono::milliseconds timeout) {
    deadline_.expires_after(timeout);
    deadline_.async_wait([weak = weak_from_this()](const boost::system::error_code& ec) {
        if (ec) {
            return;
        }
        if (auto self = weak.lock()) {
            self->timed_out_ = true;
            self->abort();
        }
    });
}

void EgressConnection::disarm() {
    deadline_.cancel();
}

void EgressConnection::abort() {
    if (aborted_) {
        return;
    }
    aborted_ = true;
    boost::system::error_code ignored;
    jail.close(ignored);
    if (upstream) {
        upstream->close(ignored);
    }
    if (tls_upstream) {
        tls_upstream->lowest_layer().close(ignored);
    }
    pending.cancel();
    if (cancel_relay) {
        cancel_relay();
    }
    deadline_.cancel();
}

std::uint64_t EgressConnection::elapsed_ms() const {
    return static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                          std::chrono::steady_clock::now() - started)
                                          .count());
}

// ---- one session ------------------------------------------------------------------------------

EgressSession::EgressSession(std::shared_ptr<EgressShared> shared_state, std::string session_id,
                             audit::AuditContext audit_context, NetworkPolicy network)
    : shared(std::move(shared_state)),
      id(std::move(session_id)),
      context(std::move(audit_context)),
      policy(std::move(network)) {}

void EgressSession::listen(EgressListener kind, UniqueFd listener) {
    auto& acceptor = kind == EgressListener::proxy ? proxy_acceptor_ : gateway_acceptor_;
    acceptor.emplace(shared->io);
    boost::system::error_code ec;
    acceptor->assign(tcp::v4(), listener.release(), ec);
    if (ec) {
        acceptor.reset();
        return;
    }
    accept_next(kind, *acceptor);
}

void EgressSession::accept_next(EgressListener kind, tcp::acceptor& acceptor) {
    acceptor.async_accept([self = shared_from_this(), kind, &acceptor](
                              const boost::system::error_code& ec, tcp::socket socket) {
        if (self->closed_ || ec == boost::asio::error::operation_aborted) {
            return;
        }
        if (!ec) {
            self->serve(kind, std::move(socket));
        }
        // EMFILE and friends pass; the jail's next connection is tried anyway.
        self->accept_next(kind, acceptor);
    });
}

void EgressSession::serve(EgressListener kind, tcp::socket socket) {
    if (totals.open >= policy.max_connections) {
        // Refused before anything is read: a jail opening connections in a loop costs an
        // accept, one write into an empty socket buffer (so it cannot block) and a close.
        boost::system::error_code ignored;
        const std::string refusal = egress::error_response(503, "too many connections");
        socket.non_blocking(true, ignored);
        socket.write_some(boost::asio::buffer(refusal), ignored);
        socket.close(ignored);
        record(
            kind == EgressListener::proxy ? audit::AuditEvent::egress : audit::AuditEvent::gateway,
            false,
            {{"reason", "too many connections (max_connections " +
                            std::to_string(policy.max_connections) + ")"},
             {"status", 503}});
        return;
    }
    auto connection = std::make_shared<EgressConnection>(std::move(socket));
    connections_.insert(connection);
    ++totals.open;
    auto body = kind == EgressListener::proxy
                    ? serve_proxy_connection(shared_from_this(), connection)
                    : serve_gateway_connection(shared_from_this(), connection);
    boost::asio::co_spawn(shared->io, std::move(body),
                          [self = shared_from_this(), connection](const std::exception_ptr&) {
                              connection->abort();
                              self->connections_.erase(connection);
                              --self->totals.open;
                          });
}

void EgressSession::close() {
    if (closed_) {
        return;
    }
    closed_ = true;
    boost::system::error_code ignored;
    if (proxy_acceptor_) {
        proxy_acceptor_->close(ignored);
    }
    if (gateway_acceptor_) {
        gateway_acceptor_->close(ignored);
    }
    for (const auto& connection : connections_) {
        connection->abort();
    }
}

void EgressSession::record(audit::AuditEvent event, bool allowed, nlohmann::json fields) {
    ++totals.connections;
    if (!allowed) {
        ++totals.denied;
    }
    fields["decision"] = allowed ? "allowed" : "denied";
    shared->metrics.egress(event == audit::AuditEvent::egress ? "proxy" : "gateway", allowed,
                           fields.value("bytes_sent", std::uint64_t{0}),
                           fields.value("bytes_received", std::uint64_t{0}));
    shared->audit.record(event, allowed ? spdlog::level::info : spdlog::level::warn, context,
                         fields);
}

// ---- the hub ----------------------------------------------------------------------------------

EgressHub::EgressHub(boost::asio::io_context& io, EgressConfig config, const audit::AuditLog& audit,
                     metrics::DaemonMetrics& metrics)
    : shared_(std::make_shared<EgressShared>(io, std::move(config), audit, metrics)) {}

// close_all() throws nothing in practice: it closes with the error_code overloads and cancels
// timers, which have no error to report on the epoll reactor.
EgressHub::~EgressHub() {  // NOLINT(bugprone-exception-escape): see above
    close_all();
}

void EgressHub::open(const std::string& session, audit::AuditContext context,
                     const NetworkPolicy& policy,
                     // NOLINTNEXTLINE(performance-unnecessary-value-param): the fds move out
                     std::vector<std::pair<EgressListener, UniqueFd>> listeners) {
    close(session);
    auto egress = std::make_shared<EgressSession>(shared_, session, std::move(context), policy);
    for (auto& [kind, fd] : listeners) {
        egress->listen(kind, std::move(fd));
    }
    sessions_[session] = std::move(egress);
}

void EgressHub::close(const std::string& session) {
    const auto it = sessions_.find(session);
    if (it == sessions_.end()) {
        return;
    }
    it->second->close();
    sessions_.erase(it);
}

void EgressHub::close_all() {
    for (auto& [id, session] : sessions_) {
        session->close();
    }
    sessions_.clear();
}

std::optional<EgressTotals> EgressHub::totals(const std::string& session) const {
    const auto it = sessions_.find(session);
    if (it == sessions_.end()) {
        return std::nullopt;
    }
    return it->second->totals;
}

// ---- awaitable helpers ------------------------------------------------------------------------

// The initiations capture plain pointers, never objects: GCC 12 relocates a closure passed by
// value into asio's initiating coroutine with a bitwise copy, which corrupts a captured
// std::string (seen as free(): invalid pointer in the first proxy test). Pointers survive any
// copy, and what they point to outlives the operation.
awaitable<net::ResolveResult> resolve(EgressShared& shared, EgressConnection& /*connection*/,
                                      const std::string& host) {
    EgressShared* const owner = &shared;
    const std::string* const name = &host;
    co_return co_await await_callback<net::ResolveResult>(
        [owner, name](auto done) { owner->resolver.async_resolve(*name, std::move(done)); });
}

awaitable<net::ConnectResult> connect_any(EgressShared& shared, EgressConnection& connection,
                                          std::vector<tcp::endpoint>& endpoints,
                                          std::chrono::milliseconds timeout) {
    EgressShared* const owner = &shared;
    EgressConnection* const for_connection = &connection;
    auto* const targets = &endpoints;
    co_return co_await await_callback<net::ConnectResult>(
        [owner, for_connection, targets, timeout](auto done) {
            for_connection->pending =
                net::async_connect_any(owner->io, std::move(*targets), timeout, std::move(done));
        });
}

awaitable<net::TlsConnectResult> tls_connect(EgressShared& shared, EgressConnection& connection,
                                             tcp::socket& socket, const std::string& host,
                                             std::chrono::milliseconds timeout) {
    EgressShared* const owner = &shared;
    EgressConnection* const for_connection = &connection;
    tcp::socket* const connected = &socket;
    const std::string* const name = &host;
    co_return co_await await_callback<net::TlsConnectResult>(
        [owner, for_connection, connected, name, timeout](auto done) {
            for_connection->pending = net::async_tls_connect(owner->tls(), std::move(*connected),
                                                             *name, timeout, std::move(done));
        });
}

awaitable<std::optional<egress::RequestParse>> read_request_head(EgressConnection& connection,
                                                                 std::string& buffer) {
    connection.arm(kRequestHeadTimeout);
    char chunk[4096];
    for (;;) {
        auto parse = egress::parse_request_head(buffer, kMaxRequestHeadBytes);
        if (parse.status != egress::HeadStatus::incomplete) {
            connection.disarm();
            co_return parse;
        }
        boost::system::error_code ec;
        const std::size_t n = co_await connection.jail.async_read_some(
            boost::asio::buffer(chunk),
            boost::asio::redirect_error(boost::asio::use_awaitable, ec));
        if (ec || n == 0) {
            co_return std::nullopt;
        }
        buffer.append(chunk, n);
    }
}

awaitable<void> refuse(EgressSession& session, EgressConnection& connection,
                       audit::AuditEvent event, const nlohmann::json& request_fields,
                       const Refusal& refusal) {
    nlohmann::json fields = request_fields;
    fields["status"] = refusal.status;
    fields["reason"] = refusal.reason;
    fields["duration_ms"] = connection.elapsed_ms();
    session.record(event, false, std::move(fields));
    connection.arm(std::chrono::seconds(5));
    const std::string response = egress::error_response(refusal.status, refusal.reason);
    const bool written = co_await write_to_jail(connection, response);
    connection.disarm();
    if (written) {
        co_await drain_before_close(connection);
    }
}

// A refusal can come before the jail has sent its whole request: a bare LF is refused at the
// first line, while the client may still be writing the next ones. Closing a TCP socket with
// unread bytes makes the kernel send a reset, which discards the answer still queued in the
// jail's receive buffer and turns the client's next write into EPIPE (a SIGPIPE for a shell
// writing to /dev/tcp, seen in CI). So the answer is followed by a half-close, and whatever
// the jail still sends is read and dropped until it closes, within a bounded time and size.
awaitable<void> drain_before_close(EgressConnection& connection) {
    boost::system::error_code ec;
    connection.jail.shutdown(tcp::socket::shutdown_send, ec);
    if (ec) {
        co_return;
    }
    connection.arm(kDrainBeforeCloseTimeout);
    char chunk[4096];
    std::size_t drained = 0;
    while (drained < kDrainBeforeCloseBytes) {
        const std::size_t n = co_await connection.jail.async_read_some(
            boost::asio::buffer(chunk),
            boost::asio::redirect_error(boost::asio::use_awaitable, ec));
        if (ec || n == 0) {
            break;
        }
        drained += n;
    }
    connection.disarm();
}

awaitable<bool> write_to_jail(EgressConnection& connection, std::string_view bytes) {
    boost::system::error_code ec;
    co_await boost::asio::async_write(connection.jail, boost::asio::buffer(bytes),
                                      boost::asio::redirect_error(boost::asio::use_awaitable, ec));
    co_return !ec;
}

}  // namespace ccjail::server
