#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <stdlib.h>

#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/write.hpp>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <thread>

#include "common/error.hpp"
#include "net/byte_relay.hpp"
#include "net/tls_client.hpp"
#include "net_test_loop.hpp"

namespace ccjail::net {
namespace {

namespace asio = boost::asio;
namespace ssl = boost::asio::ssl;
using asio::ip::tcp;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

using test::run_until;

using Key = std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)>;
using Cert = std::unique_ptr<X509, decltype(&X509_free)>;

void add_extension(X509* cert, X509V3_CTX* context, int nid, const char* value) {
    X509_EXTENSION* extension = X509V3_EXT_conf_nid(nullptr, context, nid, value);
    ASSERT_NE(extension, nullptr) << value;
    X509_add_ext(cert, extension, -1);
    X509_EXTENSION_free(extension);
}

// A certificate for `key`, signed by `issuer_key` (self-signed when issuer is null).
Cert make_certificate(EVP_PKEY* key, const char* common_name, X509* issuer, EVP_PKEY* issuer_key,
                      bool is_ca, long serial) {
    Cert cert(X509_new(), X509_free);
    X509_set_version(cert.get(), 2);
    ASN1_INTEGER_set(X509_get_serialNumber(cert.get()), serial);
    X509_gmtime_adj(X509_getm_notBefore(cert.get()), -3600);
    X509_gmtime_adj(X509_getm_notAfter(cert.get()), 24 * 3600);
    X509_set_pubkey(cert.get(), key);
    X509_NAME* name = X509_get_subject_name(cert.get());
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                               reinterpret_cast<const unsigned char*>(common_name), -1, -1, 0);
    X509_set_issuer_name(cert.get(), issuer ? X509_get_subject_name(issuer) : name);
    X509V3_CTX context;
    X509V3_set_ctx_nodb(&context);
    X509V3_set_ctx(&context, issuer ? issuer : cert.get(), cert.get(), nullptr, nullptr, 0);
    add_extension(cert.get(), &context, NID_subject_key_identifier, "hash");
    if (is_ca) {
        add_extension(cert.get(), &context, NID_basic_constraints, "critical,CA:TRUE");
        add_extension(cert.get(), &context, NID_key_usage, "critical,keyCertSign,cRLSign");
    } else {
        add_extension(cert.get(), &context, NID_basic_constraints, "CA:FALSE");
        add_extension(cert.get(), &context, NID_authority_key_identifier, "keyid");
        add_extension(cert.get(), &context, NID_ext_key_usage, "serverAuth");
        add_extension(cert.get(), &context, NID_subject_alt_name, "DNS:localhost,IP:127.0.0.1");
    }
    X509_sign(cert.get(), issuer_key, EVP_sha256());
    return cert;
}

// A throwaway CA and a leaf for localhost / 127.0.0.1, made fresh for each test run; the CA
// is written to a temporary file for the client.
class TestPki {
  public:
    TestPki()
        : ca_key_(EVP_EC_gen("P-256"), EVP_PKEY_free),
          leaf_key_(EVP_EC_gen("P-256"), EVP_PKEY_free),
          ca_(make_certificate(ca_key_.get(), "ccjail test CA", nullptr, ca_key_.get(), true, 1)),
          leaf_(
              make_certificate(leaf_key_.get(), "localhost", ca_.get(), ca_key_.get(), false, 2)) {
        char dir_template[] = "/tmp/ccjail-net-tls-XXXXXX";
        dir_ = ::mkdtemp(dir_template);
        ca_file_ = dir_ / "ca.pem";
        FILE* out = std::fopen(ca_file_.c_str(), "w");
        PEM_write_X509(out, ca_.get());
        std::fclose(out);
    }
    ~TestPki() { std::filesystem::remove_all(dir_); }

    const std::filesystem::path& ca_file() const { return ca_file_; }

    ssl::context server_context() const {
        ssl::context context(ssl::context::tls_server);
        SSL_CTX_use_certificate(context.native_handle(), leaf_.get());
        SSL_CTX_use_PrivateKey(context.native_handle(), leaf_key_.get());
        return context;
    }

  private:
    Key ca_key_;
    Key leaf_key_;
    Cert ca_;
    Cert leaf_;
    std::filesystem::path dir_;
    std::filesystem::path ca_file_;
};

