// A stand-in for the gateway's upstream (the Anthropic API) in the egress tests: a TLS server on
// 127.0.0.1:<ephemeral port>, run by a thread of the test process, with a certificate for
// "localhost" issued by a throwaway CA that make_test_certificates() creates with the openssl
// CLI. It records each request's head and body and answers with a short server-sent-event
// stream written in pieces, as the real API streams, ending by closing the connection.
//
// Header-only: the daemon test binary lists its non-test sources by name, and a header needs no
// entry there.
#pragma once

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/streambuf.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include "daemon_harness.hpp"

// GCC 12 at -O2 pairs asio's coroutine-frame operator delete with the aligned_alloc inside its
// operator new and reports a mismatch that is not one (the library target turns the warning
// off for the same reason).
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"

namespace ccjail::dtest {

struct TestCertificates {
    fs::path dir;
    fs::path ca;           // the CA certificate (PEM): what gateway_ca_file names
    fs::path server_cert;  // leaf for DNS:localhost only, signed by the CA
    fs::path server_key;
};

// Writes a CA and a localhost server certificate into `dir` (which must exist). Throws with
// openssl's own words when a step fails.
inline TestCertificates make_test_certificates(const fs::path& dir) {
    TestCertificates certs{dir, dir / "ca.pem", dir / "server.pem", dir / "server.key"};
    const fs::path config = dir / "openssl.cnf";
    std::ofstream(config) << "[req]\n"
                             "distinguished_name = dn\n"
                             "prompt = no\n"
                             "[dn]\n"
                             "CN = localhost\n"
                             "[ca_ext]\n"
                             "basicConstraints = critical,CA:TRUE\n"
                             "keyUsage = critical,keyCertSign,cRLSign\n"
                             "subjectKeyIdentifier = hash\n"
                             "[server_ext]\n"
                             "basicConstraints = CA:FALSE\n"
                             "keyUsage = critical,digitalSignature\n"
                             "extendedKeyUsage = serverAuth\n"
                             "subjectAltName = DNS:localhost\n"
                             "authorityKeyIdentifier = keyid\n";
    const std::string openssl = "/usr/bin/openssl";
    const std::vector<std::string> ec_key = {"-newkey", "ec", "-pkeyopt",
                                             "ec_paramgen_curve:prime256v1", "-nodes"};
    auto run = [](std::vector<std::string> argv) {
        const auto result = run_command(argv, std::chrono::seconds(60));
        if (result.exit_code != 0) {
            throw std::runtime_error(argv[1] + " failed: " + result.err);
        }
    };
    std::vector<std::string> ca = {openssl,
                                   "req",
                                   "-x509",
                                   "-config",
                                   config.string(),
                                   "-extensions",
                                   "ca_ext",
                                   "-subj",
                                   "/CN=ccjail egress test CA",
                                   "-days",
                                   "2",
                                   "-keyout",
                                   (dir / "ca.key").string(),
                                   "-out",
                                   certs.ca.string()};
    ca.insert(ca.begin() + 3, ec_key.begin(), ec_key.end());
    run(ca);
    std::vector<std::string> request = {openssl,
                                        "req",
                                        "-new",
                                        "-config",
                                        config.string(),
                                        "-keyout",
                                        certs.server_key.string(),
                                        "-out",
                                        (dir / "server.csr").string()};
    request.insert(request.begin() + 3, ec_key.begin(), ec_key.end());
    run(request);
    run({openssl, "x509", "-req", "-in", (dir / "server.csr").string(), "-CA", certs.ca.string(),
         "-CAkey", (dir / "ca.key").string(), "-set_serial", "2", "-days", "2", "-extfile",
         config.string(), "-extensions", "server_ext", "-out", certs.server_cert.string()});
    return certs;
}

// One request as the upstream read it.
struct UpstreamRequest {
    std::string head;  // request line and headers, up to and including the blank line
    std::string body;
};

class TlsUpstream {
  public:
    // The events of the answer, in the order they are written.
    static constexpr const char* kEvents[] = {
        "event: message_start\ndata: {\"type\":\"message_start\"}\n\n",
        "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"delta\":"
        "{\"type\":\"text_delta\",\"text\":\"hello from the upstream\"}}\n\n",
        "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n"};

