// The API gateway of network mode gateway (docs/egress.md): the jail speaks plain HTTP to
// 127.0.0.1:<gateway_port>; each request goes to the configured upstream over TLS with the key
// added, and the response streams back as it arrives (server-sent events included). The key is
// read here, at each request, and exists nowhere in the jail.

#include <boost/asio/redirect_error.hpp>
#include <boost/asio/write.hpp>

#include "egress/body_framing.hpp"
#include "egress/chunked_scanner.hpp"
#include "egress/header_rewrite.hpp"
#include "server/egress_internal.hpp"
#include "server/gateway_key.hpp"

namespace ccjail::server {
namespace {

// The path without its query: what the audit line keeps.
std::string path_only(const std::string& path) {
    return path.substr(0, path.find('?'));
}

// The request body follows the head as the framing says; bytes past its end (a pipelined
// request) are not forwarded: one request per connection, each with the key added by us.
class BodyCutter {
  public:
    explicit BodyCutter(egress::BodyFraming framing) : framing_(std::move(framing)) {}

    // How many of `bytes` belong to the body; done() once the body is complete.
    std::size_t take(std::string_view bytes) {
        switch (framing_.kind) {
            case egress::FramingKind::content_length: {
                const auto n = static_cast<std::size_t>(
                    std::min<std::uint64_t>(bytes.size(), framing_.length - taken_));
                taken_ += n;
                return n;
            }
            case egress::FramingKind::chunked:
                return scanner_.feed(bytes);
            default:
                return 0;
        }
    }
    bool done() const {
        switch (framing_.kind) {
            case egress::FramingKind::content_length:
                return taken_ == framing_.length;
            case egress::FramingKind::chunked:
                return scanner_.status() != egress::ChunkedScanner::Status::in_body;
            default:
                return true;
        }
    }
    bool invalid() const {
        return framing_.kind == egress::FramingKind::chunked &&
               scanner_.status() == egress::ChunkedScanner::Status::invalid;
    }

