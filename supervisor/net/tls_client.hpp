#pragma once

#include <chrono>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/stream.hpp>

#include "net/cancel_handle.hpp"

namespace ccjail::net {

using TlsStream = boost::asio::ssl::stream<boost::asio::ip::tcp::socket>;

// A client context that verifies the peer against `ca_file` (PEM, one or more CAs) or, without
// one, the system's default store; TLS 1.2 at least. Throws JailError(Step::supervise, ...)
// when the CA file cannot be loaded. Keep it alive while streams made from it are in use.
boost::asio::ssl::context make_client_tls_context(
    const std::optional<std::filesystem::path>& ca_file);

// Why a TLS connect ended; a closed set.
enum class TlsError {
    ok,
    verify_failed,     // chain or name check failed; the message has OpenSSL's reason
    timeout,           // no finished handshake within the timeout
    handshake_failed,  // alert, protocol mismatch, peer closed during the handshake, ...
    cancelled,         // CancelHandle::cancel()
    other,             // bad host name
};

std::string_view to_string(TlsError error);

struct TlsConnectResult {
    TlsError error = TlsError::other;
    std::string message;
    // The handshaken stream when ok.
    std::optional<TlsStream> stream;
};

using TlsConnectHandler = std::function<void(TlsConnectResult)>;

// Wraps a connected socket in TLS and handshakes as a client of `host`: SNI is set to it (not
// for an IP literal: RFC 6066 forbids), and the leaf must match it (DNS name, or IP address for
// a literal). The name check is OpenSSL's own X509_VERIFY_PARAM rather than asio's
// host_name_verification callback, so that a mismatch comes back from SSL_get_verify_result
// as "hostname mismatch" instead of an unexplained verify failure.
//
// The handler runs exactly once, on the socket's executor, never inside this call or inside
// CancelHandle::cancel(); the operation keeps itself alive until then.
CancelHandle async_tls_connect(boost::asio::ssl::context& context,
                               boost::asio::ip::tcp::socket socket, std::string host,
                               std::chrono::milliseconds timeout, TlsConnectHandler handler);

}  // namespace ccjail::net
