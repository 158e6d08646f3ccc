#include <gtest/gtest.h>

#include <array>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/udp.hpp>
#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "common/error.hpp"
#include "net/dns_resolver.hpp"
#include "net/dns_server_address.hpp"
#include "net_test_loop.hpp"

namespace ccjail::net {
namespace {

namespace asio = boost::asio;
using asio::ip::udp;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

constexpr std::uint16_t kTypeA = 1;
constexpr std::uint16_t kTypeAaaa = 28;
constexpr std::uint8_t kNxDomain = 3;
constexpr std::uint8_t kServFail = 2;
constexpr std::uint8_t kRefused = 5;

struct FakeRecords {
    std::uint8_t rcode = 0;
    std::vector<asio::ip::address_v4> a;
    std::vector<asio::ip::address_v6> aaaa;
    bool silent = false;
};

// A UDP name server on loopback that answers A and AAAA questions from a table, NXDOMAIN for
// names it does not know, and nothing at all for "silent" names.
class FakeDnsServer {
  public:
    explicit FakeDnsServer(asio::io_context& io)
        : socket_(io, udp::endpoint(asio::ip::address_v4::loopback(), 0)) {
        receive();
    }

    std::string address() const {
        return "127.0.0.1:" + std::to_string(socket_.local_endpoint().port());
    }
    void add(const std::string& name, FakeRecords records) { records_[name] = std::move(records); }
    int queries_for(const std::string& name) const {
        auto it = queries_.find(name);
        return it == queries_.end() ? 0 : it->second;
    }
    void close() { socket_.close(); }

  private:
    void receive() {
        socket_.async_receive_from(asio::buffer(in_), peer_,
                                   [this](const boost::system::error_code& ec, std::size_t size) {
                                       if (ec) {
                                           return;
                                       }
                                       answer(size);
                                       receive();
                                   });
    }

    void answer(std::size_t size) {
        std::size_t at = 12;
        std::string name;
        while (at < size && in_[at] != 0) {
            const std::size_t length = in_[at];
            name += (name.empty() ? "" : ".") +
                    std::string(reinterpret_cast<const char*>(&in_[at + 1]), length);
            at += length + 1;
        }
        const std::size_t question_end = at + 5;
        if (question_end > size) {
            return;
        }
        const std::uint16_t type = static_cast<std::uint16_t>(in_[at + 1] << 8 | in_[at + 2]);
        ++queries_[name];
        auto it = records_.find(name);
        FakeRecords records =
            it == records_.end() ? FakeRecords{kNxDomain, {}, {}, false} : it->second;
        if (records.silent) {
            return;
        }
        std::vector<std::uint8_t> out(in_.begin(), in_.begin() + question_end);
        out[2] = 0x81;                                             // response, recursion desired
        out[3] = static_cast<std::uint8_t>(0x80 | records.rcode);  // recursion available
        out[8] = out[9] = out[10] = out[11] = 0;
        std::uint16_t count = 0;
        if (type == kTypeA) {
            for (const auto& address : records.a) {
                append_record(out, kTypeA, address.to_bytes());
                ++count;
            }
        } else if (type == kTypeAaaa) {
            for (const auto& address : records.aaaa) {
                append_record(out, kTypeAaaa, address.to_bytes());
                ++count;
            }
        }
        out[6] = static_cast<std::uint8_t>(count >> 8);
        out[7] = static_cast<std::uint8_t>(count);
        socket_.send_to(asio::buffer(out), peer_);
    }

    template <std::size_t N>
    static void append_record(std::vector<std::uint8_t>& out, std::uint16_t type,
                              const std::array<unsigned char, N>& data) {
        const std::uint8_t header[] = {0xc0,
                                       0x0c,  // name: pointer to the question
                                       static_cast<std::uint8_t>(type >> 8),
                                       static_cast<std::uint8_t>(type),
                                       0,
                                       1,  // class IN
                                       0,
                                       0,
                                       0,
                                       60,  // ttl
                                       0,
                                       static_cast<std::uint8_t>(N)};
        out.insert(out.end(), std::begin(header), std::end(header));
        out.insert(out.end(), data.begin(), data.end());
    }