// Accepts one connection; speaks TLS on it and echoes, or (silent) says nothing at all.
class TestServer {
  public:
    TestServer(asio::io_context& io, ssl::context& context, bool silent)
        : acceptor_(io, tcp::endpoint(asio::ip::address_v4::loopback(), 0)) {
        acceptor_.async_accept(
            [this, &context, silent](const boost::system::error_code& ec, tcp::socket socket) {
                if (ec) {
                    return;
                }
                if (silent) {
                    silent_.emplace(std::move(socket));
                    return;
                }
                stream_.emplace(std::move(socket), context);
                stream_->async_handshake(ssl::stream_base::server,
                                         [this](const boost::system::error_code& ec) {
                                             handshake_ok_ = !ec;
                                             if (!ec) {
                                                 echo();
                                             }
                                         });
            });
    }

    tcp::endpoint endpoint() const { return acceptor_.local_endpoint(); }
    bool handshake_ok() const { return handshake_ok_; }
    std::optional<std::string> server_name() {
        const char* name = SSL_get_servername(stream_->native_handle(), TLSEXT_NAMETYPE_host_name);
        return name ? std::optional<std::string>(name) : std::nullopt;
    }

  private:
    void echo() {
        stream_->async_read_some(
            asio::buffer(buffer_), [this](const boost::system::error_code& ec, std::size_t n) {
                if (ec) {
                    return;
                }
                asio::async_write(*stream_, asio::buffer(buffer_.data(), n),
                                  [this](const boost::system::error_code& ec, std::size_t) {
                                      if (!ec) {
                                          echo();
                                      }
                                  });
            });
    }

    tcp::acceptor acceptor_;
    std::optional<tcp::socket> silent_;
    std::optional<TlsStream> stream_;
    std::array<char, 4096> buffer_{};
    bool handshake_ok_ = false;
};

class NetTlsClient : public ::testing::Test {
  protected:
    std::optional<TlsConnectResult> connect(TestServer& server, ssl::context& client_context,
                                            const std::string& host,
                                            std::chrono::milliseconds timeout = 3000ms) {
        tcp::socket socket(io);
        socket.connect(server.endpoint());
        std::optional<TlsConnectResult> result;
        async_tls_connect(client_context, std::move(socket), host, timeout,
                          [&](TlsConnectResult r) { result = std::move(r); });
        run_until(
            io, [&] { return result.has_value(); }, timeout + 3000ms);
        return result;
    }

    asio::io_context io;
    TestPki pki;
    ssl::context server_context = pki.server_context();
};

TEST_F(NetTlsClient, VerifiesAgainstTheCaFileAndSendsSni) {
    TestServer server(io, server_context, false);
    auto client_context = make_client_tls_context(pki.ca_file());
    auto result = connect(server, client_context, "localhost");
    ASSERT_TRUE(result);
    ASSERT_EQ(result->error, TlsError::ok) << result->message;
    ASSERT_TRUE(result->stream);
    ASSERT_TRUE(run_until(
        io, [&] { return server.handshake_ok(); }, 2000ms));
    EXPECT_EQ(server.server_name(), "localhost");

    asio::write(*result->stream, asio::buffer(std::string("over tls")));
    std::string echoed(8, '\0');
    bool read = false;
    asio::async_read(*result->stream, asio::buffer(echoed),
                     [&](const boost::system::error_code& ec, std::size_t) { read = !ec; });
    ASSERT_TRUE(run_until(
        io, [&] { return read; }, 2000ms));
    EXPECT_EQ(echoed, "over tls");
}

TEST_F(NetTlsClient, IpLiteralIsCheckedAgainstTheIpSanWithoutSni) {
    TestServer server(io, server_context, false);
    auto client_context = make_client_tls_context(pki.ca_file());
    auto result = connect(server, client_context, "127.0.0.1");
    ASSERT_TRUE(result);
    EXPECT_EQ(result->error, TlsError::ok) << result->message;
    ASSERT_TRUE(run_until(
        io, [&] { return server.handshake_ok(); }, 2000ms));
    EXPECT_EQ(server.server_name(), std::nullopt);
}