  private:
    egress::BodyFraming framing_;
    std::uint64_t taken_ = 0;
    egress::ChunkedScanner scanner_;
};

awaitable<std::optional<net::TlsStream>> open_upstream(EgressSession& session,
                                                       EgressConnection& connection,
                                                       Refusal& refusal) {
    const auto& upstream = session.shared->config.upstream;
    std::vector<tcp::endpoint> endpoints;
    boost::system::error_code ec;
    const auto literal = boost::asio::ip::make_address(upstream.host, ec);
    if (!ec) {
        endpoints.emplace_back(literal, upstream.port);
    } else {
        const net::ResolveResult resolved =
            co_await resolve(*session.shared, connection, upstream.host);
        if (resolved.error != net::ResolveError::ok) {
            refusal = Refusal{resolved.error == net::ResolveError::timeout ? 504 : 502,
                              "cannot resolve the upstream " + upstream.host + ": " +
                                  std::string(net::to_string(resolved.error))};
            co_return std::nullopt;
        }
        for (const auto& address : resolved.addresses) {
            endpoints.emplace_back(address, upstream.port);
        }
    }
    const auto timeout = std::chrono::milliseconds(session.policy.connect_timeout_ms);
    net::ConnectResult connected =
        co_await connect_any(*session.shared, connection, endpoints, timeout);
    if (connected.error != net::ConnectError::ok) {
        refusal = Refusal{connected.error == net::ConnectError::timeout ? 504 : 502,
                          "cannot connect to the upstream: " + connected.message};
        co_return std::nullopt;
    }
    net::TlsConnectResult tls = co_await tls_connect(*session.shared, connection, *connected.socket,
                                                     upstream.host, timeout);
    if (tls.error != net::TlsError::ok) {
        refusal = Refusal{tls.error == net::TlsError::timeout ? 504 : 502,
                          "TLS to the upstream failed: " + tls.message};
        co_return std::nullopt;
    }
    co_return std::move(*tls.stream);
}

// Sends the rest of the request body from the jail to the upstream.
awaitable<bool> forward_body(EgressConnection& connection, BodyCutter& body,
                             std::uint64_t& bytes_sent) {
    char chunk[kRelayBufferBytes];
    while (!body.done()) {
        boost::system::error_code ec;
        const std::size_t n = co_await connection.jail.async_read_some(
            boost::asio::buffer(chunk),
            boost::asio::redirect_error(boost::asio::use_awaitable, ec));
        if (ec || n == 0) {
            co_return false;
        }
        const std::size_t part = body.take(std::string_view(chunk, n));
        if (body.invalid()) {
            co_return false;
        }
        co_await boost::asio::async_write(
            *connection.tls_upstream, boost::asio::buffer(chunk, part),
            boost::asio::redirect_error(boost::asio::use_awaitable, ec));
        if (ec) {
            co_return false;
        }
        bytes_sent += part;
    }
    co_return !body.invalid();
}

// Reads the upstream's response head; `buffer` keeps what came after it.
awaitable<std::optional<egress::ResponseHead>> read_response_head(EgressConnection& connection,
                                                                  std::string& buffer,
                                                                  std::string& problem) {
    char chunk[kRelayBufferBytes];
    for (;;) {
        auto parse = egress::parse_response_head(buffer, kMaxResponseHeadBytes);
        if (parse.status == egress::HeadStatus::complete) {
            buffer.erase(0, parse.head.head_length);
            co_return parse.head;
        }
        if (parse.status != egress::HeadStatus::incomplete) {
            problem = "unreadable response head from the upstream: " + parse.reason;
            co_return std::nullopt;
        }
        boost::system::error_code ec;
        const std::size_t n = co_await connection.tls_upstream->async_read_some(
            boost::asio::buffer(chunk),
            boost::asio::redirect_error(boost::asio::use_awaitable, ec));
        if (ec || n == 0) {
            problem = "the upstream closed before its response head";
            co_return std::nullopt;
        }
        buffer.append(chunk, n);
    }
}

// Streams the response body to the jail as it arrives, until the upstream closes (we asked for
// Connection: close) or nothing moves for the policy's idle timeout.
awaitable<void> stream_response(EgressSession& session, EgressConnection& connection,
                                std::uint64_t& bytes_received) {
    char chunk[kRelayBufferBytes];
    const auto idle = std::chrono::milliseconds(session.policy.idle_timeout_ms);
    for (;;) {
        connection.arm(idle);
        boost::system::error_code ec;
        const std::size_t n = co_await connection.tls_upstream->async_read_some(
            boost::asio::buffer(chunk),
            boost::asio::redirect_error(boost::asio::use_awaitable, ec));
        if (n == 0 || (ec && n == 0)) {
            break;
        }
        co_await boost::asio::async_write(
            connection.jail, boost::asio::buffer(chunk, n),
            boost::asio::redirect_error(boost::asio::use_awaitable, ec));
        if (ec) {
            break;
        }
        bytes_received += n;
    }
    connection.disarm();
}

}  // namespace

awaitable<void> serve_gateway_connection(std::shared_ptr<EgressSession> session,
                                         std::shared_ptr<EgressConnection> connection) {
    std::string buffer;
    const auto parse = co_await read_request_head(*connection, buffer);
    if (!parse) {
        co_return;
    }
    nlohmann::json fields = nlohmann::json::object();
    Refusal refusal;
    if (parse->status != egress::HeadStatus::complete) {
        refusal.status = parse->status == egress::HeadStatus::too_large ? 431 : 400;
        refusal.reason = parse->reason;
        co_await refuse(*session, *connection, audit::AuditEvent::gateway, fields, refusal);
        co_return;
    }
    const egress::RequestHead& head = parse->head;
    fields = {{"method", head.method}, {"path", path_only(head.path)}};
    if (head.form != egress::TargetForm::origin) {
        refusal = Refusal{400, "the gateway takes origin-form requests (\"POST /v1/...\")"};
        co_await refuse(*session, *connection, audit::AuditEvent::gateway, fields, refusal);
        co_return;
    }
    const auto framing = egress::request_body_framing(head);
    if (framing.kind == egress::FramingKind::invalid) {
        refusal = Refusal{400, framing.reason};
        co_await refuse(*session, *connection, audit::AuditEvent::gateway, fields, refusal);
        co_return;
    }
    std::string key;
    try {
        key = read_gateway_key(session->shared->config.key_file);
    } catch (const std::exception& error) {
        refusal = Refusal{502, error.what()};
    }
    if (key.empty()) {
        co_await refuse(*session, *connection, audit::AuditEvent::gateway, fields, refusal);
        co_return;
    }
    const auto& config = session->shared->config;
    auto rewritten =
        egress::gateway_request_head(head, config.upstream.host_header, config.key_header, key);
    key.assign(key.size(), '\0');
    if (!rewritten.ok) {
        refusal = Refusal{400, rewritten.reason};
        co_await refuse(*session, *connection, audit::AuditEvent::gateway, fields, refusal);
        co_return;
    }
    std::optional<net::TlsStream> upstream = co_await open_upstream(*session, *connection, refusal);
    if (!upstream) {
        co_await refuse(*session, *connection, audit::AuditEvent::gateway, fields, refusal);
        co_return;
    }
    connection->tls_upstream.emplace(std::move(*upstream));
    if (connection->aborted()) {
        co_return;
    }
    BodyCutter body(framing);
    const std::string_view early = std::string_view(buffer).substr(head.head_length);
    const std::string first = rewritten.bytes + std::string(early.substr(0, body.take(early)));
    rewritten.bytes.assign(rewritten.bytes.size(), '\0');
    if (body.invalid()) {
        refusal = Refusal{400, "malformed chunked request body"};
        co_await refuse(*session, *connection, audit::AuditEvent::gateway, fields, refusal);
        co_return;
    }
    std::uint64_t bytes_sent = first.size();
    std::uint64_t bytes_received = 0;
    boost::system::error_code ec;
    connection->arm(std::chrono::milliseconds(session->policy.idle_timeout_ms));
    co_await boost::asio::async_write(*connection->tls_upstream, boost::asio::buffer(first),
                                      boost::asio::redirect_error(boost::asio::use_awaitable, ec));
    bool sent = !ec;
    if (sent) {
        sent = co_await forward_body(*connection, body, bytes_sent);
    }
    if (!sent) {
        refusal = body.invalid() ? Refusal{400, "malformed chunked request body"}
                                 : Refusal{502, "the request could not be sent upstream"};
        co_await refuse(*session, *connection, audit::AuditEvent::gateway, fields, refusal);
        co_return;
    }
    std::string rest;
    std::string problem;
    const std::optional<egress::ResponseHead> response =
        co_await read_response_head(*connection, rest, problem);
    if (!response) {
        refusal = Refusal{connection->timed_out() ? 504 : 502, problem};
        co_await refuse(*session, *connection, audit::AuditEvent::gateway, fields, refusal);
        co_return;
    }
    const std::string response_head = egress::gateway_response_head(*response);
    const std::array<boost::asio::const_buffer, 2> head_and_rest{boost::asio::buffer(response_head),
                                                                 boost::asio::buffer(rest)};
    co_await boost::asio::async_write(connection->jail, head_and_rest,
                                      boost::asio::redirect_error(boost::asio::use_awaitable, ec));
    bytes_received += response_head.size() + rest.size();
    if (!ec) {
        co_await stream_response(*session, *connection, bytes_received);
    }
    session->totals.bytes_sent += bytes_sent;
    session->totals.bytes_received += bytes_received;
    fields["status"] = response->status;
    fields["bytes_sent"] = bytes_sent;
    fields["bytes_received"] = bytes_received;
    fields["duration_ms"] = connection->elapsed_ms();
    session->record(audit::AuditEvent::gateway, true, std::move(fields));
}

}  // namespace ccjail::server