    udp::socket socket_;
    udp::endpoint peer_;
    std::array<std::uint8_t, 1500> in_{};
    std::map<std::string, FakeRecords> records_;
    std::map<std::string, int> queries_;
};

using test::run_until;

class NetDnsResolver : public ::testing::Test {
  protected:
    DnsOptions options(std::chrono::milliseconds timeout = 2000ms, int tries = 1) {
        DnsOptions options;
        options.servers = {server.address()};
        options.timeout = timeout;
        options.tries = tries;
        return options;
    }

    std::optional<ResolveResult> resolve(DnsResolver& resolver, const std::string& host,
                                         std::chrono::milliseconds limit = 5000ms) {
        std::optional<ResolveResult> result;
        resolver.async_resolve(host, [&](ResolveResult r) { result = std::move(r); });
        run_until(
            io, [&] { return result.has_value(); }, limit);
        return result;
    }

    asio::io_context io;
    FakeDnsServer server{io};
};

TEST_F(NetDnsResolver, ReturnsBothFamiliesFromTheConfiguredServer) {
    server.add("dual.test",
               {0,
                {asio::ip::make_address_v4("192.0.2.1"), asio::ip::make_address_v4("192.0.2.2")},
                {asio::ip::make_address_v6("2001:db8::7")},
                false});
    DnsResolver resolver(io, options());
    auto result = resolve(resolver, "dual.test");
    ASSERT_TRUE(result);
    EXPECT_EQ(result->error, ResolveError::ok) << result->message;
    std::vector<std::string> shown;
    for (const auto& address : result->addresses) {
        shown.push_back(address.to_string());
    }
    std::sort(shown.begin(), shown.end());
    EXPECT_EQ(shown, (std::vector<std::string>{"192.0.2.1", "192.0.2.2", "2001:db8::7"}));
    EXPECT_EQ(server.queries_for("dual.test"), 2);  // one A, one AAAA
    EXPECT_EQ(resolver.pending(), 0u);
}

TEST_F(NetDnsResolver, NxdomainIsNotFound) {
    DnsResolver resolver(io, options());
    auto result = resolve(resolver, "missing.test");
    ASSERT_TRUE(result);
    EXPECT_EQ(result->error, ResolveError::not_found) << result->message;
    EXPECT_TRUE(result->addresses.empty());
    EXPECT_GE(server.queries_for("missing.test"), 1);
}

TEST_F(NetDnsResolver, ServfailAndRefusedAreReportedAsSuch) {
    server.add("broken.test", {kServFail, {}, {}, false});
    server.add("private.test", {kRefused, {}, {}, false});
    DnsResolver resolver(io, options());
    auto broken = resolve(resolver, "broken.test");
    auto refused = resolve(resolver, "private.test");
    ASSERT_TRUE(broken && refused);
    EXPECT_EQ(broken->error, ResolveError::server_failure) << broken->message;
    EXPECT_EQ(refused->error, ResolveError::refused) << refused->message;
}

TEST_F(NetDnsResolver, SilentServerTimesOutWithinTheConfiguredTime) {
    server.add("slow.test", {0, {}, {}, true});
    DnsResolver resolver(io, options(300ms, 1));
    const auto start = Clock::now();
    auto result = resolve(resolver, "slow.test");
    const auto elapsed = Clock::now() - start;
    ASSERT_TRUE(result);
    EXPECT_EQ(result->error, ResolveError::timeout) << result->message;
    EXPECT_GE(elapsed, 290ms);
    EXPECT_LT(elapsed, 1500ms);
}

TEST_F(NetDnsResolver, EachTryAsksAgainAndWaitsLonger) {
    server.add("slow.test", {0, {}, {}, true});
    DnsResolver resolver(io, options(200ms, 2));
    const auto start = Clock::now();
    auto result = resolve(resolver, "slow.test");
    const auto elapsed = Clock::now() - start;
    ASSERT_TRUE(result);
    EXPECT_EQ(result->error, ResolveError::timeout) << result->message;
    EXPECT_EQ(server.queries_for("slow.test"), 4);  // A and AAAA, two tries each
    // c-ares doubles the wait for the second round: 200 + 400 ms.
    EXPECT_GE(elapsed, 590ms);
    EXPECT_LT(elapsed, 2500ms);
}

TEST_F(NetDnsResolver, LocalhostComesFromTheHostsFileWithoutAskingTheServer) {
    DnsResolver resolver(io, options());
    auto result = resolve(resolver, "localhost");
    ASSERT_TRUE(result);
    ASSERT_EQ(result->error, ResolveError::ok) << result->message;
    bool has_loopback = false;
    for (const auto& address : result->addresses) {
        has_loopback |= address == asio::ip::make_address("127.0.0.1");
    }
    EXPECT_TRUE(has_loopback);
    EXPECT_EQ(server.queries_for("localhost"), 0);
}

TEST_F(NetDnsResolver, HostsFileCanBeTurnedOff) {
    auto opts = options();
    opts.use_hosts_file = false;
    DnsResolver resolver(io, opts);
    for (const char* name : {"localhost", "LocalHost.", "api.localhost"}) {
        auto result = resolve(resolver, name);
        ASSERT_TRUE(result);
        EXPECT_EQ(result->error, ResolveError::not_found) << name << ": " << result->message;
        EXPECT_TRUE(result->addresses.empty()) << name;
    }
    // RFC 6761: localhost names are never sent to a name server.
    EXPECT_EQ(server.queries_for("localhost"), 0);
    EXPECT_EQ(server.queries_for("api.localhost"), 0);
}

TEST_F(NetDnsResolver, SingleLabelNamesAreAskedAsTheyAre) {
    server.add("gitlab", {0, {asio::ip::make_address_v4("192.0.2.5")}, {}, false});
    DnsResolver resolver(io, options());
    auto result = resolve(resolver, "gitlab");
    ASSERT_TRUE(result);
    ASSERT_EQ(result->error, ResolveError::ok) << result->message;
    ASSERT_EQ(result->addresses.size(), 1u);
    EXPECT_EQ(result->addresses[0].to_string(), "192.0.2.5");
}

TEST_F(NetDnsResolver, IpLiteralNeedsNoServer) {
    DnsResolver resolver(io, options());
    auto result = resolve(resolver, "192.0.2.9");
    ASSERT_TRUE(result);
    ASSERT_EQ(result->error, ResolveError::ok) << result->message;
    ASSERT_EQ(result->addresses.size(), 1u);
    EXPECT_EQ(result->addresses[0].to_string(), "192.0.2.9");
}

TEST_F(NetDnsResolver, NameWithNulIsRejected) {
    DnsResolver resolver(io, options());
    auto result = resolve(resolver, std::string("allowed.test\0evil", 17));
    ASSERT_TRUE(result);
    EXPECT_EQ(result->error, ResolveError::other);
    EXPECT_EQ(server.queries_for("allowed.test"), 0);
}

TEST_F(NetDnsResolver, CallbackNeverRunsInsideAsyncResolve) {
    DnsResolver resolver(io, options());
    bool called = false;
    resolver.async_resolve("127.0.0.1", [&](ResolveResult) { called = true; });
    EXPECT_FALSE(called);
    EXPECT_TRUE(run_until(
        io, [&] { return called; }, 2000ms));
}

TEST_F(NetDnsResolver, CancelAllCompletesEachPendingLookupOnceAndKeepsWorking) {
    server.add("slow.test", {0, {}, {}, true});
    server.add("fast.test", {0, {asio::ip::make_address_v4("192.0.2.3")}, {}, false});
    DnsResolver resolver(io, options(5000ms, 1));
    std::vector<ResolveResult> results;
    for (int i = 0; i < 2; ++i) {
        resolver.async_resolve("slow.test", [&](ResolveResult r) { results.push_back(r); });
    }
    ASSERT_TRUE(run_until(
        io, [&] { return server.queries_for("slow.test") >= 2; }, 2000ms));
    resolver.cancel_all();
    EXPECT_TRUE(results.empty());  // delivered by the loop, not inside cancel_all()
    run_until(
        io, [] { return false; }, 200ms);
    ASSERT_EQ(results.size(), 2u);
    for (const auto& result : results) {
        EXPECT_EQ(result.error, ResolveError::cancelled);
    }
    EXPECT_EQ(resolver.pending(), 0u);
    auto after = resolve(resolver, "fast.test");
    ASSERT_TRUE(after);
    EXPECT_EQ(after->error, ResolveError::ok) << after->message;
}

TEST_F(NetDnsResolver, DestroyingWithALookupPendingDropsItsCallback) {
    server.add("slow.test", {0, {}, {}, true});
    auto resolver = std::make_unique<DnsResolver>(io, options(5000ms, 1));
    auto sentinel = std::make_shared<int>(0);
    std::weak_ptr<int> watch = sentinel;
    bool called = false;
    resolver->async_resolve("slow.test", [&called, sentinel](ResolveResult) { called = true; });
    sentinel.reset();
    ASSERT_TRUE(run_until(
        io, [&] { return server.queries_for("slow.test") >= 1; }, 2000ms));
    resolver.reset();
    EXPECT_TRUE(watch.expired()) << "the callback's captures outlived the resolver";
    server.close();
    // Nothing of the resolver (its 5 s retry timer, its socket waits) is left on the loop.
    io.restart();
    const auto start = Clock::now();
    io.run_for(3000ms);
    EXPECT_LT(Clock::now() - start, 1000ms);
    EXPECT_FALSE(called);
}

TEST_F(NetDnsResolver, CallbackMayDestroyTheResolver) {
    auto resolver = std::make_unique<DnsResolver>(io, options());
    int calls = 0;
    for (int i = 0; i < 3; ++i) {
        resolver->async_resolve("missing.test", [&](ResolveResult) {
            ++calls;
            resolver.reset();
        });
    }
    run_until(
        io, [&] { return calls > 0; }, 3000ms);
    run_until(
        io, [] { return false; }, 200ms);
    EXPECT_EQ(calls, 1);
    EXPECT_FALSE(resolver);
}

TEST_F(NetDnsResolver, LookupsBeyondTheCapFailAtOnce) {
    server.add("slow.test", {0, {}, {}, true});
    auto opts = options(5000ms, 1);
    opts.max_pending = 1;
    DnsResolver resolver(io, opts);
    std::optional<ResolveResult> first;
    resolver.async_resolve("slow.test", [&](ResolveResult r) { first = r; });
    auto second = resolve(resolver, "slow.test", 1000ms);
    ASSERT_TRUE(second);
    EXPECT_EQ(second->error, ResolveError::other);
    EXPECT_NE(second->message.find("too many"), std::string::npos) << second->message;
    EXPECT_FALSE(first);
}

TEST_F(NetDnsResolver, MalformedServerIsRejected) {
    DnsOptions opts;
    opts.servers = {"not-an-address"};
    EXPECT_THROW(DnsResolver(io, opts), JailError);
}

TEST(NetDnsServerAddress, ParsesTheAcceptedForms) {
    auto plain = parse_dns_server("192.0.2.1");
    ASSERT_TRUE(plain);
    EXPECT_EQ(plain->address.to_string(), "192.0.2.1");
    EXPECT_EQ(plain->port, 53);
    auto with_port = parse_dns_server("127.0.0.1:5353");
    ASSERT_TRUE(with_port);
    EXPECT_EQ(with_port->port, 5353);
    auto v6 = parse_dns_server("2001:db8::1");
    ASSERT_TRUE(v6);
    EXPECT_TRUE(v6->address.is_v6());
    EXPECT_EQ(v6->port, 53);
    auto v6_port = parse_dns_server("[::1]:5300");
    ASSERT_TRUE(v6_port);
    EXPECT_EQ(v6_port->address.to_string(), "::1");
    EXPECT_EQ(v6_port->port, 5300);
}

TEST(NetDnsServerAddress, RejectsMalformedText) {
    for (const char* bad : {"", "host.example", "1.2.3.4:", "1.2.3.4:0", "1.2.3.4:65536",
                            "1.2.3.4:53x", "[::1", "[::1]x", "[1.2.3.4]:53", "[::1]:"}) {
        EXPECT_FALSE(parse_dns_server(bad)) << bad;
    }
}

}  // namespace
}  // namespace ccjail::net