    explicit TlsUpstream(const TestCertificates& certs)
        : tls_(boost::asio::ssl::context::tls_server),
          acceptor_(io_, {boost::asio::ip::make_address("127.0.0.1"), 0}) {
        tls_.use_certificate_chain_file(certs.server_cert.string());
        tls_.use_private_key_file(certs.server_key.string(), boost::asio::ssl::context::pem);
        boost::asio::co_spawn(io_, accept_loop(), boost::asio::detached);
        thread_ = std::thread([this] { io_.run(); });
    }
    ~TlsUpstream() {
        io_.stop();
        thread_.join();
    }
    TlsUpstream(const TlsUpstream&) = delete;
    TlsUpstream& operator=(const TlsUpstream&) = delete;

    std::uint16_t port() const { return acceptor_.local_endpoint().port(); }
    std::vector<UpstreamRequest> requests() const {
        std::lock_guard lock(mutex_);
        return requests_;
    }
    std::size_t accepted() const { return accepted_.load(); }
    std::size_t handshakes_failed() const { return handshakes_failed_.load(); }

  private:
    using tcp = boost::asio::ip::tcp;
    using TlsStream = boost::asio::ssl::stream<tcp::socket>;

    boost::asio::awaitable<void> accept_loop() {
        for (;;) {
            boost::system::error_code ec;
            tcp::socket socket = co_await acceptor_.async_accept(
                boost::asio::redirect_error(boost::asio::use_awaitable, ec));
            if (ec) {
                co_return;
            }
            ++accepted_;
            boost::asio::co_spawn(io_, serve(TlsStream(std::move(socket), tls_)),
                                  boost::asio::detached);
        }
    }

    // The Content-Length of a head (0 without one): the test client sends nothing else.
    static std::size_t content_length(const std::string& head) {
        std::string lower = head;
        for (char& c : lower) {
            c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        }
        const auto at = lower.find("\r\ncontent-length:");
        if (at == std::string::npos) {
            return 0;
        }
        return std::stoul(lower.substr(at + 17));
    }

    boost::asio::awaitable<void> serve(TlsStream stream) {
        using boost::asio::redirect_error;
        using boost::asio::use_awaitable;
        boost::system::error_code ec;
        co_await stream.async_handshake(TlsStream::server, redirect_error(use_awaitable, ec));
        if (ec) {
            ++handshakes_failed_;
            co_return;
        }
        boost::asio::streambuf input(64 * 1024);
        const std::size_t head_length = co_await boost::asio::async_read_until(
            stream, input, "\r\n\r\n", redirect_error(use_awaitable, ec));
        if (ec) {
            co_return;
        }
        UpstreamRequest request;
        request.head.assign(static_cast<const char*>(input.data().data()), head_length);
        input.consume(head_length);
        const std::size_t length = content_length(request.head);
        if (input.size() < length) {
            co_await boost::asio::async_read(stream, input,
                                             boost::asio::transfer_exactly(length - input.size()),
                                             redirect_error(use_awaitable, ec));
        }
        request.body.assign(static_cast<const char*>(input.data().data()),
                            std::min(length, input.size()));
        {
            std::lock_guard lock(mutex_);
            requests_.push_back(request);
        }
        // Keep-alive on purpose: the gateway must hand the jail "Connection: close" instead.
        const std::string head =
            "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-cache\r\n"
            "Connection: keep-alive\r\n\r\n";
        co_await boost::asio::async_write(stream, boost::asio::buffer(head),
                                          redirect_error(use_awaitable, ec));
        boost::asio::steady_timer pause(io_);
        for (const char* event : kEvents) {
            if (ec) {
                co_return;
            }
            pause.expires_after(std::chrono::milliseconds(50));
            co_await pause.async_wait(redirect_error(use_awaitable, ec));
            co_await boost::asio::async_write(stream, boost::asio::buffer(std::string_view(event)),
                                              redirect_error(use_awaitable, ec));
        }
        // No framing header: the body ends when the connection does.
        co_await stream.async_shutdown(redirect_error(use_awaitable, ec));
        stream.lowest_layer().close(ec);
    }

    boost::asio::io_context io_;
    boost::asio::ssl::context tls_;
    tcp::acceptor acceptor_;
    std::thread thread_;
    mutable std::mutex mutex_;
    std::vector<UpstreamRequest> requests_;
    std::atomic<std::size_t> accepted_{0};
    std::atomic<std::size_t> handshakes_failed_{0};
};

}  // namespace ccjail::dtest

#pragma GCC diagnostic pop
