// The CONNECT proxy of network modes proxy and gateway (docs/egress.md): one coroutine per
// connection from a jail, reading like the rules it applies.

#include <boost/asio/redirect_error.hpp>
#include <boost/asio/write.hpp>

#include "egress/address_policy.hpp"
#include "egress/allow_rule.hpp"
#include "egress/body_framing.hpp"
#include "egress/error_response.hpp"
#include "egress/header_rewrite.hpp"
#include "net/byte_relay.hpp"
#include "server/egress_internal.hpp"

namespace ccjail::server {
namespace {

nlohmann::json destination_fields(const egress::RequestHead& head) {
    return {{"host", head.host}, {"port", head.port}, {"method", head.method}};
}

// The policy's verdict on the destination as the request names it, before any lookup.
std::optional<Refusal> check_request(const NetworkPolicy& policy, const egress::RequestHead& head) {
    using egress::TargetForm;
    if (head.form == TargetForm::origin) {
        return Refusal{400, "not a proxy request (origin-form target)"};
    }
    if (head.form == TargetForm::authority && head.method != "CONNECT") {
        return Refusal{400, "an authority-form target needs CONNECT"};
    }
    if (head.form == TargetForm::absolute && !policy.allow_plain_http) {
        return Refusal{405, "plain HTTP through the proxy is not allowed by the profile"};
    }
    if (head.host_kind != egress::HostKind::name && !policy.allow_ip_literals) {
        return Refusal{403, "IP literal destinations are not allowed by the profile"};
    }
    if (!egress::host_allowed(policy.allow, head.host, head.port)) {
        return Refusal{403, head.host + ":" + std::to_string(head.port) +
                                " is not in the profile's network.allow"};
    }
    return std::nullopt;
}

int status_for(net::ResolveError error) {
    return error == net::ResolveError::timeout ? 504 : 502;
}

int status_for(net::ConnectError error) {
    return error == net::ConnectError::timeout ? 504 : 502;
}

// The addresses the name leads to, less those the policy refuses. A name that resolves to a
// refused address is refused as a whole when nothing else is left: connecting only to vetted
// addresses is what defeats DNS rebinding. On a refusal `endpoints` stays empty.
awaitable<void> vet_endpoints(EgressSession& session, EgressConnection& connection,
                              const egress::RequestHead& head,
                              std::vector<tcp::endpoint>& endpoints, Refusal& refusal) {
    std::vector<boost::asio::ip::address> addresses;
    if (head.host_kind == egress::HostKind::name) {
        const net::ResolveResult result = co_await resolve(*session.shared, connection, head.host);
        if (result.error != net::ResolveError::ok) {
            refusal.status = status_for(result.error);
            refusal.reason =
                "cannot resolve " + head.host + ": " + std::string(net::to_string(result.error));
            co_return;
        }
        addresses = result.addresses;
    } else {
        boost::system::error_code ec;
        addresses.push_back(boost::asio::ip::make_address(head.host, ec));
        if (ec) {
            refusal.status = 400;
            refusal.reason = "unreadable address " + head.host;
            co_return;
        }
    }
    std::string first_refusal;
    for (const auto& address : addresses) {
        const auto verdict = egress::address_permitted(session.policy, address);
        if (verdict.ok) {
            endpoints.emplace_back(address, head.port);
        } else if (first_refusal.empty()) {
            first_refusal = verdict.reason;
        }
    }
    if (endpoints.empty()) {
        refusal.status = 403;
        refusal.reason = first_refusal.empty() ? "no address" : first_refusal;
    }
}

// What the upstream gets first: for CONNECT whatever the jail sent after the head (a TLS
// ClientHello may come at once); for plain HTTP the rebuilt head, then the rest.
std::optional<std::string> first_upstream_bytes(const egress::RequestHead& head,
                                                const std::string& buffer, Refusal& refusal) {
    const std::string rest = buffer.substr(head.head_length);
    if (head.form == egress::TargetForm::authority) {
        return rest;
    }
    const auto framing = egress::request_body_framing(head);
    if (framing.kind == egress::FramingKind::invalid) {
        refusal = Refusal{400, framing.reason};
        return std::nullopt;
    }
    auto rewritten = egress::plain_http_request_head(head);
    if (!rewritten.ok) {
        refusal = Refusal{400, rewritten.reason};
        return std::nullopt;
    }
    return rewritten.bytes + rest;
}

// Relays until either side is done; the relay owns both sockets (the jail's is moved out of
// the connection, which can still cancel it).
awaitable<net::RelayResult> relay(EgressSession& session, EgressConnection& connection,
                                  tcp::socket& upstream) {
    net::RelayOptions options;
    options.buffer_size = kRelayBufferBytes;
    options.idle_timeout = std::chrono::milliseconds(session.policy.idle_timeout_ms);
    EgressConnection* const owner = &connection;
    tcp::socket* const destination = &upstream;
    co_return co_await boost::asio::async_initiate<const boost::asio::use_awaitable_t<>&,
                                                   void(net::RelayResult)>(
        [owner, destination, options](auto handler) {
            auto shared_handler = std::make_shared<decltype(handler)>(std::move(handler));
            auto started = net::Relay<tcp::socket, tcp::socket>::create(
                std::move(owner->jail), std::move(*destination), options,
                [shared_handler](const net::RelayResult& result) { (*shared_handler)(result); });
            owner->cancel_relay = [weak = std::weak_ptr(started)] {
                if (auto r = weak.lock()) {
                    r->cancel();
                }
            };
            started->start();
        },
        boost::asio::use_awaitable);
}

}  // namespace

awaitable<void> serve_proxy_connection(std::shared_ptr<EgressSession> session,
                                       std::shared_ptr<EgressConnection> connection) {
    std::string buffer;
    const auto parse = co_await read_request_head(*connection, buffer);
    if (!parse) {
        co_return;  // closed or timed out before a request: no decision to record
    }
    nlohmann::json fields = nlohmann::json::object();
    Refusal refusal;
    if (parse->status != egress::HeadStatus::complete) {
        refusal.status = parse->status == egress::HeadStatus::too_large ? 431 : 400;
        refusal.reason = parse->reason;
        co_await refuse(*session, *connection, audit::AuditEvent::egress, fields, refusal);
        co_return;
    }
    const egress::RequestHead& head = parse->head;
    fields = destination_fields(head);
    if (auto policy_refusal = check_request(session->policy, head)) {
        refusal = *policy_refusal;
        co_await refuse(*session, *connection, audit::AuditEvent::egress, fields, refusal);
        co_return;
    }
    std::vector<tcp::endpoint> endpoints;
    co_await vet_endpoints(*session, *connection, head, endpoints, refusal);
    if (endpoints.empty()) {
        co_await refuse(*session, *connection, audit::AuditEvent::egress, fields, refusal);
        co_return;
    }
    const auto first = first_upstream_bytes(head, buffer, refusal);
    if (!first) {
        co_await refuse(*session, *connection, audit::AuditEvent::egress, fields, refusal);
        co_return;
    }
    const auto timeout = std::chrono::milliseconds(session->policy.connect_timeout_ms);
    net::ConnectResult connected =
        co_await connect_any(*session->shared, *connection, endpoints, timeout);
    if (connected.error != net::ConnectError::ok) {
        refusal.status = status_for(connected.error);
        refusal.reason = "cannot connect to " + head.host + ": " + connected.message;
        co_await refuse(*session, *connection, audit::AuditEvent::egress, fields, refusal);
        co_return;
    }
    fields["address"] = connected.endpoint.address().to_string();
    tcp::socket upstream = std::move(*connected.socket);
    boost::system::error_code ec;
    if (head.form == egress::TargetForm::authority) {
        const std::string established = egress::connect_established_response();
        co_await boost::asio::async_write(
            connection->jail, boost::asio::buffer(established),
            boost::asio::redirect_error(boost::asio::use_awaitable, ec));
    }
    if (!ec && !first->empty()) {
        co_await boost::asio::async_write(
            upstream, boost::asio::buffer(*first),
            boost::asio::redirect_error(boost::asio::use_awaitable, ec));
    }
    if (ec || connection->aborted()) {
        fields["status"] = 502;
        fields["reason"] = "connection lost before the relay started";
        session->record(audit::AuditEvent::egress, true, std::move(fields));
        co_return;
    }
    const std::uint64_t first_bytes = first->size();
    const net::RelayResult finished = co_await relay(*session, *connection, upstream);
    connection->cancel_relay = nullptr;
    session->totals.bytes_sent += finished.bytes_a_to_b + first_bytes;
    session->totals.bytes_received += finished.bytes_b_to_a;
    if (head.form == egress::TargetForm::authority) {
        fields["status"] = 200;
    }
    fields["bytes_sent"] = finished.bytes_a_to_b + first_bytes;
    fields["bytes_received"] = finished.bytes_b_to_a;
    fields["end"] = net::to_string(finished.end);
    fields["duration_ms"] = connection->elapsed_ms();
    session->record(audit::AuditEvent::egress, true, std::move(fields));
}

}  // namespace ccjail::server