TEST_F(NetTlsClient, WrongHostNameFailsVerificationAndSaysWhy) {
    TestServer server(io, server_context, false);
    auto client_context = make_client_tls_context(pki.ca_file());
    auto result = connect(server, client_context, "api.example.com");
    ASSERT_TRUE(result);
    EXPECT_EQ(result->error, TlsError::verify_failed) << result->message;
    EXPECT_NE(result->message.find("hostname mismatch"), std::string::npos) << result->message;
    EXPECT_FALSE(result->stream);
}

TEST_F(NetTlsClient, SystemStoreDoesNotTrustTheTestCa) {
    TestServer server(io, server_context, false);
    auto client_context = make_client_tls_context(std::nullopt);
    auto result = connect(server, client_context, "localhost");
    ASSERT_TRUE(result);
    EXPECT_EQ(result->error, TlsError::verify_failed) << result->message;
    EXPECT_NE(result->message.find("unable to get local issuer certificate"), std::string::npos)
        << result->message;
}

TEST_F(NetTlsClient, SilentServerTimesOut) {
    TestServer server(io, server_context, true);
    auto client_context = make_client_tls_context(pki.ca_file());
    const auto start = Clock::now();
    auto result = connect(server, client_context, "localhost", 300ms);
    const auto elapsed = Clock::now() - start;
    ASSERT_TRUE(result);
    EXPECT_EQ(result->error, TlsError::timeout) << result->message;
    EXPECT_GE(elapsed, 290ms);
    EXPECT_LT(elapsed, 1500ms);
}

TEST_F(NetTlsClient, CancelCompletesOnceWithCancelled) {
    TestServer server(io, server_context, true);
    auto client_context = make_client_tls_context(pki.ca_file());
    tcp::socket socket(io);
    socket.connect(server.endpoint());
    int calls = 0;
    std::optional<TlsConnectResult> result;
    auto handle = async_tls_connect(client_context, std::move(socket), "localhost", 5000ms,
                                    [&](TlsConnectResult r) {
                                        ++calls;
                                        result = std::move(r);
                                    });
    run_until(
        io, [] { return false; }, 100ms);
    handle.cancel();
    EXPECT_EQ(calls, 0);
    ASSERT_TRUE(run_until(
        io, [&] { return calls > 0; }, 1000ms));
    run_until(
        io, [] { return false; }, 100ms);
    EXPECT_EQ(calls, 1);
    EXPECT_EQ(result->error, TlsError::cancelled);
}

TEST_F(NetTlsClient, MissingCaFileIsAnError) {
    EXPECT_THROW(make_client_tls_context(std::filesystem::path("/nonexistent/ca.pem")), JailError);
}

// The gateway's shape: a plain client on one side, TLS to the upstream on the other.
TEST_F(NetTlsClient, RelayCarriesBytesBetweenPlainAndTls) {
    TestServer server(io, server_context, false);
    auto client_context = make_client_tls_context(pki.ca_file());
    auto tls = connect(server, client_context, "localhost");
    ASSERT_TRUE(tls && tls->error == TlsError::ok) << (tls ? tls->message : "no result");

    tcp::acceptor acceptor(io, tcp::endpoint(asio::ip::address_v4::loopback(), 0));
    tcp::socket plain(io);
    plain.connect(acceptor.local_endpoint());
    std::optional<RelayResult> result;
    start_relay(acceptor.accept(), std::move(*tls->stream), RelayOptions{},
                [&](const RelayResult& r) { result = r; });

    std::string sent(100000, '\0');
    for (std::size_t i = 0; i < sent.size(); ++i) {
        sent[i] = static_cast<char>('a' + i % 26);
    }
    asio::write(plain, asio::buffer(sent));
    std::string echoed(sent.size(), '\0');
    bool read = false;
    asio::async_read(plain, asio::buffer(echoed),
                     [&](const boost::system::error_code& ec, std::size_t) { read = !ec; });
    ASSERT_TRUE(run_until(
        io, [&] { return read; }, 5000ms));
    EXPECT_TRUE(echoed == sent);

    plain.shutdown(tcp::socket::shutdown_send);
    ASSERT_TRUE(run_until(
        io, [&] { return result.has_value(); }, 3000ms));
    EXPECT_EQ(result->end, RelayEnd::done) << result->message;
    EXPECT_EQ(result->bytes_a_to_b, sent.size());
    EXPECT_EQ(result->bytes_b_to_a, sent.size());
}

}  // namespace
}  // namespace ccjail::net
