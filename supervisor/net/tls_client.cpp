#include "net/tls_client.hpp"

#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <memory>

#include "common/error.hpp"

namespace ccjail::net {

namespace asio = boost::asio;
namespace ssl = boost::asio::ssl;
using asio::ip::tcp;

std::string_view to_string(TlsError error) {
    switch (error) {
        case TlsError::ok:
            return "ok";
        case TlsError::verify_failed:
            return "verify_failed";
        case TlsError::timeout:
            return "timeout";
        case TlsError::handshake_failed:
            return "handshake_failed";
        case TlsError::cancelled:
            return "cancelled";
        case TlsError::other:
            return "other";
    }
    return "other";
}

ssl::context make_client_tls_context(const std::optional<std::filesystem::path>& ca_file) {
    ssl::context context(ssl::context::tls_client);
    SSL_CTX_set_min_proto_version(context.native_handle(), TLS1_2_VERSION);
    context.set_options(ssl::context::default_workarounds | ssl::context::no_compression);
    context.set_verify_mode(ssl::verify_peer);
    boost::system::error_code ec;
    if (ca_file) {
        context.load_verify_file(ca_file->string(), ec);
        if (ec) {
            throw JailError(Step::supervise, 0,
                            "cannot load CA file " + ca_file->string() + ": " + ec.message());
        }
    } else {
        context.set_default_verify_paths(ec);
        if (ec) {
            throw JailError(Step::supervise, 0,
                            "cannot load the system's CA store: " + ec.message());
        }
    }
    return context;
}

namespace {

bool is_ip_literal(const std::string& host) {
    boost::system::error_code ec;
    asio::ip::make_address(host, ec);
    return !ec;
}

// Returns false when OpenSSL rejects the name (too long for SNI, out of memory).
bool expect_peer(SSL* ssl, const std::string& host) {
    if (is_ip_literal(host)) {
        return X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), host.c_str()) == 1;
    }
    SSL_set_hostflags(ssl, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
    return SSL_set_tlsext_host_name(ssl, host.c_str()) == 1 &&
           SSL_set1_host(ssl, host.c_str()) == 1;
}

class TlsConnectOperation : public Cancellable,
                            public std::enable_shared_from_this<TlsConnectOperation> {
  public:
    TlsConnectOperation(ssl::context& context, tcp::socket socket, std::string host,
                        std::chrono::milliseconds timeout, TlsConnectHandler handler)
        : host_(std::move(host)),
          timeout_(timeout),
          handler_(std::move(handler)),
          timer_(socket.get_executor()) {
        stream_.emplace(std::move(socket), context);
    }

    void start() {
        // c_str() would cut the name at a NUL and verify a different host than asked for.
        if (host_.empty() || host_.find('\0') != std::string::npos) {
            finish(TlsError::other, "invalid host name");
            return;
        }
        if (!expect_peer(stream_->native_handle(), host_)) {
            finish(TlsError::other, "OpenSSL rejected host name \"" + host_ + "\"");
            return;
        }
        timer_.expires_after(timeout_);
        timer_.async_wait([self = shared_from_this()](const boost::system::error_code& ec) {
            if (!ec && !self->done_) {
                self->finish(TlsError::timeout, "TLS handshake with " + self->host_ +
                                                    " timed out after " +
                                                    std::to_string(self->timeout_.count()) + " ms");
            }
        });
        stream_->async_handshake(ssl::stream_base::client,
                                 [self = shared_from_this()](const boost::system::error_code& ec) {
                                     self->on_handshake(ec);
                                 });
    }

    void cancel() override {
        if (!done_) {
            finish(TlsError::cancelled, "TLS connect cancelled");
        }
    }

  private:
    void on_handshake(const boost::system::error_code& ec) {
        if (done_) {
            return;
        }
        if (!ec) {
            finish(TlsError::ok, "");
            return;
        }
        const long verify = SSL_get_verify_result(stream_->native_handle());
        if (verify != X509_V_OK) {
            finish(TlsError::verify_failed, "certificate of " + host_ + " not accepted: " +
                                                X509_verify_cert_error_string(verify));
            return;
        }
        if (ec == asio::error::eof || ec == ssl::error::stream_truncated) {
            finish(TlsError::handshake_failed,
                   host_ + " closed the connection during the TLS handshake");
            return;
        }
        finish(TlsError::handshake_failed,
               "TLS handshake with " + host_ + " failed: " + ec.message());
    }

    void finish(TlsError error, std::string message) {
        done_ = true;
        timer_.cancel();
        TlsConnectResult result{error, std::move(message), std::nullopt};
        if (error == TlsError::ok) {
            result.stream.emplace(std::move(*stream_));
        } else {
            // The stream itself stays here: a handshake still in flight writes into it until its
            // aborted handler has run.
            boost::system::error_code ignored;
            stream_->lowest_layer().close(ignored);
        }
        asio::post(timer_.get_executor(),
                   [handler = std::move(handler_), result = std::move(result)]() mutable {
                       handler(std::move(result));
                   });
    }

    std::string host_;
    std::chrono::milliseconds timeout_;
    TlsConnectHandler handler_;
    asio::steady_timer timer_;
    std::optional<TlsStream> stream_;
    bool done_ = false;
};

}  // namespace

CancelHandle async_tls_connect(ssl::context& context, tcp::socket socket, std::string host,
                               std::chrono::milliseconds timeout, TlsConnectHandler handler) {
    auto operation = std::make_shared<TlsConnectOperation>(
        context, std::move(socket), std::move(host), timeout, std::move(handler));
    operation->start();
    return CancelHandle(operation);
}

}  // namespace ccjail::net
